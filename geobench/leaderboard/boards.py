"""One leaderboard per fine-tuning mode, built from an aggregate output folder as
:mod:`geobench.leaderboard.reader` reads it: the rows (entries) with their display names, their
scores, and each capability's plot numbers in the pages' order.

No statistics here and no import of :mod:`geobench.aggregate`: every number comes from the
folder; this module only names, orders and reshapes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geobench.capabilities import Capability
from geobench.errors import ResultsError
from geobench.leaderboard.models import ModelCatalog, ModelMeta
from geobench.leaderboard.reader import (
    AggregateData,
    BoardData,
    PlotNumbers,
    Records,
    SubmissionInfo,
)
from geobench.leaderboard.table import is_missing, json_value

MODE_TITLES = {"full_ft": "Full fine-tuning", "frozen": "Frozen backbone", "lora": "LoRA"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
Key = tuple[str, str]


def slug(text: str) -> str:
    """A file-name-safe form of any text (lower case, [a-z0-9_-])."""
    s = re.sub(r"[^a-z0-9_-]+", "-", str(text).strip().lower()).strip("-")
    return s or "x"


def short_submission(name: str) -> str:
    """Official submission ids (UUIDs) shortened to their first 8 characters, as the official
    leaderboard shows them; other names unchanged."""
    return name[:8] if _UUID.match(name) else name


@dataclass(frozen=True)
class Entry:
    """One leaderboard row: a backbone of a submission, in one fine-tuning mode."""

    submission: str
    backbone: str
    meta: ModelMeta
    label: str  # unique within its board
    datasets: frozenset[str]

    @property
    def key(self) -> Key:
        return (self.submission, self.backbone)


@dataclass(frozen=True)
class CapabilityPlotData:
    """Numbers behind one capability's plots; ``labels`` are the entries with complete data, in
    the pages' order, and the rows (and columns) of the matrices follow them."""

    labels: list[str]
    excluded: dict[str, str]  # label -> why it is not in the plots
    poi: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # point, low, high (n × n)
    taus: np.ndarray | None
    profiles: np.ndarray | None  # n × len(taus)
    ranks: np.ndarray | None  # n × n


NO_PLOTS = CapabilityPlotData([], {}, None, None, None, None)


@dataclass
class Board:
    """The leaderboard of one fine-tuning mode."""

    key: str  # slug, used in paths
    value: str  # the frozen_or_full_ft value as written in the rows
    title: str
    columns: list[str]  # the capability table's columns (capabilities.csv)
    entries: list[Entry]
    submissions: list[SubmissionInfo]  # those with rows in this mode
    capability_records: Records
    normalized_records: Records
    raw_records: Records
    seed_scores: dict[tuple[str, str, str], list[tuple[int, float, float]]]  # (Seed, raw, score)
    metric_names: dict[str, str] = field(default_factory=dict)
    anchors: dict[str, str] = field(default_factory=dict)  # submission -> id on submissions.html
    plots: dict[str, CapabilityPlotData] = field(default_factory=dict)

    def entry(self, submission: str, backbone: str) -> Entry:
        for e in self.entries:
            if e.submission == submission and e.backbone == backbone:
                return e
        raise KeyError((submission, backbone))


def ordered(entries: Sequence[Entry], values: dict[Key, Any]) -> list[Entry]:
    """Entries by value, best first; missing last; ties by label."""
    def key(e: Entry) -> tuple[int, float, str]:
        v = json_value(values.get(e.key))
        return (1, 0.0, e.label) if is_missing(v) else (0, -float(v), e.label)

    return sorted(entries, key=key)


def submission_anchors(names: Sequence[str]) -> dict[str, str]:
    """submission name -> a short, unique HTML id (``sub-`` + its short form)."""
    short = {n: "sub-" + slug(short_submission(n)) for n in names}
    values = list(short.values())
    return {n: a if values.count(a) == 1 else "sub-" + slug(n) + f"-{i}"
            for i, (n, a) in enumerate(short.items())}


