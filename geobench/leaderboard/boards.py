"""One leaderboard per fine-tuning mode: split the inputs, aggregate each part, gather plot data.

Full fine-tuning, frozen and LoRA results are never ranked together: every input submission is
split on its rows' ``frozen_or_full_ft`` value and each part is aggregated on its own by
:func:`geobench.aggregate.core.aggregate`. All statistics come from :mod:`geobench.aggregate`;
this module only reshapes their inputs and outputs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from geobench.errors import ResultsError
from geobench.leaderboard.models import ModelCatalog, ModelMeta

if TYPE_CHECKING:
    import pandas as pd

    from geobench.aggregate.core import AggregateResult
    from geobench.aggregate.inputs import Submission

MODE_COLUMN = "frozen_or_full_ft"
MODE_TITLES = {"full_ft": "Full fine-tuning", "frozen": "Frozen backbone", "lora": "LoRA"}
MODE_ORDER = ("full_ft", "frozen", "lora")
PLOT_SEED = 20250101  # fixed: pages rebuilt from the same inputs are identical
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


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


@dataclass(frozen=True)
class CapabilityPlotData:
    """Numbers behind one capability's plots; ``labels`` are the entries with complete data."""

    labels: list[str]
    excluded: dict[str, str]  # label -> why it is not in the plots
    poi: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # point, low, high (n × n)
    taus: np.ndarray | None
    profiles: np.ndarray | None  # n × len(taus)
    ranks: np.ndarray | None  # n × n


@dataclass
class Board:
    """The leaderboard of one fine-tuning mode."""

    key: str  # slug, used in paths
    value: str  # the frozen_or_full_ft value as written in the rows
    title: str
    result: AggregateResult
    entries: list[Entry]
    submissions: list[Submission]
    metric_names: dict[str, str] = field(default_factory=dict)
    anchors: dict[str, str] = field(default_factory=dict)  # submission -> id on submissions.html
    plots: dict[str, CapabilityPlotData] = field(default_factory=dict)

    @functools.cached_property
    def capability_records(self) -> dict[tuple[str, str], dict[str, Any]]:
        return records(self.result.capabilities)

    @functools.cached_property
    def normalized_records(self) -> dict[tuple[str, str], dict[str, Any]]:
        return records(self.result.per_dataset)

    @functools.cached_property
    def raw_records(self) -> dict[tuple[str, str], dict[str, Any]]:
        return records(self.result.raw_per_dataset)

    @functools.cached_property
    def seed_scores(self) -> dict[tuple[str, str, str], list[tuple[int, float, float]]]:
        """(submission, backbone, dataset) -> [(Seed, test metric, normalized score)] by seed."""
        cols = ["submission", "backbone", "dataset", "Seed", "test metric", "score"]
        table = self.result.scores[cols].sort_values(cols[:4], kind="mergesort")
        out: dict[tuple[str, str, str], list[tuple[int, float, float]]] = {}
        for sub, bb, ds, seed, raw, score in table.itertuples(index=False, name=None):
            out.setdefault((str(sub), str(bb), str(ds)), []).append(
                (int(seed), float(raw), float(score)))
        return out

    def entry(self, submission: str, backbone: str) -> Entry:
        for e in self.entries:
            if e.submission == submission and e.backbone == backbone:
                return e
        raise KeyError((submission, backbone))


def submission_anchors(names: Sequence[str]) -> dict[str, str]:
    """submission name -> a short, unique HTML id (``sub-`` + its short form)."""
    short = {n: "sub-" + slug(short_submission(n)) for n in names}
    values = list(short.values())
    return {n: a if values.count(a) == 1 else "sub-" + slug(n) + f"-{i}"
            for i, (n, a) in enumerate(short.items())}


