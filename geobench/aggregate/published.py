"""Published results as inputs: a per-seed scores table (``scores.csv`` + ``scores-info.json``,
the files ``python -m geobench.leaderboard`` writes into a leaderboard's ``data/`` folder), each of
its submissions one :class:`~geobench.aggregate.inputs.Submission`.

geobench ships the published GEO-Bench-2 submissions in this form
(``geobench/leaderboard/published/``, written by ``python -m geobench.leaderboard
import-official``), so a run's leaderboard can score its model beside them without the official
repository. ``scores.csv`` columns: ``submission, frozen_or_full_ft, backbone, dataset, Metric,
Seed, test metric`` (leaderboard scale); its floats are read with ``float()``, so every value is
the exact float the published leaderboard was scored from. ``scores-info.json`` gives each
submission's metadata (``info``: its additional_info.json) and the source (``attribution``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobench.csvsafe import unneutralize
from geobench.errors import ResultsError

if TYPE_CHECKING:
    from geobench.aggregate.inputs import Submission

SCORES_CSV = "scores.csv"
SCORES_INFO = "scores-info.json"
COLUMNS = ("submission", "frozen_or_full_ft", "backbone", "dataset", "Metric", "Seed",
           "test metric")


def read_info(folder: str | Path) -> dict[str, Any]:
    """``scores-info.json`` of a published scores folder.

    Raises:
        ResultsError: missing or not a JSON object with a ``submissions`` list.
    """
    path = Path(folder) / SCORES_INFO
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing; a published scores folder holds {SCORES_CSV} and "
                           f"{SCORES_INFO}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("submissions"), list):
        raise ResultsError(f"{path}: expected an object with a 'submissions' list")
    return data


def _read_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """submission -> its rows (file order), ``test metric`` as an exact float, ``_line`` kept."""
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ResultsError(f"{path}: missing column(s) {', '.join(map(repr, missing))}")
            for line, row in enumerate(reader, start=2):
                try:
                    value = float(row["test metric"])
                except ValueError:
                    raise ResultsError(f"{path}: line {line}: 'test metric' is "
                                       f"{row['test metric']!r}, not a number") from None
                item: dict[str, Any] = {c: unneutralize(row[c] or "") for c in COLUMNS}
                item["test metric"], item["_line"] = value, f"{path.name}:{line}"
                out.setdefault(row["submission"], []).append(item)
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing; the published scores are not installed") from None
    return out


def load_published(folder: str | Path, datasets: Iterable[str] | None = None,
                   modes: Iterable[str] | None = None) -> list[Submission]:
    """The published submissions of ``folder``, each restricted to ``datasets`` and fine-tuning
    ``modes`` (``None``: all); submissions left without rows are dropped. Order: as
    ``scores-info.json`` lists them.

    Raises:
        ResultsError: a file is missing or malformed.
    """
    import pandas as pd

    from geobench.aggregate.inputs import Submission, check_rows

    root = Path(folder)
    info = read_info(root)
    rows = _read_rows(root / SCORES_CSV)
    keep_ds = None if datasets is None else set(datasets)
    keep_modes = None if modes is None else set(modes)
    subs = []
    for entry in info["submissions"]:
        name = str(entry.get("submission", ""))
        mine = [r for r in rows.get(name, [])
                if (keep_ds is None or r["dataset"] in keep_ds)
                and (keep_modes is None or r["frozen_or_full_ft"] in keep_modes)]
        if not mine:
            continue
        table = pd.DataFrame(mine, columns=[*COLUMNS, "_line"]).drop(columns="submission")
        table = check_rows(table, str(root / SCORES_CSV), row_label="_line")
        meta = entry.get("info")
        subs.append(Submission(name, table.drop(columns="_line"),
                               dict(meta) if isinstance(meta, dict) else {}, root))
    return subs
