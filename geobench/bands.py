"""Band matching: which dataset band feeds each input channel of a model, and why.

Pure functions on band descriptions (no torch), shared by the model registry and the data loader.

A *source* is the dataset's bands (``geobench.manifest.Band``: name, centre wavelength in nm or
None); a *target* is the bands a model was pretrained on (``geobench.models.spec.BandSpec``).
:func:`match_bands` decides, for every target channel in order, one of:

``name``        a source band with the same normalised name (``B8A`` = ``b8a``, ``B04`` = ``B4``,
                ``red`` = ``RED`` = ``r``); refused when both wavelengths are known and further
                apart than the tolerance (Landsat ``B5`` is not Sentinel-2 ``B5``).
``wavelength``  else the source band whose centre wavelength is nearest, if within ``tolerance_nm``
                (default 100 nm); ties go to the earlier source band.
``sar``         a SAR target (``VV``/``VH``/``HH``/``HV``) with no same-named source: the source band of
                the same polarisation (``VV_asc`` for ``VV``), else of the same co/cross type
                (``HH`` for ``VV``), else the source's SAR bands in turn.
``sar_rgb``     the source has no optical band at all (SAR-only data) and the target is optical: the
                target's red, green and blue channels receive ``VV, VH, VV`` (co-polarised first,
                whatever the dataset's order),
                ``X, X, X`` (one band), the first two of several likewise; non-SAR channels without
                a wavelength (e.g. a grey amplitude image) are used when no band is named as SAR,
                elevation and masks never.
``zero``        nothing within the tolerance: the channel is filled with zeros. Inputs are z-scored,
                so zero is the band's mean, and a zero channel adds nothing through the first layer
                (the same as dropping that channel's weights).

Wavelength-aware models (DOFA, Clay) do not match: they take the dataset's bands as they are and
receive their wavelengths (:func:`wavelength_plan`); SAR bands get the pseudo-wavelength
:data:`SAR_WAVELENGTH_NM` (5.405 µm, from the 5.405 GHz C-band frequency, as terratorch does) and
other channels without a wavelength (elevation) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

MatchReason = Literal["name", "wavelength", "sar", "sar_rgb", "zero", "dataset"]

DEFAULT_TOLERANCE_NM = 100.0
# Pseudo-wavelength given to SAR polarisations for wavelength-aware models (terratorch's DOFA and
# Clay wrappers use 5.405 µm for VV and VH: the C-band centre frequency 5.405 GHz read as µm).
SAR_WAVELENGTH_NM = 5405.0
# Reference centre wavelengths (nm) used to find a model's red, green and blue channels.
RGB_NM = {"red": 665.0, "green": 560.0, "blue": 490.0}

_SAR_NAMES = ("vv", "vh", "hh", "hv")
# Common spellings of the same band, after lower-casing and removing separators.
_ALIASES = {
    "r": "red", "red": "red",
    "g": "green", "green": "green",
    "b": "blue", "blue": "blue",
    "nir": "nir", "nearinfrared": "nir",
    "swir1": "swir1", "swir16": "swir1", "shortwaveinfrared1": "swir1",
    "swir2": "swir2", "swir22": "swir2", "shortwaveinfrared2": "swir2",
    "coastal": "coastal", "coastalaerosol": "coastal",
    "copol": "vv", "crosspol": "vh",
}  # fmt: skip
_NUMBERED = re.compile(r"^b0*(\d+)(a?)$")
# Channels that are not images of the scene's reflectance or backscatter: never fed to an optical
# model's colour channels by the SAR rule.
_NOT_IMAGERY = frozenset({"dem", "elevation", "dsm", "dtm", "height", "slope", "aspect", "mask"})
# A polarisation, optionally tagged with the orbit direction (``VV_asc``, ``dsc_vh``).
# (a ratio such as ``VV/VH`` is a SAR channel too, but not a polarisation of its own).
_SAR_PATTERN = re.compile(r"^(asc|dsc|desc)?(vv|vh|hh|hv)(vv|vh|hh|hv)?(asc|dsc|desc)?$")
_CO_POL = ("vv", "hh")


class BandLike(Protocol):
    """Anything with a band name and an optional centre wavelength (nm)."""

    @property
    def name(self) -> str: ...

    @property
    def wavelength_nm(self) -> float | None: ...


@dataclass(frozen=True)
class BandMatch:
    """How one target channel is fed.

    ``source_index`` indexes the source sequence (None for a zero-filled channel); ``distance_nm``
    is the wavelength gap when both wavelengths are known.
    """

    target: str
    target_wavelength_nm: float | None
    source_index: int | None
    source: str | None
    reason: MatchReason
    distance_nm: float | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable view."""
        return {"target": self.target, "target_wavelength_nm": self.target_wavelength_nm,
                "source_index": self.source_index, "source": self.source, "reason": self.reason,
                "distance_nm": self.distance_nm}

    def describe(self) -> str:
        """``B04 <- s2/B04 (wavelength, 0 nm)`` style one-liner."""
        if self.source is None:
            return f"{self.target} <- zeros (no band within tolerance)"
        gap = f", {self.distance_nm:g} nm" if self.distance_nm is not None else ""
        return f"{self.target} <- {self.source} ({self.reason}{gap})"


