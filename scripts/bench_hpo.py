#!/usr/bin/env python
"""Pruned vs unpruned HPO on a synthetic task with a known best learning rate.

1. The "known" best learning rate: a grid of learning rates, each trained to the end (the same
   budget as an HPO trial), on the synthetic so2sat twin with the smoke model.
2. The same HPO (Optuna TPE, same seed, same trial budget) twice through geobench's own sweep
   runner: once with the median pruner, once without. Both on the same machine, interleaved.

Prints CPU/GPU-seconds spent by each HPO, the chosen learning rate, its validation score and the
grid's score at that learning rate, and the ratios (target: pruning spends <= 0.5 of the time for a
chosen config within noise of the unpruned one).

    python scripts/bench_hpo.py [--trials 16] [--epochs 12] [--samples 256]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--grid", type=int, default=7, help="learning rates in the reference grid")
    ap.add_argument("--dataset", default="so2sat")
    args = ap.parse_args()

    from geobench.prepare import prepare_dataset
    from geobench.results_store import read_rows
    from geobench.sweep.plan import make_plan
    from geobench.sweep.trainer import train_unit
    from geobench.synthetic import write_synthetic

    root = Path(tempfile.mkdtemp(prefix="geobench-hpo-"))
    data = root / "data"
    write_synthetic(args.dataset, data, samples={"train": args.samples, "validation": args.samples // 4,
                                                  "test": args.samples // 4}, image_size=args.size)
    prepare_dataset(args.dataset, data, progress=False)
    lr_low, lr_high = 1e-5, 1e-1
    proto = {"name": "bench", "n_trials": args.trials, "n_trials_detection": args.trials, "lr_low": lr_low,
             "lr_high": lr_high, "batch_sizes": [16], "batch_sizes_detection": [4], "weight_decay": 0.01,
             "max_epochs": args.epochs, "early_stop_patience": args.epochs, "lr_patience": 3, "lr_factor": 0.5,
             "seeds": [205], "finetune": "full", "pruner": "none", "sampler_seed": 0, "data_percentage": 100,
             "image_size": args.size, "max_train_batches": None}
    opts = {"data_root": str(data), "model_key": "smoke", "pretrained": False, "protocol": proto,
            "device": "cpu", "num_workers": 0}
    plan = make_plan(args.dataset, "smoke", proto, {})

    # 1. reference grid
    grid = np.geomspace(lr_low, lr_high, args.grid)
    grid_scores, t0 = [], time.perf_counter()
    for lr in grid:
        r = train_unit(opts, plan, float(lr), 16, 205, score_test=False)
        grid_scores.append(r.best_val_metric)
    grid_seconds = time.perf_counter() - t0
    best_i = int(np.argmax(grid_scores))
    print(f"reference grid ({args.grid} lrs, {grid_seconds:.0f} s): " +
          ", ".join(f"{lr:.0e}:{s:.3f}" for lr, s in zip(grid, grid_scores, strict=True)))
    print(f"known best lr {grid[best_i]:.1e} (val {grid_scores[best_i]:.4f})")

    def hpo(pruner: str) -> tuple[float, float, float, float, int]:
        run = root / f"run-{pruner}"
        cmd = [sys.executable, "-m", "geobench.run", "model=smoke", f"dataset={args.dataset}", f"data_root={data}",
               f"hydra.run.dir={run}", f"protocol.n_trials={args.trials}", f"protocol.max_epochs={args.epochs}",
               f"protocol.early_stop_patience={args.epochs}", "protocol.lr_patience=3", f"protocol.lr_low={lr_low}",
               f"protocol.lr_high={lr_high}", "protocol.batch_sizes=[16]", "protocol.seeds=[205]",
               f"protocol.image_size={args.size}", f"protocol.pruner={pruner}", "leaderboard=false",
               "progress=log", "num_workers=0", "device=cpu"]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t
        df = read_rows(run)
        h = df[df.phase == "hpo"]
        spent = float(h.train_seconds.sum())
        best = h.loc[h.val_metric.astype(float).idxmax()]
        return spent, float(best.lr), float(best.val_metric), wall, int(h.epochs.sum())

    res = {p: hpo(p) for p in ("median", "halving", "none")}
    for p, (spent, lr, val, wall, epochs) in res.items():
        ref = float(np.interp(np.log10(lr), np.log10(grid), grid_scores))
        print(f"HPO pruner={p:<7}: {spent:7.1f} s training, {epochs} epochs ({wall:.0f} s wall), "
              f"chosen lr {lr:.2e}, val {val:.4f}, grid score near that lr {ref:.4f}")
    su, _, vu, _, eu = res["none"]
    for p in ("median", "halving"):
        sp, _, vp, _, ep = res[p]
        print(f"{p}: pruned/unpruned training time {sp / su:.2f}, epochs {ep / eu:.2f} (noise-free); "
              f"chosen-config val difference (pruned - unpruned) {vp - vu:+.4f}")
    print(f"spread of the grid's top-3 scores (noise scale): {np.ptp(sorted(grid_scores)[-3:]):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
