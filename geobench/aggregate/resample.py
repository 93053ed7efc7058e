"""The vectorised core of the bootstrap: resample counts per stratum, a trimmed-mean kernel, and
exact percentiles of long bootstrap distributions.

A resample of a stratum of ``n`` scores (``n`` draws with replacement) is represented by how often
each original score was drawn (a count vector summing to ``n``), not by the drawn values. For
``n <= 6`` one uniform integer in ``[0, n**n)`` is one equally likely draw sequence (its base-``n``
digits) and a lookup table turns it into the count vector, so a stratum costs one random number per
resample.

With counts, the trimmed mean of the union of strata needs no sort: sort the original values once
(``v_0 <= ... <= v_{N-1}``) and keep the running count ``c_j`` of drawn values at sorted positions
``<= j``; with ``k = floor(trim * N)`` (the cut of scipy's ``trim_mean``) and
``h_j = clip(c_j, k, N - k) - k``,

    trimmed mean = v_{N-1} - sum_j h_j (v_{j+1} - v_j) / (N - 2k)

(summation by parts of the weight ``h_j - h_{j-1}`` each sorted position gets). Per resample that
is a running add, a clip and a matrix-vector product over ``N`` small integers, vectorised over
resamples (rows = sorted positions, columns = resamples).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Strata of up to this many draw sequences (n**n) use the lookup table: n <= 6.
_TABLE_MAX = 50_000
# Resamples per chunk: keeps one model's counts (~100 rows) and the kernel's buffers in cache.
CHUNK = 8192
UNITS = ("seeds", "datasets")


@functools.cache
def _count_table(n: int) -> np.ndarray:
    """``(n, n**n)`` uint8: row ``i`` = how often element ``i`` occurs in draw sequence ``u``."""
    seqs = np.arange(n**n)[:, None] // (n ** np.arange(n))[None, :] % n
    table = np.stack([(seqs == i).sum(axis=1) for i in range(n)]).astype(np.uint8)
    table.setflags(write=False)
    return table


@functools.cache
def _packed_table(n: int) -> np.ndarray:
    """``(n**n,)`` uint64: the ``n`` counts of draw sequence ``u`` as the first bytes of one
    word, so one lookup yields a whole count vector (``n <= 8``)."""
    b = np.zeros((n**n, 8), dtype=np.uint8)
    b[:, :n] = _count_table(n).T
    packed = b.view(np.uint64).ravel().copy()
    packed.setflags(write=False)
    return packed


def count_dtype(max_total: int) -> type[np.unsignedinteger]:
    """The smallest unsigned dtype that holds running counts up to ``max_total``."""
    if max_total <= 255:
        return np.uint8
    return np.uint16 if max_total <= 65535 else np.uint32


def resample_counts(sizes: Sequence[int] | np.ndarray, reps: int, rng: np.random.Generator,
                    dtype: type = np.uint8) -> np.ndarray:
    """Counts of a stratified bootstrap: array ``(sum(sizes), reps)``.

    Stratum ``s`` owns rows ``offset_s .. offset_s + sizes[s] - 1``; in every column its counts
    sum to ``sizes[s]`` (that many draws with replacement), independently across strata and
    columns.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out: np.ndarray = np.empty((int(offsets[-1]), reps), dtype=dtype)
    for n in (int(v) for v in np.unique(sizes)):
        strata = np.flatnonzero(sizes == n)
        rows = offsets[strata][:, None] + np.arange(n)[None, :]
        if n == 1:
            out[rows[:, 0]] = 1
        elif n**n <= _TABLE_MAX:
            seq = rng.integers(0, n**n, size=(len(strata), reps), dtype=np.uint16).astype(np.intp)
            packed = np.take(_packed_table(n), seq, mode="clip")  # (strata, reps) words
            unpacked = packed.view(np.uint8).reshape(len(strata), reps, 8)[:, :, :n]
            unpacked = unpacked.transpose(0, 2, 1)  # (strata, n, reps)
            if rows[0, 0] + rows.size == rows[-1, -1] + 1:  # contiguous block of rows
                np.copyto(out[rows[0, 0]:rows[-1, -1] + 1].reshape(len(strata), n, reps),
                          unpacked, casting="unsafe")
            else:
                out[rows] = unpacked
        else:
            draws = rng.integers(0, n, size=(len(strata), n, reps), dtype=np.int32)
            for i in range(n):
                out[rows[:, i]] = (draws == i).sum(axis=1)
    return out