def normalize_band_name(name: str) -> str:
    """Canonical comparison key of a band name.

    Lower-case, separators removed, numbered bands without leading zeros (``B04`` -> ``b4``,
    ``B8a`` -> ``b8a``), and common aliases folded (``RED``/``r`` -> ``red``, ``swir16`` ->
    ``swir1``).
    """
    key = re.sub(r"[\s_\-./]", "", name.strip().lower())
    m = _NUMBERED.match(key)
    if m:
        return f"b{int(m.group(1))}{m.group(2)}"
    return _ALIASES.get(key, key)


def is_sar_band(band: BandLike) -> bool:
    """True for a radar polarisation channel (``VV``, ``vh``, ``VV_asc``, ``HH`` ...)."""
    if band.wavelength_nm is not None:
        return False
    return _SAR_PATTERN.match(normalize_band_name(band.name)) is not None


def is_non_imagery(band: BandLike) -> bool:
    """True for channels that are not an image of the scene (elevation, masks)."""
    return normalize_band_name(band.name) in _NOT_IMAGERY


def _polarisation(band: BandLike) -> tuple[str, bool] | None:
    """``(polarisation, is_ratio)`` of a SAR band name, e.g. ``VH_asc`` -> ``("vh", False)``."""
    m = _SAR_PATTERN.match(normalize_band_name(band.name))
    return None if m is None else (m.group(2), m.group(3) is not None)


def _sar_order(source: Sequence[BandLike], sar_idx: list[int]) -> list[int]:
    """SAR bands ordered co-polarised first (VV, HH), then cross-polarised, then ratios/unnamed."""
    def rank(i: int) -> int:
        pol = _polarisation(source[i])
        if pol is None or pol[1]:
            return 2
        return 0 if pol[0] in _CO_POL else 1
    return sorted(sar_idx, key=lambda i: (rank(i), i))


def _pick_sar(source: Sequence[BandLike], sar_idx: list[int], target: BandLike,
              seen: int) -> int:
    """The SAR source for a SAR target: same polarisation, else same co/cross type, else cyclic."""
    want = normalize_band_name(target.name)
    pols = {i: _polarisation(source[i]) for i in sar_idx}
    for same in (lambda p: p[0] == want, lambda p: (p[0] in _CO_POL) == (want in _CO_POL)):
        for i in sar_idx:
            p = pols[i]
            if p is not None and not p[1] and same(p):
                return i
    return sar_idx[seen % len(sar_idx)]


