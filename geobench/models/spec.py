"""Typed metadata of a registry model (no torch here: listing the registry stays fast).

A :class:`ModelSpec` holds the facts of one backbone: its official key, the library that builds it,
the bands it was pretrained on, the encoder layers fed to decoders, its pretraining normalisation,
its parameter count and where its pretrained weights come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Every task type a backbone can be adapted to by the protocol's heads (same names as the manifest).
ALL_TASKS: tuple[str, ...] = ("classification", "multilabel_classification", "segmentation",
                              "regression", "detection", "instance_segmentation")

OPTICAL = "optical"  # the model modality name of single-input models


@dataclass(frozen=True)
class BandSpec:
    """One model input band: its name and centre wavelength in nm (None for SAR)."""

    name: str
    wavelength_nm: float | None


@dataclass(frozen=True)
class Normalization:
    """The mean/std the backbone was pretrained with, per input channel, in the units of its
    pretraining data (informational: geobench feeds z-scored inputs, per the protocol)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    note: str = ""


@dataclass(frozen=True)
class WeightsSource:
    """Where the pretrained weights come from.

    ``repo_id``/``filename``/``revision`` address a file on the Hugging Face hub (the place every
    seed model's weights are published, torchgeo's included). ``sha256`` is the file's full
    SHA-256 or a prefix of it (torchgeo names files ``name-<first 8 hex of sha256>.pth``); None
    when not published, in which case the hub's own hash (its LFS etag) is checked at download and
    recorded for later loads. ``library_ref`` says how the library names the same weights.
    """

    repo_id: str
    filename: str
    revision: str = "main"
    sha256: str | None = None
    library_ref: str = ""
    size_bytes: int | None = None

    @property
    def url(self) -> str:
        """The download URL on the hub."""
        return f"https://huggingface.co/{self.repo_id}/resolve/{self.revision}/{self.filename}"


@dataclass(frozen=True)
class ModelSpec:
    """Facts of one registry model.

    ``input_bands``: model modality -> the bands it was pretrained on, in channel order
    (``"optical"`` for single-input models; TerraMind has ``S2L2A`` and ``S1GRD``). Empty for
    models that take the dataset's own bands: wavelength-aware ones (``wavelength_aware``: DOFA,
    Clay receive each band's wavelength) and ``adapts_to_dataset_bands`` ones (the smoke model,
    whose first layer is sized to the dataset's band count).

    ``out_indices``: the encoder layers fed to decoders: 4 equally spaced transformer blocks for
    ViTs (e.g. 5, 11, 17, 23 of 24), the 4 stages for CNNs and Swin. ``backbone_params``: the
    encoder's parameter count as built by geobench with its declared input bands (TerraMind: with
    both of its modalities; the smoke model, whose first layer follows the dataset: with the 12
    Sentinel-2 L2A bands of ``python -m geobench.models check``), measured and stored here.
    """

    key: str
    family: str  # the geobench.models.<family>_family module that builds it
    library: str  # "timm", "torchgeo", "terratorch", "timm (geobench)"
    architecture: str
    input_bands: dict[str, tuple[BandSpec, ...]]
    patch_size: int | None
    default_image_size: int
    out_indices: tuple[int, ...]
    wavelength_aware: bool
    multi_modal: bool
    task_types: tuple[str, ...]
    license: str
    weights: WeightsSource | None
    backbone_params: int
    normalization: dict[str, Normalization] = field(default_factory=dict)
    adapts_to_dataset_bands: bool = False
    paper: str = ""
    notes: str = ""
    own_display_name: str = ""  # models not on the published leaderboard; the others' come from it
    source: str = ""  # where a model outside the catalogue comes from (library, package, config)

    @property
    def display_name(self) -> str:
        """The published leaderboard's name of the model (geobench.published), else its own."""
        from geobench.published import PUBLISHED_MODELS

        published = PUBLISHED_MODELS.get(self.key)
        return published[0] if published else (self.own_display_name or self.key)

    @property
    def is_vit(self) -> bool:
        """A transformer whose features are patch tokens at a single stride."""
        return self.patch_size is not None

    @property
    def takes_dataset_bands(self) -> bool:
        """True when the model's channels are the dataset's own bands (no band matching)."""
        return self.wavelength_aware or self.adapts_to_dataset_bands

    @property
    def in_catalogue(self) -> bool:
        """True for the registry's own entries (published backbones and the smoke model)."""
        return not self.source

    def bands_summary(self) -> str:
        """Short text of the input bands, e.g. ``optical: B04,B03,B02`` or ``any (wavelengths)``."""
        if self.wavelength_aware:
            return "any optical/SAR bands (receives wavelengths)"
        if self.adapts_to_dataset_bands:
            return "the dataset's bands (first layer sized to them)"
        return "; ".join(f"{mod}: {','.join(b.name for b in bands)}"
                         for mod, bands in self.input_bands.items())
