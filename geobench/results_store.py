"""The results store: one row per finished training run (DESIGN.md's fixed results row).

Layout: ``RUN_DIR/results/<run_id>.json``, one JSON object per finished run, written to a temp
file and renamed into place, so a row is either complete or absent (no partial rows after a
crash, no append races between workers sharing a file system). A row is never rewritten:
``run_id`` is deterministic per (dataset, phase, trial/seed, config), so re-running a finished
unit finds its row and skips it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from geobench.errors import ResultsError
from geobench.fileio import atomic_write_text

# The official GEO-Bench-2 submission columns, official spelling and order.
OFFICIAL_COLUMNS: tuple[str, ...] = (
    "dataset", "Metric", "test metric", "Seed", "backbone", "decoder", "experiment_name",
    "partition name", "early_stop_patience", "n_trials", "data_percentages",
    "batch_size_selection", "frozen_or_full_ft", "batch_size", "lr", "weight_decay",
)  # fmt: skip
# geobench's own columns after them.
EXTRA_COLUMNS: tuple[str, ...] = (
    "run_id", "phase", "trial", "val_metric", "test_metric_coco", "protocol", "protocol_hash",
    "epochs", "train_seconds", "images_per_second", "device", "geobench_version", "config_hash",
    "started_at", "finished_at",
)  # fmt: skip
RESULT_COLUMNS: tuple[str, ...] = OFFICIAL_COLUMNS + EXTRA_COLUMNS
PHASES = ("hpo", "repeat")
RESULTS_SUBDIR = "results"
DISCARDED_SUBDIR = "discarded"  # results/discarded/: seed runs replaced by a redraw, never aggregated


def results_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / RESULTS_SUBDIR


def _clean(value: Any) -> Any:
    """JSON-safe scalar: numpy scalars to Python, NaN/inf to None."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_row(run_dir: str | Path, row: Mapping[str, Any], *, discarded: bool = False) -> Path:
    """Atomically add one finished run's row to the store. Returns the row's path.

    ``discarded=True`` keeps the row under ``results/discarded/`` instead, out of every reader's
    way (a seed run whose zero score was replaced by a redrawn seed).

    Raises:
        ResultsError: a column is missing or unknown, or ``phase`` is not hpo/repeat.
    """
    missing = [c for c in RESULT_COLUMNS if c not in row]
    unknown = [c for c in row if c not in RESULT_COLUMNS]
    if missing or unknown:
        raise ResultsError(f"results row: missing columns {missing}, unknown columns {unknown}")
    if row["phase"] not in PHASES:
        raise ResultsError(f"results row: phase {row['phase']!r} is not one of {PHASES}")
    run_id = str(row["run_id"])
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise ResultsError(f"results row: invalid run_id {run_id!r}")
    target = results_dir(run_dir) / (DISCARDED_SUBDIR if discarded else "") / f"{run_id}.json"
    payload = json.dumps({c: _clean(row[c]) for c in RESULT_COLUMNS}, sort_keys=False)
    # rows are for everyone sharing the run (0644); a killed writer leaves only a hidden .tmp
    return atomic_write_text(target, payload)


def has_row(run_dir: str | Path, run_id: str) -> bool:
    return (results_dir(run_dir) / f"{run_id}.json").exists()


def iter_rows(run_dir: str | Path) -> Iterable[dict[str, Any]]:
    """The rows of one run directory, sorted by (dataset, phase, trial, Seed, run_id)."""
    d = results_dir(run_dir)
    if not Path(run_dir).is_dir():
        raise ResultsError(f"{run_dir}: run directory not found")
    rows = []
    for path in sorted(d.glob("*.json")):
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ResultsError(f"{path}: unreadable results row ({exc}); delete it to redo that run") from None
        if not isinstance(row, dict) or "run_id" not in row:
            raise ResultsError(f"{path}: not a results row; delete it to redo that run")
        rows.append(row)
    rows.sort(key=lambda r: (str(r.get("dataset")), str(r.get("phase")), _num(r.get("trial")),
                             _num(r.get("Seed")), str(r.get("run_id"))))
    return rows


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) else -1.0


def read_rows(run_dirs: str | Path | Iterable[str | Path]) -> Any:
    """All rows of one or many run directories as a pandas DataFrame (columns RESULT_COLUMNS)."""
    import pandas as pd

    if isinstance(run_dirs, str | Path):
        run_dirs = [run_dirs]
    rows: list[dict[str, Any]] = []
    for d in run_dirs:
        rows.extend(iter_rows(d))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
