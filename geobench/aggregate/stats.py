"""Statistics on (seeds × datasets) score arrays: IQM, stratified bootstrap confidence intervals,
probability of improvement, performance profiles and rank distributions.

Pure numpy, seeded by the caller's ``np.random.Generator``. Every function checks its inputs and
raises ``ValueError`` naming the offending array (wrong shape, NaN/inf, empty, mismatched
datasets). Definitions follow rliable (Agarwal et al. 2021): IQM is the 25 % trimmed mean
(scipy's ``trim_mean(x, 0.25)``: ``floor(0.25 n)`` values cut from each end); the stratified
bootstrap resamples seeds within each dataset; intervals are percentile intervals with linear
interpolation (``np.percentile``'s default, as rliable/arch use). Resampled statistics are
accumulated in float32 (about 1e-7 absolute); point estimates are exact float64.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from geobench.aggregate.resample import (
    UNITS,
    bootstrap_groups,
    quantiles,
    resample_counts,
)

STATISTICS = {"iqm": 0.25, "mean": 0.0}  # name -> proportion trimmed from each end


# --------------------------------------------------------------------------------------------
# input checks


def check_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """``scores`` as a finite float64 (seeds × datasets) array, else ``ValueError``."""
    arr = np.asarray(scores)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (seeds × datasets) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty array of shape {arr.shape}; every dataset needs at least "
                         "one seed")
    bad = ~np.isfinite(arr)
    if bad.any():
        s, d = np.argwhere(bad)[0]
        raise ValueError(f"{name}: {int(bad.sum())} NaN/inf value(s), first at seed row {s}, "
                         f"dataset column {d}; a missing run must be rerun or the dataset dropped")
    return arr


def _check_dict(score_dict: Mapping[str, Any], same_datasets: bool) -> dict[str, np.ndarray]:
    if not isinstance(score_dict, Mapping) or not score_dict:
        raise ValueError("score_dict: expected a non-empty mapping name -> (seeds × datasets) array")
    out = {str(k): check_scores(v, f"scores of {k!r}") for k, v in score_dict.items()}
    if same_datasets:
        widths = {k: v.shape[1] for k, v in out.items()}
        if len(set(widths.values())) > 1:
            raise ValueError(f"score_dict: models must share the same datasets (columns); "
                             f"numbers of datasets: {widths}")
    return out


def _check_common(reps: int, rng: Any, ci: float | None = None) -> None:
    if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 1:
        raise ValueError(f"reps: expected a positive integer, got {reps!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    if ci is not None and not 0.0 < float(ci) < 1.0:
        raise ValueError(f"ci: expected a coverage strictly between 0 and 1, got {ci!r}")


def _trim(statistic: str) -> float:
    if statistic not in STATISTICS:
        raise ValueError(f"statistic: {statistic!r} is not one of {sorted(STATISTICS)}")
    return STATISTICS[statistic]


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit: {unit!r} is not one of {UNITS}")


# --------------------------------------------------------------------------------------------
# point statistics


def iqm(x: np.ndarray, axis: int | None = -1) -> np.ndarray:
    """Interquartile mean along ``axis`` (``None``: over all values): the mean of the values left
    after cutting ``floor(0.25 n)`` from each end, as scipy's ``trim_mean(x, 0.25)``."""
    return trimmed_mean(x, 0.25, axis)


