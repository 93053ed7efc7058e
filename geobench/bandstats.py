"""Per-band statistics of a split, accumulated while streaming samples.

Mean and standard deviation are exact (float64 running sums over every valid pixel). The 1st and
99th percentiles are exact while a band has at most ``max_values`` pixels and estimated from a
uniform, seeded reservoir sample of ``max_values`` pixels otherwise (documented in the README).
"""

from __future__ import annotations

import numpy as np


class BandStats:
    """Running statistics of the bands of one modality."""

    def __init__(self, bands: list[str], max_values: int = 2_000_000, seed: int = 0) -> None:
        self.bands = list(bands)
        c = len(bands)
        self.count = np.zeros(c, dtype=np.int64)
        self.sum = np.zeros(c, dtype=np.float64)
        self.sumsq = np.zeros(c, dtype=np.float64)
        self.min = np.full(c, np.inf)
        self.max = np.full(c, -np.inf)
        self.max_values = max_values
        self._rng = np.random.default_rng(seed)
        self._reservoir: np.ndarray | None = None  # (C, <= max_values)
        self._seen = 0  # pixels offered to the reservoir (per band; all bands share pixels)

    def update(self, pixels: np.ndarray) -> None:
        """Add pixels ``(C, P)`` (any dtype; NaNs ignored in the sums)."""
        x = pixels.reshape(len(self.bands), -1).astype(np.float64, copy=False)
        finite = np.isfinite(x)
        xz = np.where(finite, x, 0.0)
        self.count += finite.sum(axis=1)
        self.sum += xz.sum(axis=1)
        self.sumsq += (xz * xz).sum(axis=1)
        if x.shape[1]:
            self.min = np.minimum(self.min, np.where(finite, x, np.inf).min(axis=1))
            self.max = np.maximum(self.max, np.where(finite, x, -np.inf).max(axis=1))
        self._offer(x)

    def _offer(self, x: np.ndarray) -> None:
        n = x.shape[1]
        if n == 0:
            return
        if self._reservoir is None:
            self._reservoir = np.empty((x.shape[0], 0))
        room = self.max_values - self._reservoir.shape[1]
        if room > 0:
            take = min(room, n)
            self._reservoir = np.concatenate([self._reservoir, x[:, :take]], axis=1)
            x = x[:, take:]
            self._seen += take
            n = x.shape[1]
            if n == 0:
                return
        # Algorithm R, vectorised: item j (global index seen + j) replaces slot r if r < max_values.
        idx = self._seen + np.arange(n)
        r = (self._rng.random(n) * (idx + 1)).astype(np.int64)
        hit = r < self.max_values
        self._reservoir[:, r[hit]] = x[:, hit]
        self._seen += n

    def result(self) -> dict[str, dict[str, float]]:
        out = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.sum / self.count
            var = np.maximum(self.sumsq / self.count - mean * mean, 0.0)
        res = self._reservoir if self._reservoir is not None else np.empty((len(self.bands), 0))
        for i, b in enumerate(self.bands):
            vals = res[i][np.isfinite(res[i])]
            p1, p99 = (np.percentile(vals, [1, 99]) if vals.size else (np.nan, np.nan))
            out[b] = {
                "mean": float(mean[i]), "std": float(np.sqrt(var[i])),
                "p1": float(p1), "p99": float(p99),
                "min": float(self.min[i]), "max": float(self.max[i]),
                "count": int(self.count[i]),
                "percentiles_exact": bool(self._seen <= self.max_values),
            }
        return out
