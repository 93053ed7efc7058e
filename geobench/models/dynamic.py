"""Building models outside the catalogue: ``timm:NAME``, ``terratorch:NAME`` and factories (a
``_target_`` of a model YAML, an installed entry point).

Library models take the declared bands (``model.bands``; default RGB, or a terratorch model's own
bands) through their first layer, which the library sizes to the band count (timm's
``in_chans``, terratorch's ``bands``). Their spec is read from the model built on torch's meta
device (no memory, no weights): levels from ``feature_info``, patch size, parameter count.
Factories are called with the keyword arguments they accept (:mod:`geobench.models.entry`).
Every result is wrapped by :class:`~geobench.models.wrap.WrappedEncoder`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from geobench.errors import ModelError
from geobench.models import library_builders as lb
from geobench.models.band_sets import parse_bands
from geobench.models.encoder import Encoder, count_params
from geobench.models.entry import ModelEntry
from geobench.models.planning import dataset_bands, plan_bands
from geobench.models.sources import ModelRequest, library_key
from geobench.models.spec import ALL_TASKS, OPTICAL, BandSpec, ModelSpec
from geobench.models.user import UserEncoder
from geobench.models.wrap import Levels, WrappedEncoder, discover_levels

_SPECS: dict[tuple[str, str, Any, str], ModelSpec] = {}


def library_spec(lib: str, name: str, bands: Sequence[BandSpec] | None,
                 kwargs: Mapping[str, Any]) -> ModelSpec:
    """The spec of ``timm:NAME`` / ``terratorch:NAME`` with these bands and keyword arguments,
    read from the model built on the meta device (cached)."""
    from geobench.torch_state import preserved_torch_state

    cache_key = (lib, name, tuple(bands) if bands is not None else None, repr(sorted(kwargs.items())))
    if cache_key not in _SPECS:
        with preserved_torch_state():
            module, used, facts = lb.build(lib, name, bands, dict(kwargs), pretrained=False,
                                           size=None, meta=True)
            levels = discover_levels(module, len(used), facts.image_size)
            _SPECS[cache_key] = ModelSpec(
                key=library_key(lib, name), family=lib, library=lib, architecture=name,
                input_bands={OPTICAL: tuple(used)}, patch_size=levels.patch,
                default_image_size=facts.image_size,
                out_indices=levels.library_indices(facts.out_indices),
                wavelength_aware=False, multi_modal=False, task_types=ALL_TASKS,
                license=facts.license, weights=None, backbone_params=count_params(module),
                paper=facts.paper, own_display_name=f"{name} ({lib})",
                source=f"{lib} {facts.version} ({lib}:{name})")
    return _SPECS[cache_key]


def _call_factory(spec: ModelSpec, entry: ModelEntry, kwargs: Mapping[str, Any],
                  offered: dict[str, Any]) -> nn.Module:
    """Call the factory with the offered arguments it accepts and ``model.kwargs``."""
    fn = entry.build
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = None
    var_kw = params is None or any(p.kind is p.VAR_KEYWORD for p in params.values())
    args = {k: v for k, v in offered.items() if var_kw or (params is not None and k in params)}
    if clash := sorted(set(kwargs) & set(offered)):
        raise ModelError(f"{spec.key}: model.kwargs may not set {clash}; geobench passes them")
    if not var_kw and params is not None and (unknown := sorted(set(kwargs) - set(params))):
        raise ModelError(f"{spec.key}: model.kwargs {unknown} are not parameters of "
                         f"{name}({', '.join(params)})")
    try:
        module = fn(**args, **kwargs)
    except ModelError:
        raise
    except Exception as exc:  # the user's code: one line, what to fix is theirs
        raise ModelError(f"{spec.key}: the factory {name} raised {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(module, nn.Module):
        raise ModelError(f"{spec.key}: the factory {name} returned a {type(module).__name__}; return a "
                         "geobench.models.UserEncoder or a timm-style nn.Module with feature_info")
    return module


def _first_conv_channels(module: nn.Module) -> int | None:
    conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    return int(conv.in_channels) if conv is not None else None


def _factory_module(spec: ModelSpec, entry: ModelEntry, req: ModelRequest,
                    offered_bands: tuple[BandSpec, ...], size: tuple[int, int],
                    pretrained: bool) -> tuple[nn.Module, ModelSpec]:
    module = _call_factory(spec, entry, req.kwargs, {"bands": offered_bands, "image_size": size,
                                                      "pretrained": pretrained})
    own = getattr(module, "input_bands", None) if isinstance(module, UserEncoder) else None
    if own is not None:
        bands = parse_bands(own, f"{type(module).__name__}.input_bands")
        spec = dataclasses.replace(spec, input_bands={OPTICAL: bands}, adapts_to_dataset_bands=False)
    else:
        bands = offered_bands
    first = _first_conv_channels(module)
    if first is not None and first != len(bands) and not isinstance(module, UserEncoder):
        raise ModelError(f"{spec.key}: the model's first convolution takes {first} channels but "
                         f"{len(bands)} bands feed it ({', '.join(b.name for b in bands)}); "
                         "declare its bands with model.bands=[...] or size its input to the bands")
    return module, spec


def build(spec: ModelSpec, entry: ModelEntry | None, req: ModelRequest, *,
          dataset_modalities: Mapping[str, Any], modalities: Sequence[str] | None,
          model_inputs: Mapping[str, str] | None, image_size: tuple[int, int],
          pretrained: bool) -> Encoder:
    """Build a model outside the catalogue for a dataset's bands (see the module docstring)."""
    if model_inputs:
        raise ModelError(f"{spec.key}: model_inputs apply to multi-modal catalogue models only")
    if entry is None:  # timm / terratorch
        bands = spec.input_bands[OPTICAL]
        module, _, _ = lb.build(spec.family, spec.architecture, bands, dict(req.kwargs),
                                pretrained=pretrained, size=image_size, meta=False)
    else:
        offered = spec.input_bands.get(OPTICAL) or tuple(
            BandSpec(b.name, b.wavelength_nm) for b in dataset_bands(spec, dataset_modalities, modalities))
        module, spec = _factory_module(spec, entry, req, tuple(offered), image_size, pretrained)
        bands = spec.input_bands.get(OPTICAL) or tuple(offered)
    levels: Levels = discover_levels(module, len(bands), int(image_size[0]))
    spec = dataclasses.replace(spec, out_indices=spec.out_indices if entry is None else levels.take,
                               patch_size=levels.patch, backbone_params=count_params(module))
    plan = plan_bands(spec, dataset_modalities, modalities)
    return WrappedEncoder(spec, plan, module, levels)


def convert_checkpoint(encoder: Encoder, raw: Any) -> dict[str, torch.Tensor] | None:
    """Models outside the catalogue have no published checkpoint format: ``weights_path`` takes
    the backbone's own state dict (``encoder.backbone.state_dict()``)."""
    del encoder, raw
    return None