def resample_counts_datasets(n: int, n_strata: int, reps: int, rng: np.random.Generator,
                             dtype: type = np.uint8) -> np.ndarray:
    """Counts of a two-level bootstrap (rliable's ``task_bootstrap``): ``n_strata`` slots each
    draw a stratum with replacement and then its ``n`` scores with replacement; all strata have
    ``n`` scores. Returns ``(n_strata * n, reps)``, rows grouped by stratum."""
    inner = resample_counts(np.full(n_strata * n_strata, n), reps, rng, dtype)
    inner = inner.reshape(n_strata, n_strata, n, reps)  # slot, stratum, element, rep
    pick = rng.integers(0, n_strata, size=(n_strata, reps))
    out: np.ndarray = np.zeros((n_strata, n, reps), dtype=dtype)
    strata = np.arange(n_strata)[:, None]
    for slot in range(n_strata):
        chosen = (pick[slot][None, :] == strata).astype(dtype)  # (stratum, rep)
        out += inner[slot] * chosen[:, None, :]
    return out.reshape(n_strata * n, reps)


@dataclass(frozen=True)
class TrimmedMeanPlan:
    """The sorted order of one group of values (e.g. one model's scores on one capability).

    Only sorted positions ``first <= j < stop`` need the kernel: before ``first`` the running
    count can never exceed ``k`` (``h_j = 0``), from ``stop`` on it is always at least ``N - k``
    (``h_j = N - 2k``, folded into ``const``). Both follow from the strata: a stratum of ``n``
    scores always contributes exactly ``n`` draws, so positions before its first score see none
    of them and positions after its last score see all of them.
    """

    rows: np.ndarray  # (N,) rows of the counts array, in ascending order of value
    delta: np.ndarray  # (N - 1,) float32 gaps between consecutive sorted values
    vmax: float
    k: int  # values cut from each end
    n: int  # N
    first: int
    stop: int
    const: float  # (N - 2k) * sum(delta[stop:])

    @classmethod
    def build(cls, values: np.ndarray, rows: np.ndarray, trim: float,
              strata: np.ndarray | None = None) -> TrimmedMeanPlan:
        """``values[i]`` is the score that counts row ``rows[i]`` refers to, ``strata[i]`` its
        stratum when every stratum's counts sum to its size (``None``: no such guarantee)."""
        order = np.argsort(values, kind="stable")
        v = np.asarray(values, dtype=np.float64)[order]
        n = len(v)
        k = int(trim * n)
        gaps = np.diff(v)
        first, stop = 0, max(n - 1, 0)
        if strata is not None and n > 1:
            sid = np.asarray(strata)[order]
            ids, size = np.unique(sid, return_counts=True)
            pos = np.arange(n)
            lo_pos = np.array([pos[sid == s].min() for s in ids])
            hi_pos = np.array([pos[sid == s].max() for s in ids])
            j = np.arange(n - 1)
            seen_any = (size[None, :] * (lo_pos[None, :] <= j[:, None])).sum(axis=1)
            seen_all = (size[None, :] * (hi_pos[None, :] <= j[:, None])).sum(axis=1)
            first = int(np.argmax(seen_any > k)) if (seen_any > k).any() else n - 1
            stop = int(np.argmax(seen_all >= n - k)) if (seen_all >= n - k).any() else n - 1
            stop = max(stop, first)
        const = float((n - 2 * k) * gaps[stop:].sum()) if n > 1 else 0.0
        return cls(rows=np.asarray(rows)[order], delta=gaps.astype(np.float32), vmax=float(v[-1]),
                   k=k, n=n, first=first, stop=stop, const=const)

    def finish(self, weighted: np.ndarray, out: np.ndarray) -> None:
        """Trimmed means (float64, into ``out``) from the kernel's ``sum_j h_j delta_j``."""
        if self.n == 1:
            out[...] = self.vmax
            return
        scale = -1.0 / (self.n - 2 * self.k)
        np.multiply(weighted, scale, out=out, dtype=np.float64)
        out += self.vmax + self.const * scale


