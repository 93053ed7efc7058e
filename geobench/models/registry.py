"""The model registry: one door (:func:`build_encoder`) to every backbone under its official key,
and to models outside the catalogue (:mod:`geobench.models.sources`): ``timm:NAME``,
``terratorch:NAME``, a factory named by ``_target_``, an installed package's entry point.

Listing and looking up catalogue specs imports no torch; building imports only the family's
library (timm, torchgeo or terratorch), when that family is built. The spec of a library model
(``timm:NAME``) is read from the model itself, built on torch's meta device (no memory, no
weights).
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from geobench.errors import ModelError, UnknownNameError
from geobench.models.catalog import ALIASES, SPECS
from geobench.models.entry import ModelEntry
from geobench.models.planning import default_modalities, plan_bands
from geobench.models.sources import ModelRequest, check_own_key, library_model, load_target
from geobench.models.spec import ModelSpec

if TYPE_CHECKING:
    from geobench.models.encoder import Encoder

__all__ = ["aliases", "build_encoder", "default_modalities", "get_spec", "list_models",
           "load_weights_path", "plan_bands", "resolve"]

_BY_KEY: dict[str, ModelSpec] = {s.key: s for s in SPECS}
_FAMILY_MODULES = {"timm": "timm_family", "torchgeo": "torchgeo_family",
                   "terratorch": "terratorch_family", "smoke": "smoke"}


def list_models(pattern: str = "*") -> list[str]:
    """Registry keys matching a shell-style ``pattern`` (``'prithvi*'``), in registry order."""
    return [s.key for s in SPECS if fnmatch.fnmatchcase(s.key, pattern)]


def aliases() -> dict[str, str]:
    """Short names -> registry keys (``prithvi`` -> ``prithvi_eo_v2_300_tl``)."""
    return dict(ALIASES)


def get_spec(model: Any) -> ModelSpec:
    """The spec of a registry key or alias, ``timm:NAME``/``terratorch:NAME``, an installed
    entry point's name, or a run configuration's model (``ModelConfig``/:class:`ModelRequest`:
    key plus declared bands, factory and keyword arguments).

    Raises:
        UnknownNameError: none of these; the message suggests close names.
        ModelError: a factory that cannot be imported, bands that cannot be read, options that a
            catalogue model does not take.
    """
    return resolve(model)[0]


def resolve(model: Any) -> tuple[ModelSpec, ModelEntry | None]:
    """The spec of ``model`` (as :func:`get_spec`) and, for a factory or an installed entry point,
    its :class:`ModelEntry` (None for catalogue and library models)."""
    from geobench.models import plugins
    from geobench.models.band_sets import parse_bands

    req = ModelRequest.of(model)
    key = ALIASES.get(req.key, req.key)
    taken = {**_BY_KEY, **ALIASES}
    if req.target is not None:
        check_own_key(req.key, taken)
        entry = ModelEntry(build=load_target(req.target), display_name=req.key)
        bands = parse_bands(req.bands) if req.bands is not None else None
        return entry.to_spec(req.key, family="config", source=f"_target_ {req.target}", bands=bands), entry
    if key in _BY_KEY:
        if not req.is_plain:
            raise ModelError(f"model {req.key!r} is a catalogue model with its published inputs; "
                             "model.bands and model.kwargs apply to timm:NAME, terratorch:NAME and "
                             "your own models")
        return _BY_KEY[key], None
    lib = library_model(req.key)
    if lib is not None:
        from geobench.models import dynamic

        bands = parse_bands(req.bands) if req.bands is not None else None
        return dynamic.library_spec(lib[0], lib[1], bands, dict(req.kwargs)), None
    plugin = plugins.find(req.key, taken)
    if plugin is None:
        known = [*_BY_KEY, *ALIASES, *plugins.installed(), "timm:NAME", "terratorch:NAME"]
        raise UnknownNameError("model", req.key, known)
    entry = plugins.load(plugin)
    bands = parse_bands(req.bands) if req.bands is not None else None
    return entry.to_spec(req.key, family="plugin", source=plugin.source, bands=bands), entry


# ----------------------------------------------------------------------------------------------
# building


def build_encoder(key: Any, *, dataset_modalities: Mapping[str, Any],
                  modalities: Sequence[str] | None = None, pretrained: bool = False,
                  image_size: int | Sequence[int] | None = None,
                  weights_path: str | None = None,
                  model_inputs: Mapping[str, str] | None = None) -> Encoder:
    """Build the encoder of ``key`` for a dataset's bands.

    Args:
        key: registry key or alias, ``timm:NAME``/``terratorch:NAME``, an installed entry point's
            name, or a run configuration's model (``ModelConfig`` or :class:`ModelRequest`:
            with declared bands, a ``_target_`` factory, keyword arguments).
        dataset_modalities: dataset modality -> bands in manifest order (or a manifest Modality).
        modalities: dataset modalities to feed (default: the first optical one).
        model_inputs: multi-modal models: dataset modality -> model input (see :func:`plan_bands`).
        pretrained: load the published weights (downloaded on demand into the cache; models
            outside the catalogue: the library's or the factory's own weights); False builds
            offline with random weights.
        image_size: the input size (int or (H, W)); models with a size-bound component use it,
            the others accept any size.
        weights_path: a local state dict to load instead (the format of ``encoder.backbone``, or
            the published checkpoint's format); loaded strictly.

    Raises:
        UnknownNameError: unknown key; ModelError: unusable bands, weights that cannot be fetched
        or do not fit, a model of your own that does not build (the message says why).
    """
    from geobench.models import weights as w
    from geobench.models.encoder import as_sequence
    from geobench.torch_state import preserved_torch_state

    spec, entry = resolve(key)
    size = as_sequence(image_size) or (spec.default_image_size, spec.default_image_size)
    # A family's library may change torch's global numerics when imported (terratorch sets the
    # float32 matmul precision to "medium"): import and build it with that state preserved.
    if not spec.in_catalogue:
        with preserved_torch_state():
            from geobench.models import dynamic

            encoder: Encoder = dynamic.build(
                spec, entry, ModelRequest.of(key), dataset_modalities=dataset_modalities,
                modalities=modalities, model_inputs=model_inputs, image_size=size,
                pretrained=pretrained and weights_path is None)
            if weights_path is not None:
                load_weights_path(encoder, weights_path, dynamic)
        return encoder
    plan = plan_bands(spec, dataset_modalities, modalities, model_inputs)
    pretrained_file = None
    if weights_path is None and pretrained:
        pretrained_file = w.fetch_weights(spec)
    with preserved_torch_state():
        family = importlib.import_module(f"geobench.models.{_FAMILY_MODULES[spec.family]}")
        encoder = family.build(spec, plan, image_size=size, pretrained_file=pretrained_file)
        if weights_path is not None:
            load_weights_path(encoder, weights_path, family)
    return encoder


def load_weights_path(encoder: Encoder, path: str, family: Any) -> None:
    """Load a local weights file strictly: the backbone's own state dict (as saved by
    ``torch.save(encoder.backbone.state_dict(), path)``), or the published checkpoint's format.

    Raises:
        ModelError: unreadable file, or keys/shapes that do not fit (listed).
    """
    from geobench.models import weights as w

    raw = w.read_checkpoint(path)
    what = f"{encoder.spec.key} with inputs " + ", ".join(
        f"{mm}: {encoder.plan.in_chans(mm)} bands" for mm in encoder.model_modalities)
    try:
        sd: dict[str, Any] | None = w.strip_prefix(w.unwrap_state_dict(raw, path), "backbone.")
    except ModelError:
        sd = None
    if sd is not None and not any(w.key_mismatch(encoder.backbone, sd)):
        w.load_strict(encoder.backbone, sd, path, what)
        return
    converted = family.convert_checkpoint(encoder, raw)
    if converted is not None and (sd is None or not any(w.key_mismatch(encoder.backbone, converted))):
        w.load_strict(encoder.backbone, converted, path, what)
        return
    if sd is None:
        raise ModelError(f"{path}: holds no state dict (a mapping of parameter names to tensors)")
    w.load_strict(encoder.backbone, sd, path, what)
