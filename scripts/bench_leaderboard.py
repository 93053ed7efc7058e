#!/usr/bin/env python
"""Cost of a leaderboard build against its number of rows: wall time, peak memory, page size.

The inputs are the published GEO-Bench-2 submissions copied ``k`` times (each copy a separate
submission whose backbones are renamed, so every copy adds leaderboard rows), for each ``k`` in
``--copies``; every build runs in its own process (peak RSS from ``getrusage``), one after another
in this run so the ratios are comparable on a shared machine.

    python scripts/bench_leaderboard.py [--official DIR] [--copies 1,2,5] [--reps 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OFFICIAL = ROOT.parent / "shared" / "leaderboard" / "official"


def _copy(official: Path, out: Path, k: int) -> list[Path]:
    """``k`` copies of every official submission, backbones suffixed with the copy number."""
    inputs = []
    for sub in sorted(p for p in official.iterdir() if (p / "results_and_parameters.csv").is_file()):
        for i in range(k):
            dest = out / f"{sub.name[:8]}-copy{i}"
            dest.mkdir(parents=True)
            with open(sub / "results_and_parameters.csv", newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            for r in rows:
                r["backbone"] = f"{r['backbone']}_c{i}" if i else r["backbone"]
            with open(dest / "results_and_parameters.csv", "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
            info = json.loads((sub / "additional_info.json").read_text(encoding="utf-8"))
            info["New model info"] = [{"model_display_name": r, "model_size": "100M", "unique_backbone_key": r}
                                      for r in sorted({r["backbone"] for r in rows})]
            (dest / "additional_info.json").write_text(json.dumps(info), encoding="utf-8")
            inputs.append(dest)
    return inputs


def _build(inputs: list[Path], out: Path, reps: int) -> tuple[float, float, int, int]:
    """(seconds, peak MiB, rows, bytes written) of one build in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "geobench.leaderboard", *map(str, inputs), "--out", str(out),
                           "--reps", str(reps), "--name", "bench"], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows = sum(1 for line in (out / "data").glob("*-overview.csv") for _ in open(line)) - len(
        list((out / "data").glob("*-overview.csv")))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return seconds, max(peak, before) / 1024, rows, size


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official", type=Path, default=DEFAULT_OFFICIAL)
    p.add_argument("--copies", default="1,2,5")
    p.add_argument("--reps", type=int, default=10_000)
    args = p.parse_args()
    print(f"{'copies':>6} {'rows':>6} {'seconds':>9} {'peak MiB':>9} {'pages MiB':>10} {'s/row':>7}")
    first = None
    for k in (int(c) for c in args.copies.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            inputs = _copy(args.official, Path(tmp) / "in", k)
            seconds, peak, rows, size = _build(inputs, Path(tmp) / "out", args.reps)
            first = first or (seconds, rows)
            print(f"{k:>6} {rows:>6} {seconds:>9.1f} {peak:>9.0f} {size / 2**20:>10.1f} {seconds / rows:>7.2f}"
                  f"   time x{seconds / first[0]:.1f} for rows x{rows / first[1]:.1f}")
            shutil.rmtree(Path(tmp) / "out", ignore_errors=True)
    print("peak MiB: the largest child's peak RSS so far (getrusage reports a running maximum)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