def trimmed_mean(x: np.ndarray, trim: float, axis: int | None = -1) -> np.ndarray:
    """Mean after cutting ``floor(trim * n)`` values from each end along ``axis``."""
    arr = np.asarray(x, dtype=np.float64)
    if axis is None:
        arr, axis = arr.ravel(), 0
    if arr.ndim == 0 or arr.shape[axis] == 0:
        raise ValueError(f"iqm: no values along axis {axis} (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError("iqm: input contains NaN or inf")
    n = arr.shape[axis]
    k = int(trim * n)
    part = np.partition(arr, (k, n - k - 1), axis=axis)
    return np.mean(np.take(part, np.arange(k, n - k), axis=axis), axis=axis)


def grouped_iqm(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """IQM (scipy ``trim_mean(…, 0.25)``) of ``values`` per group code ``0 … n_groups − 1``,
    vectorised; NaN for a group without values."""
    order = np.lexsort((values, codes))
    c, v = codes[order], values[order]
    sizes = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(v)) - starts[c]
    cut = (0.25 * sizes).astype(np.int64)
    keep = (rank >= cut[c]) & (rank < (sizes - cut)[c])
    sums = np.bincount(c[keep], weights=v[keep], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / np.bincount(c[keep], minlength=n_groups)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + ½ P(X = Y) per dataset (the Mann–Whitney U statistic over ``n_x n_y`` seed
    pairs), averaged over datasets: rliable's ``probability_of_improvement``."""
    x = check_scores(x, "x")
    y = check_scores(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same datasets (columns): {x.shape[1]} vs {y.shape[1]}")
    return float(_poi_point(x, y))


def _poi_point(x: np.ndarray, y: np.ndarray) -> float:
    gt = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    eq = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float(np.mean(gt + 0.5 * eq))


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of all (seed, dataset) scores above each threshold ``tau``: shape ``taus.shape``."""
    arr = check_scores(scores)
    t = np.asarray(taus, dtype=np.float64)
    if t.ndim != 1 or not np.isfinite(t).all():
        raise ValueError(f"taus: expected a finite 1-D array, got shape {t.shape}")
    return (arr.ravel()[:, None] > t[None, :]).mean(axis=0)


# --------------------------------------------------------------------------------------------
# bootstrap


def _strata(arr: np.ndarray) -> list[np.ndarray]:
    return [arr[:, d] for d in range(arr.shape[1])]


def bootstrap_distribution(scores: np.ndarray, reps: int, rng: np.random.Generator,
                           statistic: str = "iqm", unit: str = "seeds") -> np.ndarray:
    """``reps`` bootstrap replicates of ``statistic`` over all (seed, dataset) scores.

    ``unit="seeds"``: seeds resampled with replacement within each dataset (stratified);
    ``unit="datasets"``: datasets drawn with replacement, then seeds within each drawn dataset
    (rliable's ``task_bootstrap``).
    """
    arr = check_scores(scores)
    _check_common(reps, rng)
    _check_unit(unit)
    trim = _trim(statistic)
    return bootstrap_groups(_strata(arr), [list(range(arr.shape[1]))], int(reps), rng, trim,
                            unit)[0]


def stratified_bootstrap_ci(scores: np.ndarray, reps: int, rng: np.random.Generator,
                            ci: float = 0.95, statistic: str = "iqm",
                            unit: str = "seeds") -> tuple[float, float, float]:
    """(point estimate, CI low, CI high) of ``statistic`` with a percentile bootstrap interval."""
    _check_common(reps, rng, ci)
    arr = check_scores(scores)
    point = float(trimmed_mean(arr, _trim(statistic), axis=None))
    dist = bootstrap_distribution(arr, reps, rng, statistic, unit)
    low, high = quantiles(dist[None, :], [(1 - ci) / 2, (1 + ci) / 2])[0]
    return point, float(low), float(high)


def bootstrap_distributions(score_dict: Mapping[str, np.ndarray], reps: int,
                            rng: np.random.Generator, statistic: str = "iqm",
                            unit: str = "seeds") -> dict[str, np.ndarray]:
    """name -> ``reps`` bootstrap replicates, for many models (one model after another, each
    vectorised over replicates)."""
    arrays = _check_dict(score_dict, same_datasets=False)
    _check_common(reps, rng)
    _check_unit(unit)
    trim = _trim(statistic)
    return {k: bootstrap_groups(_strata(a), [list(range(a.shape[1]))], int(reps), rng, trim,
                                unit)[0] for k, a in arrays.items()}


def bootstrap_many(score_dict: Mapping[str, np.ndarray], reps: int, rng: np.random.Generator,
                   ci: float = 0.95, statistic: str = "iqm",
                   unit: str = "seeds") -> dict[str, tuple[float, float, float]]:
    """name -> (point, CI low, CI high), as :func:`stratified_bootstrap_ci` for every model."""
    _check_common(reps, rng, ci)
    dists = bootstrap_distributions(score_dict, reps, rng, statistic, unit)
    trim = _trim(statistic)
    names = list(dists)
    bounds = quantiles(np.stack([dists[k] for k in names]), [(1 - ci) / 2, (1 + ci) / 2])
    return {k: (float(trimmed_mean(np.asarray(score_dict[k], dtype=float), trim, axis=None)),
                float(bounds[i, 0]), float(bounds[i, 1])) for i, k in enumerate(names)}


def _counts_per_model(arrays: dict[str, np.ndarray], reps: int,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
    """name -> float32 counts (datasets, seeds, reps) of a stratified resample."""
    out = {}
    for k, a in arrays.items():
        n, t = a.shape
        out[k] = resample_counts(np.full(t, n), reps, rng).reshape(t, n, reps).astype(np.float32)
    return out


def poi_matrix(score_dict: Mapping[str, np.ndarray], reps: int, rng: np.random.Generator,
               ci: float = 0.95) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Probability of improvement of every model (row) over every other (column).

    Returns ``(names, point, low, high)``, each matrix ``(n, n)``; intervals from a stratified
    bootstrap resampling both models' seeds independently within each dataset (rliable's
    ``StratifiedIndependentBootstrap``). The diagonal is 0.5 (a model against itself).
    """
    arrays = _check_dict(score_dict, same_datasets=True)
    _check_common(reps, rng, ci)
    names = list(arrays)
    m = len(names)
    point = np.full((m, m), 0.5)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                point[i, j] = _poi_point(arrays[a], arrays[b])
    dist = np.full((m, m, reps), 0.5, dtype=np.float64)
    step = max(1, min(reps, 4096))
    for c0 in range(0, reps, step):
        r = min(step, reps - c0)
        counts = _counts_per_model(arrays, r, rng)
        for i, a in enumerate(names):
            x = arrays[a]
            others = [b for b in names if b != a]
            # K[t, x_seed, (y, y_seed)] = [x > y] + 0.5 [x == y], per dataset t
            ys = np.concatenate([arrays[b] for b in others], axis=0)  # (sum n_y, T)
            kmat = ((x.T[:, :, None] > ys.T[:, None, :])
                    + 0.5 * (x.T[:, :, None] == ys.T[:, None, :])).astype(np.float32)
            cx = counts[a].transpose(0, 2, 1)  # (T, r, n_x)
            proj = np.matmul(cx, kmat)  # (T, r, sum n_y)
            cy = np.concatenate([counts[b] for b in others], axis=1).transpose(0, 2, 1)
            both = (proj * cy).sum(axis=0)  # (r, sum n_y)
            starts = np.cumsum([0] + [arrays[b].shape[0] for b in others[:-1]])
            per_y = np.add.reduceat(both, starts, axis=1).astype(np.float64)  # exact: sums of halves
            t = x.shape[1]
            for col, b in enumerate(others):
                j = names.index(b)
                dist[i, j, c0:c0 + r] = per_y[:, col] / (t * x.shape[0] * arrays[b].shape[0])
    q = quantiles(dist.reshape(m * m, reps), [(1 - ci) / 2, (1 + ci) / 2]).reshape(m, m, 2)
    low, high = q[..., 0], q[..., 1]
    np.fill_diagonal(low, 0.5)
    np.fill_diagonal(high, 0.5)
    return names, point, low, high


def performance_profile_ci(scores: np.ndarray, taus: np.ndarray, reps: int,
                           rng: np.random.Generator, ci: float = 0.95
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(profile, low, high) over ``taus``, the band from a stratified bootstrap of seeds."""
    arr = check_scores(scores)
    _check_common(reps, rng, ci)
    profile = performance_profile(arr, taus)
    t = np.asarray(taus, dtype=np.float64)
    n, d = arr.shape
    above = (arr.T.reshape(-1)[:, None] > t[None, :]).astype(np.float32)  # (d*n, taus)
    counts = resample_counts(np.full(d, n), reps, rng).astype(np.float32)  # (d*n, reps)
    dist = (above.T @ counts).astype(np.float64) / (n * d)  # (taus, reps); integer sums, exact
    q = quantiles(dist, [(1 - ci) / 2, (1 + ci) / 2])
    return profile, q[:, 0], q[:, 1]


def rank_distribution(score_dict: Mapping[str, np.ndarray], reps: int,
                      rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """How often each model takes each rank (0 = highest IQM) over ``reps`` stratified bootstrap
    replicates: ``(names, probs)`` with ``probs[i, r]`` the fraction of replicates in which model
    ``i`` ranks ``r``; rows and columns sum to 1. Ties are broken by the order of ``score_dict``."""
    arrays = _check_dict(score_dict, same_datasets=True)
    _check_common(reps, rng)
    dists = bootstrap_distributions(arrays, reps, rng)
    names = list(arrays)
    values = np.stack([dists[k] for k in names])  # (m, reps)
    order = np.argsort(-values, axis=0, kind="stable")  # order[r, rep] = model at rank r
    m = len(names)
    probs = np.zeros((m, m))
    for rank in range(m):
        probs[:, rank] = np.bincount(order[rank], minlength=m) / reps
    return names, probs