def records(df: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    """(submission, backbone) -> that row of an aggregate table, as a dict."""
    columns = [str(c) for c in df.columns]
    out = {}
    for values in df.itertuples(index=False, name=None):
        rec = dict(zip(columns, values, strict=True))
        out[(str(rec["submission"]), str(rec["backbone"]))] = rec
    return out


def split_by_mode(submissions: Sequence[Submission]) -> dict[str, list[Submission]]:
    """frozen_or_full_ft value -> the submissions' rows of that mode (empty parts dropped).

    Raises:
        ResultsError: a submission's rows lack the ``frozen_or_full_ft`` column.
    """
    from geobench.aggregate.inputs import Submission

    parts: dict[str, list[Submission]] = {}
    for sub in submissions:
        if MODE_COLUMN not in sub.rows.columns:
            raise ResultsError(f"{sub.source}: the results have no {MODE_COLUMN!r} column; every "
                               "row must say full_ft, frozen or lora")
        values = sub.rows[MODE_COLUMN].astype(str).str.strip()
        for value in sorted(values.unique()):
            rows = sub.rows[values == value].reset_index(drop=True)
            parts.setdefault(value, []).append(Submission(sub.name, rows, sub.info, sub.source))

    def order(value: str) -> tuple[int, str]:
        low = value.lower()
        return (MODE_ORDER.index(low) if low in MODE_ORDER else len(MODE_ORDER), low)

    return {v: parts[v] for v in sorted(parts, key=order)}


def _labels(keys: list[tuple[str, str]], metas: list[ModelMeta]) -> list[str]:
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


def make_board(value: str, submissions: list[Submission], result: AggregateResult,
               catalog: ModelCatalog, used_keys: set[str]) -> Board:
    key = slug(value)
    while key in used_keys:
        key += "_"
    used_keys.add(key)
    infos = {s.name: s.info for s in submissions}
    caps = result.capabilities
    keys = [(str(s), str(b)) for s, b in zip(caps["submission"], caps["backbone"], strict=True)]
    metas = [catalog.lookup(b, infos.get(s)) for s, b in keys]
    present: dict[tuple[str, str], set[str]] = {}
    for s in submissions:
        for (b, d) in s.rows[["backbone", "dataset"]].astype(str).drop_duplicates().itertuples(
                index=False, name=None):
            present.setdefault((s.name, b), set()).add(d)
    entries = [Entry(s, b, m, lab, frozenset(present.get((s, b), set())))
               for (s, b), m, lab in zip(keys, metas, _labels(keys, metas), strict=True)]
    from geobench.aggregate.inputs import metric_transform

    metric_names: dict[str, str] = {}
    for s in submissions:
        for d, m in s.rows[["dataset", "Metric"]].astype(str).drop_duplicates().itertuples(
                index=False, name=None):
            if d not in metric_names:
                rule = metric_transform(d)  # the leaderboard scale (BioMassters: 1 - RMSE * k)
                metric_names[d] = f"1 − {rule[0]} × {rule[1]:.4f}" if rule else m
    title = MODE_TITLES.get(value.lower(), value)
    return Board(key, value, title, result, entries, list(submissions), metric_names)


def seed_arrays(board: Board, datasets: Sequence[str]
                ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """label -> (seeds × datasets) normalized scores for the entries with every dataset and the
    same number of seeds on each; the others are returned with the reason they were left out."""
    arrays: dict[str, np.ndarray] = {}
    excluded: dict[str, str] = {}
    cells = board.seed_scores
    for e in board.entries:
        missing = [d for d in datasets if (e.submission, e.backbone, d) not in cells]
        if missing:
            excluded[e.label] = "no results for " + ", ".join(missing)
            continue
        cols = [np.array([s for _, _, s in cells[(e.submission, e.backbone, d)]]) for d in datasets]
        if len({len(c) for c in cols}) != 1:
            excluded[e.label] = "unequal numbers of seeds across datasets"
            continue
        arr = np.stack(cols, axis=1)
        if not np.isfinite(arr).all():
            excluded[e.label] = "missing (NaN) scores"
            continue
        arrays[e.label] = arr
    return arrays, excluded


def capability_plot_data(board: Board, datasets: Sequence[str], order: Sequence[str],
                         reps: int) -> CapabilityPlotData:
    """Probability of improvement, performance profiles and rank distribution for one capability,
    computed by :mod:`geobench.aggregate.stats` on the entries with complete data, in ``order``."""
    from geobench.aggregate.stats import performance_profile, poi_matrix, rank_distribution

    arrays, excluded = seed_arrays(board, datasets)
    labels = [lab for lab in order if lab in arrays]
    if len(labels) < 2:
        return CapabilityPlotData(labels, excluded, None, None, None, None)
    score_dict = {lab: arrays[lab] for lab in labels}
    names, point, low, high = poi_matrix(score_dict, reps=reps, rng=np.random.default_rng(PLOT_SEED),
                                         ci=0.95)
    idx = [list(names).index(lab) for lab in labels]
    poi = tuple(np.asarray(m)[np.ix_(idx, idx)] for m in (point, low, high))
    every = np.concatenate([a.ravel() for a in score_dict.values()])
    taus = np.linspace(min(0.0, float(every.min())), max(1.0, float(every.max())), 61)
    profiles = np.stack([np.asarray(performance_profile(score_dict[lab], taus)) for lab in labels])
    rnames, probs = rank_distribution(score_dict, reps=reps, rng=np.random.default_rng(PLOT_SEED))
    ridx = [list(rnames).index(lab) for lab in labels]
    ranks = np.asarray(probs)[ridx]
    return CapabilityPlotData(labels, excluded, poi, taus, profiles, ranks)  # type: ignore[arg-type]


def input_hash(sub: Submission) -> str:
    """sha256 of what the pages are built from: the rows (as CSV, stable order) and the info."""
    import hashlib
    import json

    rows = sub.rows
    keys = [c for c in ("frozen_or_full_ft", "backbone", "dataset", "Seed") if c in rows.columns]
    if keys:
        rows = rows.sort_values(keys, kind="mergesort")
    h = hashlib.sha256(rows.to_csv(index=False).encode("utf-8"))
    h.update(json.dumps(_jsonable(sub.info), sort_keys=True).encode("utf-8"))
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
