"""Aggregation of submissions into capability and per-dataset tables.

``default`` mode: per (submission, backbone) and capability, the IQM of all normalized
(dataset, seed) scores, with a stratified bootstrap percentile interval (seeds resampled within
each dataset; ``unit="datasets"`` also resamples datasets). Columns ``<Cap>``, ``<Cap> ci_low``,
``<Cap> ci_high``. The seed resamples are common random numbers: replicate ``b`` draws the same
seed positions of dataset ``d`` for every backbone (and every capability) that has ``n`` seeds
on it, from a generator seeded by (seed, d, n). Each backbone's interval is still exactly its own
stratified bootstrap; it depends on nothing but the seed and its own scores (taken in seed
order within each dataset, which pairs them with the counts: the order of the input rows does not
matter), not on the other inputs or capabilities, and the counts are drawn once for the whole
leaderboard.

``official`` mode: the published leaderboard's computation (:mod:`geobench.aggregate.official`).
Columns ``<Cap>``, ``<Cap> sem``.

Both: ``per_dataset`` holds the IQM over seeds of the normalized score and ``raw_per_dataset``
the IQM of the leaderboard-scale ``test metric``; a capability lacking one of its datasets for a
backbone is NaN and listed in ``notes``. Rows are ordered by input, then backbone.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geobench.aggregate.normalize import Normalizer, load_normalizer, normalize
from geobench.errors import ConfigError, ResultsError

if TYPE_CHECKING:
    import pandas as pd

    from geobench.aggregate.inputs import Submission
    from geobench.capabilities import Capability

MODES = ("default", "official")
DEFAULT_REPS = {"default": 10_000, "official": 100}
KEYS = ["submission", "backbone"]
# Per-dataset column order of the official leaderboard (its DATASETS constant).
LEADERBOARD_DATASETS: tuple[str, ...] = (
    "biomassters", "so2sat", "forestnet", "benv2", "treesatai", "kuro_siwo", "dynamic_earthnet",
    "pastis", "burn_scars", "spacenet2", "cloudsen12", "fotw", "caffe", "flair2", "spacenet7",
    "substation", "everwatch", "nzcattle", "pastis_r",
)  # fmt: skip


@dataclass
class AggregateResult:
    mode: str
    reps: int
    normalizer: Normalizer
    capabilities: pd.DataFrame  # exactly capabilities.csv
    per_dataset: pd.DataFrame  # exactly per_dataset.csv (normalized per-dataset IQM)
    raw_per_dataset: pd.DataFrame  # same keys, IQM of the leaderboard-scale test metric
    # submission, backbone, frozen_or_full_ft, dataset, Metric, Seed, test metric, score
    scores: pd.DataFrame
    notes: list[str] = field(default_factory=list)  # capabilities left missing, and why
    seed: int = 0
    unit: str = "seeds"
    ci: float = 0.95
    scored: list[Capability] = field(default_factory=list)  # the capabilities, in column order


_Caps = list[tuple[str, tuple[str, ...]]]  # (column name, datasets) per capability


def _columns(caps: Sequence[Capability]) -> _Caps:
    return [(c.display_name, tuple(c.datasets)) for c in caps]


def dataset_columns(present: set[str]) -> list[str]:
    """Per-dataset column order: the official leaderboard's, then other datasets by name."""
    return list(LEADERBOARD_DATASETS) + sorted(present - set(LEADERBOARD_DATASETS))


def _scores_table(submissions: Sequence[Submission], n: Normalizer) -> pd.DataFrame:
    import pandas as pd

    parts = []
    for s in submissions:
        rows = normalize(s.rows, n)
        part = rows[["backbone", "frozen_or_full_ft", "dataset", "Metric", "Seed", "test metric",
                     "score"]]
        parts.append(part.assign(submission=s.name))
    table = pd.concat(parts, ignore_index=True)
    return table[["submission", "backbone", "frozen_or_full_ft", "dataset", "Metric", "Seed",
                  "test metric", "score"]]


