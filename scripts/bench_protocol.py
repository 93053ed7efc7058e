#!/usr/bin/env python
"""A reduced protocol on synthetic data of the official image sizes, extrapolated to the full
protocol in device-hours; the device-resident path against the loader path; k concurrent trials
against one — side by side in one run.

For every dataset of ``--capability`` (default core): synthetic data at the dataset's official
image size (``--samples`` per split), then one training unit (``--epochs`` epochs) with the
loader path and one with the splits held on the device, alternating; the measured train images/s
of each path give the full protocol's device-hours (official split sizes, the geobench2 budgets,
``max_epochs`` per run: an upper bound). With ``--concurrent K`` the first dataset also runs K
units at once in K processes on the same device and reports the aggregate images/s against one.

    python scripts/bench_protocol.py --model resnet50 [--capability core] [--device cuda]
        [--samples 64] [--epochs 1] [--batch 16] [--concurrent 2] [--datasets a,b]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UNIT = r"""
import json, sys, time
from hydra import compose, initialize_config_dir
from geobench.config import register, to_run_config
from geobench.paths import CONF_DIR
from geobench.sweep.plan import make_plan
from geobench.sweep.trainer import train_unit
register()
ds, root, model, device, epochs, batch, resident = sys.argv[1:8]
with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
    cfg = compose(config_name="config", overrides=[f"dataset={ds}", f"model={model}", "model.pretrained=false",
        f"data_root={root}", f"device={device}", f"protocol.max_epochs={epochs}", "protocol.normalization=train_stats",
        "protocol.early_stop_patience=100", f"resident={resident}", "verify=false"])
run = to_run_config(cfg)
t0 = time.perf_counter()
res = train_unit(run, make_plan(run, ds), 1e-4, int(batch), 42, score_test=False)
print(json.dumps({"img_s": res.images_per_second, "seconds": time.perf_counter() - t0}))
"""


def _unit(ds: str, root: Path, args: argparse.Namespace, resident: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", UNIT, ds, str(root), args.model, args.device, str(args.epochs),
                             str(args.batch), resident], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def _hours(ds: str, img_s: float, model: str) -> float:
    from geobench.manifest import load_manifest
    from geobench.protocol import official_settings

    s, splits = official_settings(ds, model), load_manifest(ds).splits
    per_epoch = (splits["train"] + splits["validation"]) / img_s
    return (s.n_trials + len(s.seeds)) * s.max_epochs * per_epoch / 3600


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet50")
    p.add_argument("--capability", default="core")
    p.add_argument("--datasets", default=None, help="comma-separated subset")
    p.add_argument("--device", default="auto")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--concurrent", type=int, default=0)
    args = p.parse_args()

    from geobench.capabilities import load_capability
    from geobench.manifest import load_manifest
    from geobench.prepare import prepare_dataset
    from geobench.synthetic import write_synthetic

    datasets = args.datasets.split(",") if args.datasets else list(load_capability(args.capability).datasets)
    print(f"{args.model} on {args.device}: {args.samples} synthetic samples per split at the official size, "
          f"{args.epochs} epoch(s), batch {args.batch}")
    print(f"{'dataset':<18} {'size':>5} {'loader img/s':>12} {'resident img/s':>14} {'ratio':>6} "
          f"{'full-protocol h (loader)':>24} {'(resident)':>11}")
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for ds in datasets:
            m = load_manifest(ds)
            size = m.protocol.image_size or m.image_size[0]
            write_synthetic(ds, root, samples={"train": args.samples, "validation": max(8, args.samples // 4),
                                               "test": 8}, image_size=size)
            prepare_dataset(ds, root, progress=False, verify=False)
            speeds = {}
            for resident in ("off", "on"):
                speeds[resident] = _result(_unit(ds, root, args, resident))["img_s"]
            h = (_hours(ds, speeds["off"], args.model), _hours(ds, speeds["on"], args.model))
            totals = [totals[0] + h[0], totals[1] + h[1]]
            print(f"{ds:<18} {size:>5} {speeds['off']:>12.1f} {speeds['on']:>14.1f} "
                  f"{speeds['on'] / speeds['off']:>6.2f} {h[0]:>24.1f} {h[1]:>11.1f}")
        print(f"{'total':<18} {'':>5} {'':>12} {'':>14} {'':>6} {totals[0]:>24.1f} {totals[1]:>11.1f}")
        if args.concurrent > 1:
            ds = datasets[0]
            t0 = time.perf_counter()
            one = _result(_unit(ds, root, args, "auto"))
            t1 = time.perf_counter() - t0
            t0 = time.perf_counter()
            many = [_result(q) for q in [_unit(ds, root, args, "auto") for _ in range(args.concurrent)]]
            tk = time.perf_counter() - t0
            print(f"{args.concurrent} concurrent units on {ds}: {tk:.1f} s for {args.concurrent} units vs "
                  f"{t1:.1f} s for one: throughput x{args.concurrent * t1 / tk:.2f} "
                  f"(per-unit img/s {one['img_s']:.1f} alone, {sum(r['img_s'] for r in many) / len(many):.1f} shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