def weighted_gaps(counts: np.ndarray, plan: TrimmedMeanPlan, cum: np.ndarray, h: np.ndarray,
                  out: np.ndarray) -> None:
    """Write ``sum_{first <= j < stop} h_j delta_j`` of every resample (column of ``counts``)
    into ``out`` (float32, ``(reps,)``); ``cum`` and ``h`` are scratch buffers of at least
    ``(N - 1, reps)``."""
    n, k, first, stop = plan.n, plan.k, plan.first, plan.stop
    if stop <= first:
        out[...] = 0.0
        return
    c, rows = cum[:stop], plan.rows
    np.copyto(c[0], counts[rows[0]])
    for j in range(1, stop):
        np.add(c[j - 1], counts[rows[j]], out=c[j])
    seg, hh = c[first:], h[: stop - first]
    np.clip(seg, k, n - k, out=seg)  # (np.maximum with a Python int is ~10x slower here)
    np.subtract(seg, k, out=seg)
    np.copyto(hh, seg)
    # A fixed-order sum of element-wise products (not np.dot): BLAS picks its kernel per CPU, and
    # the float32 sums then differ in the last bit from one machine to the next; element-wise
    # operations give the same bits on every x86-64 CPU.
    delta = plan.delta[first:stop]
    np.multiply(hh[0], delta[0], out=out)
    for j in range(1, stop - first):
        out += hh[j] * delta[j]


