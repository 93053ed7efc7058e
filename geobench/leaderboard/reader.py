"""Read an aggregate output folder (format ``geobench-aggregate/1``, written by
``python -m geobench.aggregate``; its files are described in its ``manifest.json``) into plain
Python values for the pages.

This is the leaderboard's only source of numbers: it imports nothing from
:mod:`geobench.aggregate`, so any tool that writes the same files (or a hand edit of them) is
rendered as it is. Floats are read with ``float()`` (exact for the shortest-repr text the
aggregate stage writes); an empty cell is NaN. Files whose sha256 differs from the manifest are
listed in :attr:`AggregateData.modified`, not refused.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geobench.capabilities import Capability
from geobench.csvsafe import unneutralize
from geobench.errors import ResultsError

FORMAT = "geobench-aggregate/1"
MANIFEST = "manifest.json"
KEYS = ("submission", "backbone")
PLOT_KEYS = ("frozen_or_full_ft", "capability", "submission", "backbone")
# file -> columns the pages need (others are allowed)
COLUMNS: dict[str, tuple[str, ...]] = {
    "capabilities.csv": KEYS,
    "per_dataset.csv": KEYS,
    "raw_per_dataset.csv": KEYS,
    "scores.csv": ("frozen_or_full_ft", *KEYS, "dataset", "Seed", "test metric", "score"),
    "backbones.csv": ("frozen_or_full_ft", *KEYS),
    "datasets.csv": ("dataset", "frozen_or_full_ft", "Metric", "transform_metric",
                     "transform_scale"),
    "plot_backbones.csv": (*PLOT_KEYS, "position", "excluded"),
    "poi.csv": (*PLOT_KEYS, "other_submission", "other_backbone", "probability", "ci_low",
                "ci_high"),
    "performance_profiles.csv": (*PLOT_KEYS, "tau", "fraction"),
    "rank_distribution.csv": (*PLOT_KEYS, "rank", "probability"),
}
JSON_FILES = ("capability_datasets.json", "normalizer.json", "submissions.json")
Key = tuple[str, str]  # (submission, backbone)
Records = dict[Key, dict[str, Any]]
# frozen_or_full_ft, submission, backbone, dataset, Metric ("" if not recorded), Seed, test metric
SeedRow = tuple[str, str, str, str, str, int, float]


@dataclass(frozen=True)
class CapabilityScope:
    """What a scored capability covers (capability_datasets.json): ``synthetic`` (scored on
    geobench's synthetic data) and, for a partial one, the whole capability it is part of."""

    synthetic: bool = False
    of: str = ""  # partial: the whole capability's key ("" when scored whole)
    of_display_name: str = ""
    all_datasets: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        return bool(self.of)


@dataclass(frozen=True)
class SubmissionInfo:
    """One input as the aggregate stage read it."""

    name: str
    sha256: str
    rows: int
    protocols: list[str]  # distinct values of its rows' protocol column ([] without one)
    parts: list[dict[str, Any]]  # per mode: frozen_or_full_ft, rows, backbones
    info: dict[str, Any]  # additional_info.json (+ geobench.json under "geobench")


@dataclass
class PlotNumbers:
    """One capability's plot numbers on one board, keyed by backbone."""

    keys: list[Key] = field(default_factory=list)  # plotted, in the aggregate's plot order
    excluded: dict[Key, str] = field(default_factory=dict)
    poi: dict[tuple[Key, Key], tuple[float, float, float]] = field(default_factory=dict)
    profiles: dict[Key, list[tuple[float, float]]] = field(default_factory=dict)  # (tau, fraction)
    ranks: dict[Key, dict[int, float]] = field(default_factory=dict)  # rank (1 = best) -> share


@dataclass
class BoardData:
    """One fine-tuning mode's leaderboard: its backbones, metric names and plot numbers."""

    value: str  # frozen_or_full_ft
    keys: list[Key] = field(default_factory=list)
    metrics: dict[str, tuple[str, str, float | None]] = field(default_factory=dict)
    plots: dict[str, PlotNumbers] = field(default_factory=dict)  # capability key -> numbers


@dataclass
class AggregateData:
    folder: Path
    options: dict[str, Any]  # mode, reps, seed, ci, unit, ...
    capabilities: list[Capability]
    scopes: dict[str, CapabilityScope]  # capability key -> what it covers
    capability_columns: list[str]  # columns of capabilities.csv
    capability_records: Records
    normalized_records: Records
    raw_records: Records
    seed_scores: dict[tuple[str, str, str], list[tuple[int, float, float]]]  # (Seed, raw, score)
    seed_rows: list[SeedRow]  # scores.csv as it is ordered (exact floats)
    datasets: list[str]
    normalizer: dict[str, Any]
    submissions: list[SubmissionInfo]
    boards: list[BoardData]
    notes: list[str]
    modified: list[str]  # files whose sha256 differs from manifest.json

    @property
    def mode(self) -> str:
        return str(self.options.get("mode", "default"))

    @property
    def reps(self) -> int:
        return int(self.options.get("reps", 0))


def is_aggregate_folder(path: str | Path) -> bool:
    """True if ``path`` is a folder with a manifest.json of this format."""
    try:
        return _manifest(Path(path)).get("format") == FORMAT
    except ResultsError:
        return False


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{folder}: no {MANIFEST}; not an aggregate output folder (write one "
                           "with python -m geobench.aggregate INPUT... --out DIR)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    return data


def _rows(folder: Path, name: str) -> Iterator[dict[str, str]]:
    path = folder / name
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS[name] if c not in (reader.fieldnames or [])]
            if missing:
                raise ResultsError(f"{path}: missing column(s) {', '.join(map(repr, missing))}")
            for row in reader:  # undo the writer's spreadsheet-formula guard
                yield {k: unneutralize(v) if isinstance(v, str) else v for k, v in row.items()}
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing; an aggregate output folder holds every file its "
                           f"{MANIFEST} lists") from None


