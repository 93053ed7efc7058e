#!/usr/bin/env python
"""Frozen-encoder HPO with and without the frozen-feature cache, side by side in one run.

Runs ``--trials`` HPO-like trainings (different learning rates, the protocol's flips on) of a
frozen ``--model`` on synthetic data of ``--dataset`` at ``--size`` px, once with
``feature_cache=off`` and once with the cache (built in the first cached trial, reused after),
alternating the two paths trial by trial. Prints wall time per path, their ratio, the encoder
forward passes each path made, and whether the scores agree.

    python scripts/bench_frozen.py [--model resnet50] [--dataset so2sat] [--size 32]
                                   [--train 64] [--trials 4] [--epochs 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def _run(model: str, dataset: str, size: int, epochs: int, root: Path, device: str, cache: str) -> object:
    from hydra import compose, initialize_config_dir

    from geobench.config import register, to_run_config
    from geobench.paths import CONF_DIR

    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=[
            "capability=smoke", f"dataset={dataset}", f"model={model}", "model.pretrained=false",
            "protocol.finetune=frozen", f"protocol.max_epochs={epochs}", f"protocol.image_size={size}",
            "protocol.early_stop_patience=100", f"data_root={root}", f"device={device}", "num_workers=0",
            f"feature_cache={cache}", f"feature_cache_dir={root / 'cache'}"])
    return to_run_config(cfg)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet50")
    p.add_argument("--dataset", default="so2sat")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--train", type=int, default=64)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    from geobench.prepare import prepare_dataset
    from geobench.sweep.plan import make_plan
    from geobench.sweep.trainer import train_unit
    from geobench.synthetic import write_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n_val = max(8, args.train // 4)
        write_synthetic(args.dataset, root, samples={"train": args.train, "validation": n_val, "test": n_val},
                        image_size=args.size)
        prepare_dataset(args.dataset, root, progress=False)
        runs = {c: _run(args.model, args.dataset, args.size, args.epochs, root, args.device, c)
                for c in ("off", "float32")}
        seconds = {c: 0.0 for c in runs}
        scores: dict[str, list[float]] = {c: [] for c in runs}
        for t in range(args.trials):
            lr = 10 ** (-4 + 2 * t / max(1, args.trials - 1))
            for c, run in runs.items():
                t0 = time.perf_counter()
                res = train_unit(run, make_plan(run, args.dataset), lr, 16, 42, score_test=False)
                seconds[c] += time.perf_counter() - t0
                scores[c].append(res.best_val_metric)  # type: ignore[attr-defined]
        plan = make_plan(runs["off"], args.dataset).settings
        variants = 4 if plan.flips else 1
        uncached = args.trials * args.epochs * (args.train + n_val)
        cached = variants * args.train + 2 * n_val  # train x flips, validation, test, once
        print(f"{args.model} frozen on synthetic {args.dataset} {args.size}px, {args.train} train samples, "
              f"{args.trials} trials x {args.epochs} epochs, {args.device}")
        print(f"  uncached: {seconds['off']:8.1f} s   encoder passes {uncached:7d}")
        print(f"  cached:   {seconds['float32']:8.1f} s   encoder passes {cached:7d} (cache built once, included)")
        print(f"  ratio cached/uncached: {seconds['float32'] / seconds['off']:.2f} wall, "
              f"{cached / uncached:.3f} encoder passes")
        print(f"  same validation scores: {scores['off'] == scores['float32']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
