"""The per-seed scores table of a leaderboard: ``data/scores.csv`` and ``data/scores-info.json``.

``scores.csv``: every seed run the leaderboard was scored from, one row each, columns
``submission, frozen_or_full_ft, backbone, dataset, Metric, Seed, test metric`` (the leaderboard
scale; floats as the shortest text that reads back as the same float, so the table is exact).
``scores-info.json``: its submissions' metadata (input sha256, rows, protocols, additional_info.json
as ``info``) and their models' display names and sizes as the pages show them, plus the title and
attribution of the leaderboard.

Both are read back as inputs by :mod:`geobench.aggregate.published` (through files only). The
committed ``leaderboards/geobench2`` build (``python -m geobench.leaderboard import-official``)
also writes them into the package, :data:`PACKAGE_COPY` (``geobench/leaderboard/published/``,
package data), so an installed geobench scores a run beside the published GEO-Bench-2 results
without the official repository; a test keeps the two copies equal.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geobench.csvsafe import neutralize
from geobench.errors import ResultsError
from geobench.leaderboard.boards import Board
from geobench.leaderboard.models import ModelMeta
from geobench.leaderboard.reader import AggregateData

SCORES_CSV = "scores.csv"
SCORES_INFO = "scores-info.json"
FILES = (SCORES_CSV, SCORES_INFO)
FORMAT = "geobench-scores/1"
COLUMNS = ("submission", "frozen_or_full_ft", "backbone", "dataset", "Metric", "Seed",
           "test metric")
PACKAGE_COPY = Path(__file__).resolve().parent / "published"


def _scores_csv(data: AggregateData) -> str:
    """The seed rows by submission (input order), then fine-tuning mode, as the aggregate folder
    orders them within; ``Metric`` from the board's datasets.csv where scores.csv lacks it."""
    order = {s.name: i for i, s in enumerate(data.submissions)}
    boards = {b.value: i for i, b in enumerate(data.boards)}
    metric = {(b.value, d): m[0] for b in data.boards for d, m in b.metrics.items()}
    rows = sorted(data.seed_rows, key=lambda r: (order.get(r[1], len(order)),
                                                 boards.get(r[0], len(boards))))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for mode, sub, backbone, dataset, name, seed, value in rows:
        name = name or metric.get((mode, dataset), "")
        writer.writerow([neutralize(sub), neutralize(mode), neutralize(backbone),
                         neutralize(dataset), neutralize(name), str(seed), repr(float(value))])
    return buf.getvalue()


def _models(boards: Sequence[Board], submission: str) -> list[dict[str, str]]:
    return [{"backbone": e.backbone, "frozen_or_full_ft": b.value,
             "display_name": e.meta.display_name, "size": e.meta.size}
            for b in boards for e in b.entries if e.submission == submission]


def score_files(data: AggregateData, boards: Sequence[Board], *, title: str,
                attribution: str) -> dict[str, str]:
    """``data/scores.csv`` and ``data/scores-info.json`` (relative path -> text)."""
    table = _scores_csv(data)
    info = {
        "format": FORMAT, "title": title, "attribution": attribution,
        "scores": {"file": SCORES_CSV, "columns": list(COLUMNS), "rows": len(data.seed_rows),
                   "sha256": hashlib.sha256(table.encode("utf-8")).hexdigest()},
        "submissions": [{"submission": s.name, "sha256": s.sha256, "rows": s.rows,
                         "protocols": s.protocols, "info": s.info,
                         "models": _models(boards, s.name)} for s in data.submissions],
    }
    return {f"data/{SCORES_CSV}": table,
            f"data/{SCORES_INFO}": json.dumps(info, indent=1, ensure_ascii=False) + "\n"}


def read_info(folder: str | Path = PACKAGE_COPY) -> dict[str, Any]:
    """A published scores folder's ``scores-info.json`` (default: the shipped copy).

    Raises:
        ResultsError: missing or not this format.
    """
    path = Path(folder) / SCORES_INFO
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing; the published scores are not installed") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ResultsError(f"{path}: not a {FORMAT} file")
    return data


def published_models(info: dict[str, Any]) -> dict[str, ModelMeta]:
    """backbone -> display name and size, as the published leaderboard shows them."""
    out: dict[str, ModelMeta] = {}
    for sub in info.get("submissions", []):
        for m in sub.get("models", []) if isinstance(sub, dict) else []:
            key = str(m.get("backbone", ""))
            if key and m.get("display_name"):
                out.setdefault(key, ModelMeta(key, str(m["display_name"]), str(m.get("size", ""))))
    return out


def write_package_copy(board: str | Path, dest: str | Path = PACKAGE_COPY) -> list[Path]:
    """Copy a built leaderboard's ``data/scores.csv`` and ``data/scores-info.json`` into ``dest``
    (each file atomically). Returns the paths written."""
    from geobench.fileio import atomic_write_text

    texts = {name: (Path(board) / "data" / name).read_text(encoding="utf-8") for name in FILES}
    return [atomic_write_text(Path(dest) / name, text) for name, text in texts.items()]