def _header(folder: Path, name: str) -> list[str]:
    with open(folder / name, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _num(text: str, where: str) -> float:
    """A float cell (empty: NaN)."""
    try:
        return float(text) if text.strip() else math.nan
    except ValueError:
        raise ResultsError(f"{where}: {text!r} is not a number") from None


def _int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ResultsError(f"{where}: {text!r} is not an integer") from None


def _records(folder: Path, name: str) -> Records:
    """(submission, backbone) -> row, every column but the keys as a float (NaN if empty)."""
    out: Records = {}
    for row in _rows(folder, name):
        key = (row["submission"], row["backbone"])
        out[key] = {k: (v if k in KEYS else _num(v, f"{folder / name}: {k}")) for k, v in row.items()}
    return out


def _json_file(folder: Path, name: str) -> Any:
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{folder / name}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{folder / name}: not readable JSON ({exc})") from None


def _seed_scores(folder: Path) -> tuple[dict[tuple[str, str, str], list[tuple[int, float, float]]],
                                         list[SeedRow]]:
    """(submission, backbone, dataset) -> [(Seed, test metric, score)] by Seed, and the rows."""
    out: dict[tuple[str, str, str], list[tuple[int, float, float]]] = {}
    rows: list[SeedRow] = []
    where = str(folder / "scores.csv")
    for r in _rows(folder, "scores.csv"):
        seed, raw = _int(r["Seed"], where), _num(r["test metric"], where)
        out.setdefault((r["submission"], r["backbone"], r["dataset"]), []).append(
            (seed, raw, _num(r["score"], where)))
        rows.append((r["frozen_or_full_ft"], r["submission"], r["backbone"], r["dataset"],
                     r.get("Metric") or "", seed, raw))
    return {k: sorted(v, key=lambda t: t[0]) for k, v in out.items()}, rows  # stable: by Seed


def _capabilities(folder: Path) -> tuple[list[Capability], dict[str, CapabilityScope]]:
    caps, scopes = [], {}
    for c in _json_file(folder, "capability_datasets.json"):
        synthetic = c.get("synthetic") is True
        cap = Capability(str(c["name"]), str(c["display_name"]), tuple(c["datasets"]),
                         synthetic=synthetic)
        whole = c.get("partial") if isinstance(c.get("partial"), dict) else {}
        caps.append(cap)
        scopes[cap.name] = CapabilityScope(synthetic, str(whole.get("of", "")),
                                           str(whole.get("display_name", "")),
                                           tuple(str(d) for d in whole.get("datasets", [])))
    return caps, scopes


def _boards(folder: Path) -> tuple[list[BoardData], list[str]]:
    boards: dict[str, BoardData] = {}
    for r in _rows(folder, "backbones.csv"):
        boards.setdefault(r["frozen_or_full_ft"], BoardData(r["frozen_or_full_ft"])).keys.append(
            (r["submission"], r["backbone"]))
    datasets: list[str] = []
    for r in _rows(folder, "datasets.csv"):
        if r["dataset"] not in datasets:
            datasets.append(r["dataset"])
        board = boards.get(r["frozen_or_full_ft"])
        if board is not None:
            scale = r["transform_scale"].strip()
            board.metrics[r["dataset"]] = (r["Metric"], r["transform_metric"],
                                           _num(scale, str(folder / "datasets.csv")) if scale else None)
    _read_plots(folder, boards)
    return list(boards.values()), datasets


def _plot(boards: dict[str, BoardData], r: dict[str, str]) -> PlotNumbers | None:
    board = boards.get(r["frozen_or_full_ft"])
    return None if board is None else board.plots.setdefault(r["capability"], PlotNumbers())


def _read_plots(folder: Path, boards: dict[str, BoardData]) -> None:
    placed: dict[int, tuple[PlotNumbers, list[tuple[int, Key]]]] = {}  # id -> (plot, positions)
    for r in _rows(folder, "plot_backbones.csv"):
        if (p := _plot(boards, r)) is None:
            continue
        key = (r["submission"], r["backbone"])
        if r["position"].strip():
            position = _int(r["position"], str(folder / "plot_backbones.csv"))
            placed.setdefault(id(p), (p, []))[1].append((position, key))
        else:
            p.excluded[key] = r["excluded"]
    for p, items in placed.values():
        p.keys = [k for _, k in sorted(items)]
    w = str(folder / "poi.csv")
    for r in _rows(folder, "poi.csv"):
        if (p := _plot(boards, r)) is not None:
            pair = ((r["submission"], r["backbone"]), (r["other_submission"], r["other_backbone"]))
            p.poi[pair] = (_num(r["probability"], w), _num(r["ci_low"], w), _num(r["ci_high"], w))
    w = str(folder / "performance_profiles.csv")
    for r in _rows(folder, "performance_profiles.csv"):
        if (p := _plot(boards, r)) is not None:
            p.profiles.setdefault((r["submission"], r["backbone"]), []).append(
                (_num(r["tau"], w), _num(r["fraction"], w)))
    w = str(folder / "rank_distribution.csv")
    for r in _rows(folder, "rank_distribution.csv"):
        if (p := _plot(boards, r)) is not None:
            p.ranks.setdefault((r["submission"], r["backbone"]), {})[_int(r["rank"], w)] = _num(
                r["probability"], w)


def _submissions(folder: Path) -> list[SubmissionInfo]:
    data = _json_file(folder, "submissions.json")
    if not isinstance(data, list):
        raise ResultsError(f"{folder / 'submissions.json'}: expected a list of submissions")
    return [SubmissionInfo(str(s["submission"]), str(s.get("sha256", "")), int(s.get("rows", 0)),
                           [str(p) for p in s.get("protocols", [])], list(s.get("parts", [])),
                           dict(s.get("info", {}))) for s in data]


def _modified(folder: Path, manifest: dict[str, Any]) -> list[str]:
    files = manifest.get("files", {})
    out = []
    for name, entry in sorted(files.items() if isinstance(files, dict) else []):
        want = entry.get("sha256") if isinstance(entry, dict) else None
        path = folder / name
        if want and path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != want:
            out.append(name)
    return out


def read_aggregate(folder: str | Path) -> AggregateData:
    """Everything the pages show, from an aggregate output folder.

    Raises:
        ResultsError: not such a folder (no manifest.json, another format), or a file missing,
            unreadable or without a column the pages need (the message names it).
    """
    root = Path(folder)
    manifest = _manifest(root)
    if manifest.get("format") != FORMAT:
        raise ResultsError(f"{root / MANIFEST}: format {manifest.get('format')!r}, expected "
                           f"{FORMAT!r}")
    caps, scopes = _capabilities(root)
    seed_scores, seed_rows = _seed_scores(root)
    records = {name: _records(root, name) for name in
               ("capabilities.csv", "per_dataset.csv", "raw_per_dataset.csv")}
    boards, datasets = _boards(root)
    return AggregateData(
        folder=root, options=dict(manifest.get("options", {})), capabilities=caps, scopes=scopes,
        capability_columns=_header(root, "capabilities.csv"),
        capability_records=records["capabilities.csv"],
        normalized_records=records["per_dataset.csv"],
        raw_records=records["raw_per_dataset.csv"], seed_scores=seed_scores, seed_rows=seed_rows,
        datasets=datasets, normalizer=dict(_json_file(root, "normalizer.json")),
        submissions=_submissions(root), boards=boards,
        notes=[str(n) for n in manifest.get("notes", [])], modified=_modified(root, manifest))
