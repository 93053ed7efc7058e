"""The pretraining band sets of the seed models (names and centre wavelengths in nm).

Sentinel-2 centre wavelengths are those of Sentinel-2A (ESA MSI spectral response, rounded to
0.1 nm); HLS (Prithvi) uses the Landsat-8 OLI centres of its six bands. The generic RGB set of the
natural-image and aerial models uses the Sentinel-2 B04/B03/B02 centres, so that a Sentinel-2
dataset feeds them B04, B03, B02 and an RGB dataset feeds them red, green, blue by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from geobench.models.spec import BandSpec

S2_NM: dict[str, float] = {
    "B01": 442.7, "B02": 492.7, "B03": 559.8, "B04": 664.6, "B05": 704.1, "B06": 740.5,
    "B07": 782.8, "B08": 832.8, "B8A": 864.7, "B09": 945.1, "B10": 1373.5, "B11": 1613.7,
    "B12": 2202.4,
}  # fmt: skip


def s2(*names: str) -> tuple[BandSpec, ...]:
    """Sentinel-2 bands by name, in the given order."""
    return tuple(BandSpec(n, S2_NM[n]) for n in names)


# Sentinel-2 L1C, all 13 bands (SSL4EO-S12 pretraining of the DeCUR ResNet-50).
S2_L1C_13 = s2("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11",
               "B12")
# Sentinel-2 L2A, 12 bands (no B10 cirrus): TerraMind's S2L2A modality.
S2_L2A_12 = s2("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
# SatlasPretrain Sentinel-2 multispectral: TCI R,G,B first, then B05, B06, B07, B08, B11, B12.
SATLAS_S2_MS = s2("B04", "B03", "B02", "B05", "B06", "B07", "B08", "B11", "B12")

# Natural-image / aerial RGB (ImageNet, DINOv3, Satlas NAIP), channel order R, G, B.
RGB = (BandSpec("red", 664.6), BandSpec("green", 559.8), BandSpec("blue", 492.7))

# Harmonized Landsat Sentinel-2 bands of Prithvi-EO-2.0 (terratorch HLSBands names), OLI centres.
HLS_6 = (BandSpec("BLUE", 482.0), BandSpec("GREEN", 561.5), BandSpec("RED", 654.5),
         BandSpec("NIR_NARROW", 865.0), BandSpec("SWIR_1", 1608.5), BandSpec("SWIR_2", 2200.5))

# Sentinel-1 GRD polarisations (TerraMind's S1GRD modality).
S1_GRD = (BandSpec("VV", None), BandSpec("VH", None))

# Band names a model declaration (``model.bands=[...]``) may use without a wavelength, keyed by
# :func:`geobench.bands.normalize_band_name` (``B4`` = ``B04``, ``RED`` = ``red``).
_NIR = BandSpec("nir", 832.8)
_SAR = tuple(BandSpec(n, None) for n in ("VV", "VH", "HH", "HV"))


def _named() -> dict[str, BandSpec]:
    from geobench.bands import normalize_band_name

    table: dict[str, BandSpec] = {}
    for band in (*S2_L1C_13, *RGB, _NIR, *HLS_6, *_SAR):  # red = the Sentinel-2 red, as RGB
        table.setdefault(normalize_band_name(band.name), band)
    return table


def parse_bands(items: Sequence[object], where: str = "model.bands") -> tuple[BandSpec, ...]:
    """Declared input bands -> BandSpecs: a BandSpec, a known name (``B04``, ``red``, ``NIR_NARROW``, ``VV``),
    a centre wavelength in nm (``664.6``) or ``NAME@NM`` for a band of your own (``pan@650``).

    Raises:
        ModelError: an empty list, an unknown name without a wavelength, a duplicate.
    """
    from geobench.bands import normalize_band_name
    from geobench.errors import ModelError

    if not items:
        raise ModelError(f"{where} is empty: name at least one band (e.g. [B04,B03,B02])")
    table, out = _named(), []
    for item in items:
        if isinstance(item, BandSpec):
            out.append(item)
            continue
        text = str(item).strip()
        name, sep, nm = text.partition("@")
        try:
            if sep:
                out.append(BandSpec(name.strip(), float(nm)))
                continue
            out.append(BandSpec(f"{float(text):g}nm", float(text)))
            continue
        except ValueError:
            if sep:
                raise ModelError(f"{where}: {text!r}: write NAME@NM with NM the centre wavelength "
                                 "in nm, e.g. pan@650") from None
        known = table.get(normalize_band_name(text))
        if known is None:
            raise ModelError(f"{where}: unknown band name {text!r}: use a Sentinel-2 name (B01…B12, "
                             "B8A), red/green/blue/nir, an HLS name, VV/VH/HH/HV, a wavelength in "
                             f"nm, or {text}@NM to give its centre wavelength")
        out.append(BandSpec(text, known.wavelength_nm))
    seen = [normalize_band_name(b.name) for b in out]
    if len(set(seen)) != len(seen):
        raise ModelError(f"{where}: {[b.name for b in out]} names a band twice")
    return tuple(out)
