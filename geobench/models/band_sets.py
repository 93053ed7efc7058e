"""The pretraining band sets of the seed models (names and centre wavelengths in nm).

Sentinel-2 centre wavelengths are those of Sentinel-2A (ESA MSI spectral response, rounded to
0.1 nm); HLS (Prithvi) uses the Landsat-8 OLI centres of its six bands. The generic RGB set of the
natural-image and aerial models uses the Sentinel-2 B04/B03/B02 centres, so that a Sentinel-2
dataset feeds them B04, B03, B02 and an RGB dataset feeds them red, green, blue by name.
"""

from __future__ import annotations

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
