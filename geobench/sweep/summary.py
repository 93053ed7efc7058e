"""The final table of a sweep: per dataset the best params, test mean ± std over seeds, compute."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from geobench import results_store


def summarize(run_dir: Path) -> list[dict[str, Any]]:
    rows = list(results_store.iter_rows(run_dir))
    out = []
    for ds in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == ds]
        rep = [r for r in mine if r["phase"] == "repeat" and r["test metric"] is not None]
        hpo = [r for r in mine if r["phase"] == "hpo"]
        vals = [float(r["test metric"]) for r in rep]
        mean = sum(vals) / len(vals) if vals else math.nan
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
        secs = sum(float(r["train_seconds"] or 0) for r in mine)
        gpu = sum(float(r["train_seconds"] or 0) for r in mine if str(r.get("device", "")).startswith("cuda"))
        out.append({
            "dataset": ds, "metric": mine[0]["Metric"], "trials": len(hpo), "seeds": len(rep),
            "lr": rep[0]["lr"] if rep else None, "batch_size": rep[0]["batch_size"] if rep else None,
            "test_mean": mean, "test_std": std, "train_hours": secs / 3600, "gpu_hours": gpu / 3600,
        })
    return out


def format_table(summary: list[dict[str, Any]]) -> str:
    head = f"{'dataset':<18} {'metric':<26} {'trials':>6} {'seeds':>5} {'lr':>9} {'bs':>4} {'test (mean ± std)':>20} {'train h':>8} {'GPU h':>7}"
    lines = [head, "-" * len(head)]
    for s in summary:
        lr = f"{s['lr']:.2e}" if s["lr"] is not None else "-"
        bs = str(s["batch_size"]) if s["batch_size"] is not None else "-"
        test = f"{s['test_mean']:.4f} ± {s['test_std']:.4f}" if not math.isnan(s["test_mean"]) else "-"
        lines.append(f"{s['dataset']:<18} {s['metric']:<26} {s['trials']:>6} {s['seeds']:>5} {lr:>9} {bs:>4} "
                     f"{test:>20} {s['train_hours']:>8.3f} {s['gpu_hours']:>7.3f}")
    tot = sum(s["train_hours"] for s in summary)
    gpu = sum(s["gpu_hours"] for s in summary)
    lines.append(f"total training time {tot:.3f} h, of which GPU {gpu:.3f} h")
    return "\n".join(lines)