def _group_rows(sizes: Sequence[int], group: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the counts array and stratum id of each value of a group."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    rows = np.concatenate([np.arange(offsets[s], offsets[s + 1]) for s in group])
    return rows, np.repeat(np.asarray(group), [sizes[s] for s in group])


def bootstrap_groups(strata: Sequence[np.ndarray], groups: Sequence[Sequence[int]], reps: int,
                     rng: np.random.Generator | None, trim: float = 0.25, unit: str = "seeds",
                     chunk: int = CHUNK, out: np.ndarray | None = None,
                     counts: np.ndarray | None = None,
                     strata_rows: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Bootstrap distribution of the trimmed mean of each group of strata: ``(len(groups), reps)``
    float64, written into ``out`` if given.

    ``strata`` are one model's 1-D score arrays (one per dataset); a group lists the strata whose
    union is scored (one capability). With ``unit="seeds"`` every stratum's scores are resampled
    within the stratum, one resample shared by all groups of a replicate; with
    ``unit="datasets"`` each group's strata are drawn with replacement and then their scores
    (all strata of a group must then have the same size). Inputs are assumed checked.

    Seeds unit only: ``counts`` (``(rows, reps)``, e.g. from :func:`resample_counts`) and
    ``strata_rows[s]`` (the rows of stratum ``s`` in it) supply the resamples instead of ``rng``,
    so several models can share them (common random numbers: each model's distribution is
    still its own stratified bootstrap).
    """
    sizes = [len(s) for s in strata]
    values = np.concatenate([np.asarray(s, dtype=np.float64) for s in strata])
    if counts is not None:
        if unit != "seeds" or strata_rows is None:
            raise ValueError("shared counts need unit='seeds' and strata_rows")
        where = np.concatenate([np.asarray(r) for r in strata_rows])  # value -> counts row
    plans = []
    for g in groups:
        rows, sid = _group_rows(sizes, g)
        if unit == "seeds":
            src = where[rows] if counts is not None else rows
            plans.append(TrimmedMeanPlan.build(values[rows], src, trim, sid))
        else:
            plans.append(TrimmedMeanPlan.build(values[rows], np.arange(len(rows)), trim))
    if out is None:
        out = np.empty((len(groups), reps), dtype=np.float64)
    nmax = max(p.n for p in plans)
    dtype = count_dtype(nmax)
    cum = np.empty((max(nmax - 1, 1), min(chunk, reps)), dtype=dtype)
    h = np.empty_like(cum, dtype=np.float32)
    weighted = np.empty(min(chunk, reps), dtype=np.float32)
    for c0 in range(0, reps, chunk):
        r = min(chunk, reps - c0)
        if r < cum.shape[1]:  # last, shorter chunk: contiguous buffers of its width
            cum, h, weighted = cum[:, :r].copy(), h[:, :r].copy(), weighted[:r].copy()
        if counts is not None:
            block = counts[:, c0:c0 + r]
        elif unit == "seeds":
            block = resample_counts(sizes, r, _rng(rng), dtype)
        for i, (g, plan) in enumerate(zip(groups, plans, strict=True)):
            if unit != "seeds":
                block = resample_counts_datasets(sizes[g[0]], len(g), r, _rng(rng), dtype)
            weighted_gaps(block, plan, cum, h, weighted)
            plan.finish(weighted, out[i, c0:c0 + r])
    return out


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    if rng is None:
        raise ValueError("bootstrap_groups needs rng unless shared counts are given")
    return rng


def quantiles(dist: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """``np.quantile(dist, qs, axis=1)`` (linear interpolation) as ``(rows, len(qs))``, by exact
    selection: only the values beyond a threshold estimated from the first resamples are
    partitioned (resamples are exchangeable, so the first ones are a random subsample); a row
    whose threshold turns out too tight is partitioned whole."""
    dist = np.asarray(dist, dtype=np.float64)
    n_rows, n = dist.shape
    pos = np.asarray(qs, dtype=np.float64) * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    need = sorted(set(lo.tolist()) | set(hi.tolist()))
    stats = np.empty((n_rows, len(need)))
    if n <= 4 * 8192:
        stats[:] = np.partition(dist, need, axis=1)[:, need]
    else:
        bottom = [i for i in need if i < n // 2]
        top = [i for i in need if i >= n // 2]
        if bottom:
            stats[:, : len(bottom)] = _tail(dist, bottom, lower=True)
        if top:
            stats[:, len(bottom):] = _tail(dist, top, lower=False)
    col = {i: j for j, i in enumerate(need)}
    a, b = stats[:, [col[i] for i in lo]], stats[:, [col[i] for i in hi]]
    return a + (b - a) * (pos - lo)[None, :]


def _tail(dist: np.ndarray, idx: list[int], lower: bool) -> np.ndarray:
    """Order statistics ``idx`` (all in one tail) of every row of ``dist``."""
    n_rows, n = dist.shape
    m = max(idx) + 1 if lower else n - min(idx)  # how many values of this tail are needed
    sample = dist[:, :8192]
    s = sample.shape[1]
    p = m / n
    j = min(s - 1, math.ceil(p * s + 6 * math.sqrt(s * p * (1 - p)) + 16))
    if lower:
        t = np.partition(sample, j, axis=1)[:, j]
        mask = dist <= t[:, None]
    else:
        t = np.partition(sample, s - 1 - j, axis=1)[:, s - 1 - j]
        mask = dist >= t[:, None]
    enough = mask.sum(axis=1) >= m
    out = np.empty((n_rows, len(idx)))
    for r in range(n_rows):
        cand = dist[r][mask[r]] if enough[r] else dist[r]
        local = list(idx) if lower else [len(cand) - (n - i) for i in idx]
        out[r] = np.partition(cand, local)[local]
    return out