def _gap(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else abs(float(a) - float(b))


def _label(band: BandLike, labels: Sequence[str] | None, i: int) -> str:
    return labels[i] if labels is not None else band.name


def match_bands(
    source: Sequence[BandLike],
    target: Sequence[BandLike],
    *,
    tolerance_nm: float = DEFAULT_TOLERANCE_NM,
    source_labels: Sequence[str] | None = None,
    sar_source: Sequence[bool] | None = None,
) -> list[BandMatch]:
    """Match every target channel to a source band (see the module docstring for the rules).

    Args:
        source: the dataset's bands, in the dataset's order.
        target: the model's input bands, in the model's channel order.
        tolerance_nm: largest wavelength gap accepted for a ``wavelength`` or ``name`` match.
        source_labels: how to show each source band in the plan (e.g. ``"s2/B04"``); defaults to
            the band names.
        sar_source: per source band, whether it is a radar channel; defaults to
            :func:`is_sar_band` (name based). Pass the modality kind when it is known.

    Returns:
        One :class:`BandMatch` per target band, in target order.
    """
    if source_labels is not None and len(source_labels) != len(source):
        raise ValueError("source_labels must have one label per source band")
    sar = list(sar_source) if sar_source is not None else [is_sar_band(b) for b in source]
    if len(sar) != len(source):
        raise ValueError("sar_source must have one flag per source band")
    keys = [normalize_band_name(b.name) for b in source]
    optical = [i for i, b in enumerate(source) if b.wavelength_nm is not None and not sar[i]]
    sar_idx = [i for i in range(len(source)) if sar[i]]

    def make(t: BandLike, i: int | None, reason: MatchReason) -> BandMatch:
        if i is None:
            return BandMatch(t.name, t.wavelength_nm, None, None, "zero")
        return BandMatch(t.name, t.wavelength_nm, i, _label(source[i], source_labels, i), reason,
                         _gap(t.wavelength_nm, source[i].wavelength_nm))

    plan: list[BandMatch] = []
    sar_targets_seen = 0
    for t in target:
        plan.append(make(t, *_choose(t, source, keys, optical, sar_idx, sar_targets_seen, tolerance_nm)))
        if t.wavelength_nm is None and normalize_band_name(t.name) in _SAR_NAMES:
            sar_targets_seen += 1

    target_is_optical = any(t.wavelength_nm is not None for t in target)
    if target_is_optical and not optical and len(source) > 0:
        _fill_sar_rgb(plan, source, target, sar_idx, make)
    return plan


def _choose(t: BandLike, source: Sequence[BandLike], keys: list[str], optical: list[int],
            sar_idx: list[int], sar_targets_seen: int, tolerance_nm: float) -> tuple[int | None, MatchReason]:
    """The source band feeding target channel ``t``: by name, else wavelength, else SAR order."""
    tkey = normalize_band_name(t.name)
    for i, k in enumerate(keys):
        gap = _gap(t.wavelength_nm, source[i].wavelength_nm)
        if k == tkey and (gap is None or gap <= tolerance_nm):
            return i, "name"
    if t.wavelength_nm is not None and optical:
        best = min(optical, key=lambda i: (_gap(t.wavelength_nm, source[i].wavelength_nm), i))
        gap = _gap(t.wavelength_nm, source[best].wavelength_nm)
        if gap is not None and gap <= tolerance_nm:
            return best, "wavelength"
    elif t.wavelength_nm is None and tkey in _SAR_NAMES and sar_idx:
        return _pick_sar(source, sar_idx, t, sar_targets_seen), "sar"
    return None, "zero"


def _fill_sar_rgb(plan: list[BandMatch], source: Sequence[BandLike], target: Sequence[BandLike],
                  sar_idx: list[int], make: Callable[[BandLike, int | None, MatchReason], BandMatch],
                  ) -> None:
    """SAR-only source into an optical model: red, green, blue <- VV, VH, VV (in place)."""
    pool = _sar_order(source, sar_idx) or [i for i, b in enumerate(source)
                                           if b.wavelength_nm is None and not is_non_imagery(b)]
    if not pool:
        return
    pattern = [pool[0], pool[1], pool[0]] if len(pool) >= 2 else [pool[0]] * 3
    slots: list[int] = []
    for colour in ("red", "green", "blue"):
        ref = RGB_NM[colour]
        cands = [j for j, t in enumerate(target)
                 if t.wavelength_nm is not None and j not in slots
                 and abs(t.wavelength_nm - ref) <= DEFAULT_TOLERANCE_NM / 2]
        if cands:
            slots.append(min(cands, key=lambda j: (abs(float(target[j].wavelength_nm or 0.0) - ref), j)))
    if len(slots) < 3:  # no recognisable RGB channels: use the first three optical channels
        slots = [j for j, t in enumerate(target) if t.wavelength_nm is not None][:3]
    for j, i in zip(slots, pattern, strict=False):
        if plan[j].reason == "zero":
            plan[j] = make(target[j], i, "sar_rgb")


def wavelength_plan(
    source: Sequence[BandLike],
    *,
    source_labels: Sequence[str] | None = None,
    sar_source: Sequence[bool] | None = None,
) -> tuple[list[BandMatch], list[int]]:
    """The plan of a wavelength-aware model: the dataset's own bands with their wavelengths.

    Returns ``(plan, dropped)``: one :class:`BandMatch` per kept band (``target_wavelength_nm`` is
    the wavelength the model receives; SAR bands get :data:`SAR_WAVELENGTH_NM`) and the indices of
    source bands left out because they have no wavelength and are not SAR (e.g. elevation).
    """
    sar = list(sar_source) if sar_source is not None else [is_sar_band(b) for b in source]
    plan: list[BandMatch] = []
    dropped: list[int] = []
    for i, b in enumerate(source):
        label = _label(b, source_labels, i)
        if b.wavelength_nm is not None and not sar[i]:
            plan.append(BandMatch(b.name, float(b.wavelength_nm), i, label, "dataset"))
        elif sar[i]:
            plan.append(BandMatch(b.name, SAR_WAVELENGTH_NM, i, label, "sar"))
        else:
            dropped.append(i)
    return plan, dropped


def identity_plan(source: Sequence[BandLike], *,
                  source_labels: Sequence[str] | None = None) -> list[BandMatch]:
    """Every source band feeds one channel, in order (models that adapt to the dataset's bands)."""
    return [BandMatch(b.name, b.wavelength_nm, i, _label(b, source_labels, i), "dataset")
            for i, b in enumerate(source)]


def describe_plan(plan: Sequence[BandMatch]) -> str:
    """One line per channel: ``0: B04 <- s2/B04 (wavelength, 0 nm)``."""
    return "\n".join(f"{j}: {m.describe()}" for j, m in enumerate(plan))
