"""What a model from outside the catalogue declares: :class:`ModelEntry` (no torch here).

An installed package offers models through the entry-point group ``geobench.models``: each entry
point names a zero-argument callable that returns a :class:`ModelEntry` (its facts and its
factory). A model YAML with ``_target_`` (``model=<yours>`` from your config directory) makes the
same entry from the config. Either way geobench calls ``build`` with the keyword arguments it
accepts among:

* ``bands``: the model's input bands as :class:`~geobench.models.spec.BandSpec` (name and centre
  wavelength in nm), in channel order: the declared ones (``model.bands``, else the entry's
  ``bands``), or the dataset's own bands when none are declared;
* ``image_size``: ``(H, W)`` of the protocol's inputs;
* ``pretrained``: ``model.pretrained``;

plus every ``model.kwargs`` item. It returns a :class:`geobench.models.UserEncoder` (declaring
input bands, patch size, feature channels and reductions) or a timm-style module with
``feature_info`` that geobench wraps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from geobench.models.spec import ALL_TASKS, OPTICAL, BandSpec, ModelSpec


@dataclass(frozen=True)
class ModelEntry:
    """A model's factory and facts (what an entry point of group ``geobench.models`` returns).

    ``bands``: the input bands (BandSpecs, or names/wavelengths as ``model.bands`` takes them);
    None when the model takes the dataset's own bands (its factory receives them). ``patch_size``
    for token models (inputs are zero-padded to a multiple). The other fields describe the model
    on listings and in a submission's metadata.
    """

    build: Callable[..., Any]
    bands: Sequence[BandSpec | str | float] | None = None
    display_name: str = ""
    architecture: str = ""
    patch_size: int | None = None
    default_image_size: int = 224
    license: str = ""
    paper: str = ""
    notes: str = ""

    def to_spec(self, key: str, *, family: str, source: str,
                bands: Sequence[BandSpec] | None = None) -> ModelSpec:
        """The registry spec of this entry under ``key`` (``bands``: declared by the config, which
        wins over the entry's own). Levels and parameter count are filled in when it is built."""
        from geobench.models.band_sets import parse_bands

        declared = tuple(bands) if bands is not None else (
            parse_bands(self.bands, f"{key}: bands") if self.bands is not None else None)
        return ModelSpec(
            key=key, family=family, library=source, architecture=self.architecture or source,
            input_bands={OPTICAL: declared} if declared else {}, patch_size=self.patch_size,
            default_image_size=self.default_image_size, out_indices=(), wavelength_aware=False,
            multi_modal=False, task_types=ALL_TASKS, license=self.license, weights=None,
            backbone_params=0, adapts_to_dataset_bands=not declared, paper=self.paper,
            notes=self.notes, own_display_name=self.display_name, source=source)
