"""Per fine-tuning mode: split the inputs, score each part on its own, and the numbers behind the
capability plots.

Full fine-tuning, frozen and LoRA results are never ranked together: every submission is split on
its rows' ``frozen_or_full_ft`` value and each part is scored by :func:`~geobench.aggregate.core.
aggregate` on its own (a *board*). In default mode a backbone's numbers depend only on its own
scores and the seed, so this equals scoring everything at once; in official mode a submission
that mixes modes is resampled per mode (as the leaderboard always did).

Plot numbers, per board (with two or more backbones) and capability: the backbones that have
every dataset of the capability, the same number of seeds on each and finite scores take part,
ordered by capability score (best first; ties by input, then backbone). Each is a (seeds ×
datasets) array of normalized scores in seed order; from generators seeded by
:data:`PLOT_SEED`: :func:`~geobench.aggregate.stats.poi_matrix` (95 % intervals) and
:func:`~geobench.aggregate.stats.rank_distribution`, both at the board's resample count;
performance profiles at :data:`PROFILE_POINTS` thresholds from ``min(0, lowest score)`` to
``max(1, highest score)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from geobench.errors import ResultsError

if TYPE_CHECKING:
    from geobench.aggregate.core import AggregateResult
    from geobench.aggregate.inputs import Submission
    from geobench.aggregate.normalize import Normalizer
    from geobench.capabilities import Capability

MODE_COLUMN = "frozen_or_full_ft"
MODE_ORDER = ("full_ft", "frozen", "lora")
PLOT_SEED = 20250101  # fixed: the same inputs give the same plots
PROFILE_POINTS = 61
# The pairwise plots (probability of improvement, profiles, ranks) compare the best PLOT_TOP
# entries of each capability: their cost grows with the square of the entries (a community board
# of 1,000 rows would need 1,000 x 1,000 x reps bootstrap values); every score stays in the data.
PLOT_TOP = 25
Key = tuple[str, str]  # (submission, backbone)


@dataclass(frozen=True)
class CapabilityPlots:
    """Numbers behind one capability's plots on one board; ``keys`` are the plotted backbones in
    plot order, rows and columns of the matrices follow it."""

    keys: list[Key]
    excluded: dict[Key, str]  # backbone -> why it is not plotted
    poi: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # P(row > column): point, low, high
    taus: np.ndarray | None = None
    profiles: np.ndarray | None = None  # (backbones, taus): fraction of scores above tau
    ranks: np.ndarray | None = None  # (backbones, ranks): fraction of resamples at rank r + 1


@dataclass
class Board:
    """One fine-tuning mode: its parts of the submissions, their scores and plot numbers."""

    value: str  # the frozen_or_full_ft value as the rows write it
    submissions: list[Submission]
    result: AggregateResult
    plots: dict[str, CapabilityPlots] = field(default_factory=dict)  # capability key -> plots


def mode_order(value: str) -> tuple[int, str]:
    """Sort key of fine-tuning modes: full_ft, frozen, lora, then others by name."""
    low = value.lower()
    return (MODE_ORDER.index(low) if low in MODE_ORDER else len(MODE_ORDER), low)


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
    return {v: parts[v] for v in sorted(parts, key=mode_order)}


def seed_table(result: AggregateResult) -> dict[tuple[str, str, str], list[tuple[int, float, float]]]:
    """(submission, backbone, dataset) -> [(Seed, test metric, normalized score)] by seed."""
    cols = ["submission", "backbone", "dataset", "Seed", "test metric", "score"]
    table = result.scores[cols].sort_values(cols[:4], kind="mergesort")
    out: dict[tuple[str, str, str], list[tuple[int, float, float]]] = {}
    for sub, bb, ds, seed, raw, score in table.itertuples(index=False, name=None):
        out.setdefault((str(sub), str(bb), str(ds)), []).append((int(seed), float(raw), float(score)))
    return out


def _plot_order(result: AggregateResult, cap: Capability) -> list[Key]:
    """Every backbone of the board by capability score, best first; missing last."""
    table = result.capabilities
    keys = list(zip(table["submission"].astype(str), table["backbone"].astype(str), strict=True))
    values = table[cap.display_name].to_numpy(dtype=np.float64)

    def rank(i: int) -> tuple[int, float, int]:
        v = float(values[i])
        return (1, 0.0, i) if math.isnan(v) else (0, -v, i)

    return [keys[i] for i in sorted(range(len(keys)), key=rank)]


def _seed_arrays(cells: dict[tuple[str, str, str], list[tuple[int, float, float]]],
                 keys: Sequence[Key], datasets: Sequence[str]
                 ) -> tuple[dict[Key, np.ndarray], dict[Key, str]]:
    """key -> (seeds × datasets) normalized scores for the backbones with every dataset and the
    same number of seeds on each; the others with the reason they were left out."""
    arrays: dict[Key, np.ndarray] = {}
    excluded: dict[Key, str] = {}
    for sub, bb in keys:
        missing = [d for d in datasets if (sub, bb, d) not in cells]
        if missing:
            excluded[(sub, bb)] = "no results for " + ", ".join(missing)
            continue
        cols = [np.array([s for _, _, s in cells[(sub, bb, d)]]) for d in datasets]
        if len({len(c) for c in cols}) != 1:
            excluded[(sub, bb)] = "unequal numbers of seeds across datasets"
            continue
        arr = np.stack(cols, axis=1)
        if not np.isfinite(arr).all():
            excluded[(sub, bb)] = "missing (NaN) scores"
            continue
        arrays[(sub, bb)] = arr
    return arrays, excluded


def capability_plots(result: AggregateResult, cap: Capability, reps: int,
                     cells: dict[tuple[str, str, str], list[tuple[int, float, float]]],
                     top: int = PLOT_TOP) -> CapabilityPlots:
    """Probability of improvement, performance profiles and rank distribution of the best ``top``
    entries of one capability (the others are listed as excluded, with the reason)."""
    from geobench.aggregate.stats import performance_profile, poi_matrix, rank_distribution

    order = _plot_order(result, cap)
    arrays, excluded = _seed_arrays(cells, order, cap.datasets)
    keys = [k for k in order if k in arrays]
    for k in keys[top:]:
        excluded[k] = (f"outside the best {top} of this capability: the pairwise plots compare those "
                       "(every score is in the data files)")
    keys = keys[:top]
    if len(keys) < 2:
        return CapabilityPlots(keys, excluded)
    # poi_matrix and rank_distribution key their inputs by name: "submission\0backbone"
    score_dict = {f"{s}\0{b}": arrays[(s, b)] for s, b in keys}
    names = list(score_dict)
    got, point, low, high = poi_matrix(score_dict, reps=reps, rng=np.random.default_rng(PLOT_SEED),
                                       ci=0.95)
    idx = [list(got).index(n) for n in names]
    poi = (point[np.ix_(idx, idx)], low[np.ix_(idx, idx)], high[np.ix_(idx, idx)])
    every = np.concatenate([a.ravel() for a in score_dict.values()])
    taus = np.linspace(min(0.0, float(every.min())), max(1.0, float(every.max())), PROFILE_POINTS)
    profiles = np.stack([np.asarray(performance_profile(score_dict[n], taus)) for n in names])
    rnames, probs = rank_distribution(score_dict, reps=reps, rng=np.random.default_rng(PLOT_SEED))
    ranks = np.asarray(probs)[[list(rnames).index(n) for n in names]]
    return CapabilityPlots(keys, excluded, poi, taus, profiles, ranks)


def aggregate_boards(submissions: Sequence[Submission], *, mode: str = "default",
                     normalizer: Normalizer | None = None, reps: int | None = None, seed: int = 0,
                     ci: float = 0.95, unit: str = "seeds", plots: bool = True,
                     plot_top: int = PLOT_TOP,
                     capabilities: Sequence[Capability] | None = None) -> list[Board]:
    """One :class:`Board` per fine-tuning mode (full_ft, frozen, lora, then others), each scored
    by :func:`~geobench.aggregate.core.aggregate` with the given options (``capabilities``:
    ``None`` for the official nine), with its plot numbers (``plots=False``: none).

    Raises:
        ConfigError: bad options. ResultsError, NormalizerError: inputs that cannot be scored.
    """
    from geobench.aggregate.core import aggregate, check_options
    from geobench.aggregate.normalize import load_normalizer

    reps = check_options(mode, reps, ci, unit)
    if not submissions:
        raise ResultsError("nothing to aggregate: no inputs given")
    names = [s.name for s in submissions]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ResultsError(f"two inputs have the same submission name {dupes[0]!r}; each input "
                           "must be a separate submission")
    norm = normalizer if normalizer is not None else load_normalizer()
    boards = []
    for value, part in split_by_mode(submissions).items():
        result = aggregate(part, mode=mode, normalizer=norm, reps=reps, seed=seed, ci=ci,
                           unit=unit, capabilities=capabilities)
        board = Board(value, part, result)
        if plots and len(result.capabilities) > 1:
            cells = seed_table(result)
            board.plots = {c.name: capability_plots(result, c, reps, cells, plot_top)
                           for c in result.scored}
        boards.append(board)
    return boards


def combined(boards: Sequence[Board], order: Sequence[str]) -> dict[str, Any]:
    """The boards' tables as one (``capabilities``, ``per_dataset``, ``raw_per_dataset``:
    DataFrames with rows by input, then backbone, as :func:`~geobench.aggregate.core.aggregate`
    orders them; ``scores`` by board; ``notes``)."""
    import pandas as pd

    from geobench.aggregate.core import KEYS, dataset_columns

    position = {n: i for i, n in enumerate(order)}
    datasets = dataset_columns(set().union(*(set(b.result.scores["dataset"]) for b in boards)))

    def stack(name: str, columns: list[str] | None) -> pd.DataFrame:
        table = pd.concat([getattr(b.result, name) for b in boards], ignore_index=True)
        if columns is not None:
            table = table.reindex(columns=KEYS + columns)
        table = table.assign(_o=table["submission"].map(position))
        return (table.sort_values(["_o", "backbone"], kind="mergesort").drop(columns="_o")
                .reset_index(drop=True))

    return {"capabilities": stack("capabilities", None),
            "per_dataset": stack("per_dataset", datasets),
            "raw_per_dataset": stack("raw_per_dataset", datasets),
            "scores": pd.concat([b.result.scores for b in boards], ignore_index=True),
            "notes": [n for b in boards for n in b.result.notes]}
