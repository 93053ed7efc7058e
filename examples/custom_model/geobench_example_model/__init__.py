"""An example model package for geobench.

Two entry points of group ``geobench.models`` (see ``pyproject.toml``), each a function returning
a :class:`geobench.models.ModelEntry`: the model's declared facts and its factory. This module
imports no torch, so listing models stays fast; the networks (``nets.py``) are imported when a
model is built.
"""

from __future__ import annotations

from typing import Any

from geobench.models import BandSpec, ModelEntry

# Sentinel-2 L2A, the ten 10 m and 20 m bands, with their centre wavelengths in nm: geobench
# feeds each channel the dataset band of the same name, else the nearest wavelength, else zeros.
S2_10 = (
    BandSpec("B02", 492.7), BandSpec("B03", 559.8), BandSpec("B04", 664.6), BandSpec("B05", 704.1),
    BandSpec("B06", 740.5), BandSpec("B07", 782.8), BandSpec("B08", 832.8), BandSpec("B8A", 864.7),
    BandSpec("B11", 1613.7), BandSpec("B12", 2202.4),
)  # fmt: skip
RGBN = (BandSpec("red", 664.6), BandSpec("green", 559.8), BandSpec("blue", 492.7), BandSpec("nir", 832.8))


def _build_cnn(bands: tuple[BandSpec, ...], width: int = 24) -> Any:
    from geobench_example_model.nets import TinyConvNet

    return TinyConvNet(bands, width=width)


def _build_vit(bands: tuple[BandSpec, ...], image_size: tuple[int, int], dim: int = 96,
               depth: int = 4) -> Any:
    from geobench_example_model.nets import TinyViT

    return TinyViT(bands, image_size=image_size, dim=dim, depth=depth)


def tiny_cnn() -> ModelEntry:
    """A 4-stage residual CNN on ten Sentinel-2 bands (random init)."""
    return ModelEntry(build=_build_cnn, bands=S2_10, display_name="TinyGeo CNN (example)",
                      architecture="4-stage residual CNN, widths 24-192, strides 4-32",
                      license="Apache-2.0", default_image_size=64,
                      notes="geobench's example package; random init")


def tiny_vit() -> ModelEntry:
    """A 4-block ViT with 8-pixel patches on red, green, blue, near infrared (random init)."""
    return ModelEntry(build=_build_vit, bands=RGBN, display_name="TinyGeo ViT (example)",
                      architecture="ViT, patch 8, dim 96, 4 blocks", patch_size=8,
                      license="Apache-2.0", default_image_size=64,
                      notes="geobench's example package; random init")
