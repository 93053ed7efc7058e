"""Per-dataset min–max normalisation with frozen, versioned normalizer files.

``score = (test metric − min) / (max − min)`` per dataset; values outside [0, 1] stay (a model
better than every baseline scores above 1). Lower-is-better metrics are already flipped on the
leaderboard scale (BioMassters: see :mod:`geobench.aggregate.inputs`).

File format (``geobench-normalizer/1``)::

    {"format": "geobench-normalizer/1", "name": "...", "version": "...", "rule": "...",
     "source": "...", "datasets": {"benv2": [min, max], ...}}

The official leaderboard's ``normalizer.json`` layout (``{dataset: [min, max]}``) is read too.
The rule (the official one, ``make_normalizer`` of GEO-Bench-2-Leaderboard): per dataset, the
minimum and maximum of every individual seed's ``test metric`` over the chosen baseline
submissions (not of per-model means or IQMs). The shipped official normalizer is that rule applied
to the two published full fine-tuning submissions (114be1f0…, 2ce4a907…).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobench.errors import NormalizerError

if TYPE_CHECKING:
    import pandas as pd

    from geobench.aggregate.inputs import Submission

FORMAT = "geobench-normalizer/1"
NORMALIZER_DIR = Path(__file__).resolve().parent / "normalizers"
OFFICIAL_NORMALIZER = NORMALIZER_DIR / "geobench2-official.json"
RULE = ("per dataset, min and max of every seed's test metric (leaderboard scale) over the "
        "baseline submissions")


@dataclass(frozen=True)
class Normalizer:
    name: str
    version: str
    bounds: dict[str, tuple[float, float]]  # dataset -> (min, max), min < max
    source: str
    rule: str = RULE

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "version": self.version, "rule": self.rule,
                "source": self.source,
                "datasets": {d: [lo, hi] for d, (lo, hi) in sorted(self.bounds.items())}}


def _bounds(data: Any, where: str) -> dict[str, tuple[float, float]]:
    if not isinstance(data, dict) or not data:
        raise NormalizerError(f"{where}: expected a non-empty mapping dataset -> [min, max]")
    out = {}
    for ds, pair in data.items():
        if (not isinstance(pair, list | tuple) or len(pair) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)):
            raise NormalizerError(f"{where}: {ds!r}: expected [min, max] numbers, got {pair!r}")
        lo, hi = float(pair[0]), float(pair[1])
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise NormalizerError(f"{where}: {ds!r}: needs finite min < max, got [{lo}, {hi}]")
        out[str(ds)] = (lo, hi)
    return out


def load_normalizer(path: str | Path | None = None) -> Normalizer:
    """Load a normalizer (``None``: the shipped official one). Accepts geobench's format and the
    official ``{dataset: [min, max]}`` layout (then ``version`` is the file's sha256 prefix).

    Raises:
        NormalizerError: missing file, invalid JSON, or bounds that are not finite min < max.
    """
    p = Path(path) if path is not None else OFFICIAL_NORMALIZER
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise NormalizerError(f"{p}: normalizer file not found") from None
    except OSError as exc:
        raise NormalizerError(f"{p}: cannot read normalizer ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NormalizerError(f"{p}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and "format" in data:
        if data.get("format") != FORMAT:
            raise NormalizerError(f"{p}: unknown normalizer format {data.get('format')!r}; "
                                  f"expected {FORMAT!r}")
        for key in ("name", "version", "datasets"):
            if key not in data:
                raise NormalizerError(f"{p}: missing field {key!r}")
        return Normalizer(name=str(data["name"]), version=str(data["version"]),
                          bounds=_bounds(data["datasets"], f"{p}: datasets"),
                          source=str(data.get("source", "")), rule=str(data.get("rule", RULE)))
    bounds = _bounds(data, str(p))
    name = p.parent.name if p.stem == "normalizer" and p.parent.name else p.stem
    return Normalizer(name=name, version="sha256:" + hashlib.sha256(raw).hexdigest()[:12],
                      bounds=bounds, source=f"official normalizer.json layout: {p}")


def save_normalizer(n: Normalizer, path: str | Path) -> None:
    """Write ``n`` in geobench's format, atomically (temp file in the same folder, then rename)."""
    from geobench.fileio import atomic_write_text

    atomic_write_text(path, json.dumps(n.to_json(), indent=2) + "\n")


def build_normalizer(submissions: Sequence[Submission], name: str, version: str,
                     backbones: Sequence[str] | None = None) -> Normalizer:
    """The official rule: per dataset, min and max of every seed's ``test metric`` over all rows
    of ``submissions`` (only ``backbones`` if given).

    Raises:
        NormalizerError: no rows, a requested backbone absent, or a dataset whose scores are all
            equal (no range to normalise by).
    """
    import pandas as pd

    if not submissions:
        raise NormalizerError("build_normalizer: no baseline submissions given")
    rows = pd.concat([s.rows[["dataset", "backbone", "test metric"]] for s in submissions],
                     ignore_index=True)
    if backbones is not None:
        wanted = [str(b) for b in backbones]
        absent = sorted(set(wanted) - set(rows["backbone"].astype(str)))
        if absent:
            raise NormalizerError(f"build_normalizer: backbone(s) {', '.join(absent)} not in the "
                                  "baseline submissions")
        rows = rows[rows["backbone"].astype(str).isin(wanted)]
    if rows.empty:
        raise NormalizerError("build_normalizer: the baseline submissions have no rows")
    agg = rows.groupby("dataset")["test metric"].agg(["min", "max"])
    flat = agg[agg["min"] >= agg["max"]]
    if not flat.empty:
        ds = flat.index[0]
        raise NormalizerError(f"build_normalizer: every baseline score of {ds!r} equals "
                              f"{flat.loc[ds, 'min']}; add baselines that differ on it")
    bounds = {str(d): (float(r["min"]), float(r["max"])) for d, r in agg.iterrows()}
    what = ", ".join(s.name for s in submissions)
    if backbones is not None:
        what += f" (backbones: {', '.join(sorted(set(map(str, backbones))))})"
    return Normalizer(name=name, version=version, bounds=bounds, source=f"built from {what}")


def normalize(rows: pd.DataFrame, n: Normalizer) -> pd.DataFrame:
    """A copy of ``rows`` with column ``score = (test metric − min) / (max − min)``.

    Raises:
        NormalizerError: a dataset of ``rows`` has no bounds in ``n``.
    """
    import numpy as np

    datasets = rows["dataset"].astype(str)
    missing = sorted(set(datasets) - set(n.bounds))
    if missing:
        raise NormalizerError(f"normalizer {n.name!r} ({n.version}) has no bounds for dataset(s) "
                              f"{', '.join(missing)}; pass --normalizer with a file that has them "
                              "(build one with: python -m geobench.aggregate build-normalizer)")
    lo = datasets.map({d: b[0] for d, b in n.bounds.items()}).to_numpy(dtype=np.float64)
    hi = datasets.map({d: b[1] for d, b in n.bounds.items()}).to_numpy(dtype=np.float64)
    out = rows.copy()
    out["score"] = (rows["test metric"].to_numpy(dtype=np.float64) - lo) / (hi - lo)
    return out