def _wide(long: pd.Series, keys: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """(submission, backbone, dataset) -> value  as  keys + one column per dataset."""
    table = long.unstack("dataset").reindex(columns=columns)
    table.columns.name = None
    return keys.merge(table.reset_index(), on=KEYS, how="left")[KEYS + columns]


def _per_dataset(scores: pd.DataFrame, keys: pd.DataFrame, column: str) -> pd.DataFrame:
    import pandas as pd

    from geobench.aggregate.stats import grouped_iqm

    columns = dataset_columns(set(scores["dataset"]))
    grouper = scores.groupby(KEYS + ["dataset"], sort=False)
    codes = grouper.ngroup().to_numpy()
    values = grouper.size().index  # group keys in code order
    iqms = grouped_iqm(codes, scores[column].to_numpy(dtype=np.float64), len(values))
    long = pd.Series(iqms, index=values)
    return _wide(long, keys, columns)


def _shared_counts(per_key: dict[tuple[str, str], dict[str, np.ndarray]], reps: int, seed: int
                   ) -> tuple[np.ndarray, dict[tuple[str, int], np.ndarray]]:
    """Seed-resample counts shared by every backbone: one block per (dataset, number of seeds),
    each from its own generator seeded by (seed, dataset, n). A backbone's interval therefore
    depends only on the seed and its own scores (not on the other inputs), and the counts are
    drawn once for the whole leaderboard instead of once per backbone."""
    from geobench.aggregate.resample import count_dtype, resample_counts

    kinds = sorted({(d, len(v)) for by_ds in per_key.values() for d, v in by_ds.items()})
    dtype = count_dtype(max(n for _, n in kinds))
    blocks, rows_of, at = [], {}, 0
    for d, n in kinds:
        rng = np.random.default_rng([seed, zlib.crc32(d.encode()), n])
        blocks.append(resample_counts([n], reps, rng, dtype))
        rows_of[(d, n)] = np.arange(at, at + n)
        at += n
    return np.concatenate(blocks), rows_of


def _workers(n_items: int) -> int:
    """Threads for the per-backbone bootstrap (numpy releases the GIL in its loops)."""
    return max(1, min(n_items, os.cpu_count() or 1, 8))


def _missing_note(sub: str, cap: str, backbones: list[str], lacking: set[str]) -> str:
    who = backbones[0] if len(backbones) == 1 else f"{len(backbones)} backbones"
    return (f"{sub}: {cap} not computed for {who} (missing dataset(s): "
            f"{', '.join(sorted(lacking))})")


# (key row, [dataset names], [(capability column, strata indices)]) per backbone
_Plan = list[tuple[int, list[str], list[tuple[int, list[int]]]]]


def _default_plan(per_key: dict[tuple[str, str], dict[str, np.ndarray]], keys: pd.DataFrame,
                  unit: str, point: np.ndarray,
                  lacking: dict[tuple[str, str], dict[str, set[str]]], caps: _Caps) -> _Plan:
    """The bootstrap jobs of every backbone; fills the point estimates (``point``) and the
    capabilities each backbone lacks a dataset of (``lacking``)."""
    from geobench.aggregate.stats import iqm

    plan: _Plan = []
    for row, (sub, bb) in enumerate(keys.itertuples(index=False, name=None)):
        by_ds = per_key[(sub, bb)]
        names = sorted(by_ds)
        index = {d: i for i, d in enumerate(names)}
        jobs = []
        for c, (cap, datasets) in enumerate(caps):
            miss = set(datasets) - set(by_ds)
            if miss:
                lacking.setdefault((sub, cap), {})[bb] = miss
                continue
            if unit == "datasets" and len({len(by_ds[d]) for d in datasets}) > 1:
                raise ResultsError(f"{sub}: backbone {bb!r} has unequal seed counts across the "
                                   f"datasets of {cap}; the dataset-level bootstrap needs equal "
                                   "counts (use the default seed-level bootstrap)")
            jobs.append((c, [index[d] for d in datasets]))
            point[row, c] = float(iqm(np.concatenate([by_ds[d] for d in datasets]), axis=None))
        if jobs:
            plan.append((row, names, jobs))
    return plan


def _run_bootstrap(plan: _Plan, per_key: dict[tuple[str, str], dict[str, np.ndarray]],
                   keys: pd.DataFrame, reps: int, seed: int, ci: float, unit: str,
                   low: np.ndarray, high: np.ndarray) -> None:
    """Every planned backbone's interval bounds into ``low``/``high`` (threads, one per backbone)."""
    from geobench.aggregate.resample import bootstrap_groups, quantiles

    shared, rows_of = _shared_counts(per_key, reps, seed) if unit == "seeds" else (None, {})

    def run(item: tuple[int, list[str], list[tuple[int, list[int]]]]) -> np.ndarray:
        """One backbone: its capabilities' bootstrap distributions -> (caps, 2) interval bounds."""
        row, names, jobs = item
        sub, bb = keys.iloc[row]["submission"], keys.iloc[row]["backbone"]
        strata = [per_key[(sub, bb)][d] for d in names]
        groups = [g for _, g in jobs]
        if shared is not None:
            where = [rows_of[(d, len(v))] for d, v in zip(names, strata, strict=True)]
            dist = bootstrap_groups(strata, groups, reps, None, 0.25, unit, counts=shared,
                                    strata_rows=where)
        else:
            rng = np.random.default_rng([seed, zlib.crc32(f"{sub}\0{bb}".encode())])
            dist = bootstrap_groups(strata, groups, reps, rng, 0.25, unit)
        return quantiles(dist, [(1 - ci) / 2, (1 + ci) / 2])

    with ThreadPoolExecutor(max_workers=_workers(len(plan))) as pool:
        for (row, _, jobs), q in zip(plan, pool.map(run, plan), strict=True):
            for (c, _), (lo, hi) in zip(jobs, q, strict=True):
                low[row, c], high[row, c] = lo, hi


def _default_mode(scores: pd.DataFrame, keys: pd.DataFrame, reps: int, seed: int, ci: float,
                  unit: str, notes: list[str], caps: _Caps) -> pd.DataFrame:
    point = np.full((len(keys), len(caps)), np.nan)
    low, high = point.copy(), point.copy()
    values = scores["score"].to_numpy(dtype=np.float64)
    seeds = scores["Seed"].to_numpy(dtype=np.int64)
    per_key: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for (sub, bb, ds), pos in scores.groupby(KEYS + ["dataset"], sort=False).indices.items():
        # seed order (then score), as the plots: the intervals do not depend on the rows' order
        per_key.setdefault((sub, bb), {})[ds] = values[pos[np.lexsort((values[pos], seeds[pos]))]]
    lacking: dict[tuple[str, str], dict[str, set[str]]] = {}
    plan = _default_plan(per_key, keys, unit, point, lacking, caps)
    _run_bootstrap(plan, per_key, keys, reps, seed, ci, unit, low, high)
    for (sub, cap), per_bb in lacking.items():
        union = set().union(*per_bb.values())
        notes.append(_missing_note(sub, cap, sorted(per_bb), union))
    out = keys.copy()
    for c, (cap, _) in enumerate(caps):
        out[cap] = point[:, c]
        out[f"{cap} ci_low"] = low[:, c]
        out[f"{cap} ci_high"] = high[:, c]
    return out


def _official_mode(submissions: Sequence[Submission], scores: pd.DataFrame, keys: pd.DataFrame,
                   reps: int, notes: list[str], caps: _Caps) -> pd.DataFrame:
    from geobench.aggregate import official

    out = keys.copy()
    for cap, _ in caps:
        out[cap] = np.nan
        out[f"{cap} sem"] = np.nan
    for s in submissions:
        rows = scores[scores["submission"] == s.name]
        mask = out["submission"] == s.name
        for cap, datasets in caps:
            res = official.capability(rows, datasets, reps)
            if res is None:
                absent = set(datasets) - set(rows["dataset"])
                notes.append(f"{s.name}: {cap} not computed (the submission has no results for "
                             f"{', '.join(sorted(absent))})")
                continue
            mean, err = res
            out.loc[mask, cap] = out.loc[mask, "backbone"].map(mean)
            out.loc[mask, f"{cap} sem"] = out.loc[mask, "backbone"].map(err)
            lacking = {b: set(datasets) - set(rows.loc[rows["backbone"] == b, "dataset"])
                       for b in out.loc[mask, "backbone"] if np.isnan(mean.get(b, np.nan))}
            if lacking:
                notes.append(_missing_note(s.name, cap, sorted(lacking), set().union(*lacking.values())))
    return out


def check_options(mode: str, reps: int | None, ci: float, unit: str) -> int:
    """Validate the aggregation options; returns ``reps`` (``None``: the mode's default).

    Raises:
        ConfigError: unknown mode/unit, or reps/ci out of range.
    """
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if unit not in ("seeds", "datasets"):
        raise ConfigError(f"bootstrap unit {unit!r} is not one of seeds, datasets")
    reps = DEFAULT_REPS[mode] if reps is None else reps
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise ConfigError(f"reps must be a positive integer, got {reps!r}")
    if not 0.0 < ci < 1.0:
        raise ConfigError(f"ci must be strictly between 0 and 1, got {ci!r}")
    return reps


def aggregate(submissions: list[Submission], mode: str = "default",
              normalizer: Normalizer | None = None, reps: int | None = None, seed: int = 0,
              ci: float = 0.95, unit: str = "seeds",
              capabilities: Sequence[Capability] | None = None) -> AggregateResult:
    """Score ``submissions`` (each kept separate) per capability and per dataset.

    Args:
        mode: ``default`` (IQM with stratified bootstrap CIs) or ``official`` (the published
            leaderboard's mean/SEM over its seeded resamples).
        normalizer: bounds per dataset; ``None``: the shipped official normalizer.
        reps: bootstrap resamples; ``None``: 10,000 (default) or 100 (official).
        seed: seed of the default mode (see the module docstring: a backbone's interval does
            not depend on the other inputs); official mode uses the leaderboard's fixed random
            states.
        ci: interval coverage (default mode).
        unit: ``seeds`` (stratified within datasets) or ``datasets`` (datasets, then seeds).
        capabilities: the capabilities to score (:mod:`geobench.aggregate.scope`); ``None``:
            the nine official ones.

    Raises:
        ConfigError: unknown mode/unit, or reps/ci out of range.
        ResultsError, NormalizerError: inputs that cannot be scored.
    """
    import pandas as pd

    from geobench.capabilities import official_capabilities

    reps = check_options(mode, reps, ci, unit)
    scored = list(capabilities) if capabilities is not None else official_capabilities()
    if not submissions:
        raise ResultsError("nothing to aggregate: no inputs given")
    names = [s.name for s in submissions]
    if len(set(names)) != len(names):
        raise ResultsError(f"submission names must be unique, got {names}")
    norm = normalizer if normalizer is not None else load_normalizer()
    scores = _scores_table(submissions, norm)
    order = {n: i for i, n in enumerate(names)}
    keys = (scores[KEYS].drop_duplicates()
            .assign(_o=lambda d: d["submission"].map(order))
            .sort_values(["_o", "backbone"], kind="mergesort").drop(columns="_o")
            .reset_index(drop=True))
    notes: list[str] = []
    if mode == "default":
        caps = _default_mode(scores, keys, reps, seed, ci, unit, notes, _columns(scored))
        per_ds = _per_dataset(scores, keys, "score")
    else:
        caps = _official_mode(submissions, scores, keys, reps, notes, _columns(scored))
        from geobench.aggregate.official import per_dataset_iqm

        parts = [per_dataset_iqm(scores[scores["submission"] == s.name]).to_frame("v")
                 .assign(submission=s.name).reset_index() for s in submissions]
        long = pd.concat(parts).set_index(KEYS + ["dataset"])["v"]
        per_ds = _wide(long, keys, dataset_columns(set(scores["dataset"])))
    raw = _per_dataset(scores, keys, "test metric")
    return AggregateResult(mode=mode, reps=reps, normalizer=norm, capabilities=caps,
                           per_dataset=per_ds, raw_per_dataset=raw, scores=scores, notes=notes,
                           seed=seed, unit=unit, ci=ci, scored=scored)