def _labels(keys: list[Key], metas: list[ModelMeta]) -> list[str]:
    """Display names, with the short submission id added where a name occurs twice."""
    names = [m.display_name for m in metas]
    counts = {n: names.count(n) for n in names}
    labels = [n if counts[n] == 1 else f"{n} ({short_submission(s)})"
              for n, (s, _) in zip(names, keys, strict=True)]
    seen: dict[str, int] = {}
    for i, lab in enumerate(labels):  # still duplicated (same name, same short id): number them
        seen[lab] = seen.get(lab, 0) + 1
        if seen[lab] > 1:
            labels[i] = f"{lab} #{seen[lab]}"
    return labels


def metric_label(metric: str, transform_metric: str, scale: float | None) -> str:
    """The leaderboard-scale metric's name (BioMassters: ``1 − RMSE × 0.2538``)."""
    return f"1 − {transform_metric} × {scale:.4f}" if transform_metric and scale else metric


def _plot_data(board: Board, cap: Capability, numbers: PlotNumbers | None) -> CapabilityPlotData:
    """The plot numbers of ``cap`` in the pages' order (by capability score, ties by label)."""
    if numbers is None:
        return NO_PLOTS
    values = {k: r.get(cap.display_name) for k, r in board.capability_records.items()}
    plotted = [e for e in ordered(board.entries, values) if e.key in set(numbers.keys)]
    excluded = {e.label: numbers.excluded[e.key] for e in board.entries if e.key in numbers.excluded}
    labels = [e.label for e in plotted]
    if len(plotted) < 2:
        return CapabilityPlotData(labels, excluded, None, None, None, None)
    keys, n = [e.key for e in plotted], len(plotted)
    try:
        poi = np.full((3, n, n), 0.5)
        for i, a in enumerate(keys):
            for j, b in enumerate(keys):
                if i != j:
                    poi[:, i, j] = numbers.poi[(a, b)]
        taus = np.array([t for t, _ in numbers.profiles[keys[0]]])
        profiles = np.array([[f for _, f in numbers.profiles[k]] for k in keys])
        ranks = np.array([[numbers.ranks[k][r + 1] for r in range(n)] for k in keys])
    except (KeyError, ValueError) as exc:
        raise ResultsError(f"{board.value}, {cap.name}: the plot files lack numbers for {exc} "
                           "(poi.csv, performance_profiles.csv and rank_distribution.csv cover "
                           "every backbone plot_backbones.csv places)") from None
    return CapabilityPlotData(labels, excluded, (poi[0], poi[1], poi[2]), taus, profiles, ranks)


def _board(data: AggregateData, bd: BoardData, catalog: ModelCatalog, key: str) -> Board:
    infos = {s.name: s.info for s in data.submissions}
    present: dict[Key, set[str]] = {}
    for sub, bb, ds in data.seed_scores:
        present.setdefault((sub, bb), set()).add(ds)
    metas = [catalog.lookup(b, infos.get(s)) for s, b in bd.keys]
    entries = [Entry(s, b, m, lab, frozenset(present.get((s, b), set())))
               for (s, b), m, lab in zip(bd.keys, metas, _labels(bd.keys, metas), strict=True)]
    mine = set(bd.keys)
    subs = [s for s in data.submissions
            if any(p.get("frozen_or_full_ft") == bd.value for p in s.parts)]
    board = Board(
        key, bd.value, MODE_TITLES.get(bd.value.lower(), bd.value), data.capability_columns,
        entries, subs, {k: v for k, v in data.capability_records.items() if k in mine},
        {k: v for k, v in data.normalized_records.items() if k in mine},
        {k: v for k, v in data.raw_records.items() if k in mine}, data.seed_scores,
        {d: metric_label(*m) for d, m in bd.metrics.items()})
    board.plots = {c.name: _plot_data(board, c, bd.plots.get(c.name)) for c in data.capabilities}
    return board


def make_boards(data: AggregateData, catalog: ModelCatalog | None = None) -> list[Board]:
    """One :class:`Board` per fine-tuning mode of ``data``, in its order."""
    catalog = catalog or ModelCatalog()
    anchors = submission_anchors([s.name for s in data.submissions])
    boards: list[Board] = []
    used: set[str] = set()
    for bd in data.boards:
        key = slug(bd.value)
        while key in used:
            key += "_"
        used.add(key)
        board = _board(data, bd, catalog, key)
        board.anchors = anchors
        boards.append(board)
    return boards
