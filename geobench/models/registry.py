"""The model registry: one door (:func:`build_encoder`) to every backbone under its official key.

Listing and looking up specs imports no torch; building imports only the family's library
(timm, torchgeo or terratorch), when that family is built.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from geobench.bands import (
    BandMatch,
    identity_plan,
    is_non_imagery,
    is_sar_band,
    match_bands,
    wavelength_plan,
)
from geobench.errors import ModelError, UnknownNameError
from geobench.models.catalog import ALIASES, SPECS
from geobench.models.spec import OPTICAL, ModelSpec

if TYPE_CHECKING:
    from geobench.models.encoder import Encoder, EncoderPlan

_BY_KEY: dict[str, ModelSpec] = {s.key: s for s in SPECS}
_FAMILY_MODULES = {"timm": "timm_family", "torchgeo": "torchgeo_family",
                   "terratorch": "terratorch_family", "smoke": "smoke"}


def list_models(pattern: str = "*") -> list[str]:
    """Registry keys matching a shell-style ``pattern`` (``'prithvi*'``), in registry order."""
    return [s.key for s in SPECS if fnmatch.fnmatchcase(s.key, pattern)]


def aliases() -> dict[str, str]:
    """Short names -> registry keys (``prithvi`` -> ``prithvi_eo_v2_300_tl``)."""
    return dict(ALIASES)


def get_spec(key_or_alias: str) -> ModelSpec:
    """The spec of a registry key or alias.

    Raises:
        UnknownNameError: not a key or alias; the message suggests close names.
    """
    key = ALIASES.get(key_or_alias, key_or_alias)
    try:
        return _BY_KEY[key]
    except KeyError:
        raise UnknownNameError("model", key_or_alias, list(_BY_KEY) + list(ALIASES)) from None


# ----------------------------------------------------------------------------------------------
# band plans


def _modality_bands(value: Any) -> tuple[tuple[Any, ...], str | None]:
    """Bands and kind of a dataset modality given as a Band sequence or a manifest Modality."""
    if hasattr(value, "bands"):
        return tuple(value.bands), getattr(value, "kind", None)
    return tuple(value), None


def _is_optical(bands: Sequence[Any], kind: str | None) -> bool:
    if kind is not None:
        return kind in ("optical", "aerial")
    return any(b.wavelength_nm is not None for b in bands)


def _sar_flags(bands: Sequence[Any], kind: str | None) -> list[bool]:
    """Which bands of a modality are radar: its kind when known; else by name, and every imagery
    channel of a modality without any wavelength (a grey SAR amplitude image, a VV/VH ratio)."""
    if kind is not None:
        return [kind == "sar"] * len(bands)
    no_optical = all(b.wavelength_nm is None for b in bands)
    return [is_sar_band(b) or (no_optical and not is_non_imagery(b)) for b in bands]


def _is_sar(bands: Sequence[Any], kind: str | None) -> bool:
    return bool(bands) and all(_sar_flags(bands, kind))


def default_modalities(spec: ModelSpec, dataset: Mapping[str, Any]) -> list[str]:
    """The dataset modalities a model reads when the config does not choose: the first optical
    one (the published S2-only runs), else the first modality (SAR-only datasets)."""
    del spec  # the same rule for every model; the spec is kept for future per-model defaults
    for name, value in dataset.items():
        bands, kind = _modality_bands(value)
        if _is_optical(bands, kind):
            return [name]
    return [next(iter(dataset))]


def _flat(info: Mapping[str, tuple[tuple[Any, ...], str | None]], mods: Sequence[str]
          ) -> tuple[list[Any], list[str], list[bool], list[tuple[str, int]]]:
    """The bands of ``mods`` one after another: bands, ``mod/band`` labels, SAR flags, origins."""
    bands, labels, sar, where = [], [], [], []
    for m in mods:
        mb, kind = info[m]
        sar += _sar_flags(mb, kind)
        for i, b in enumerate(mb):
            bands.append(b)
            labels.append(f"{m}/{b.name}")
            where.append((m, i))
    return bands, labels, sar, where


def _model_input_of(spec: ModelSpec, m: str, bands: Sequence[Any], kind: str | None,
                    model_inputs: Mapping[str, str]) -> str:
    """The input of a multi-modal model that dataset modality ``m`` feeds."""
    if m in model_inputs:
        mm = model_inputs[m]
        if mm not in spec.input_bands:
            raise UnknownNameError(f"{spec.key} input", mm, list(spec.input_bands))
        return mm
    mm = "S1GRD" if _is_sar(bands, kind) else "S2L2A" if _is_optical(bands, kind) else ""
    if mm not in spec.input_bands:
        raise ModelError(f"{spec.key}: dataset modality {m!r} is neither optical nor SAR; "
                         f"the model takes {list(spec.input_bands)}")
    return mm


def _assign_inputs(spec: ModelSpec, chosen: Sequence[str],
                   info: Mapping[str, tuple[tuple[Any, ...], str | None]],
                   model_inputs: Mapping[str, str]) -> dict[str, str]:
    """Multi-modal models: model input -> the one dataset modality that feeds it."""
    assigned: dict[str, str] = {}
    for m in chosen:
        mm = _model_input_of(spec, m, *info[m], model_inputs)
        if mm in assigned:
            raise ModelError(f"{spec.key}: dataset modalities {assigned[mm]!r} and {m!r} both "
                             f"map to the model's {mm} input; choose one of them")
        assigned[mm] = m
    return assigned


def _single_input_plan(spec: ModelSpec, bands: list[Any], labels: list[str], sar: list[bool],
                       ignored: list[str]) -> list[BandMatch]:
    if spec.wavelength_aware:
        plan, dropped = wavelength_plan(bands, source_labels=labels, sar_source=sar)
        ignored += [f"{labels[i]}: no wavelength and not SAR" for i in dropped]
        return list(plan)
    if spec.adapts_to_dataset_bands:
        return list(identity_plan(bands, source_labels=labels))
    return list(match_bands(bands, spec.input_bands[OPTICAL], source_labels=labels, sar_source=sar))


def plan_bands(spec: ModelSpec, dataset_modalities: Mapping[str, Any],
               modalities: Sequence[str] | None = None,
               model_inputs: Mapping[str, str] | None = None) -> EncoderPlan:
    """Decide which dataset band feeds each model input channel (see :mod:`geobench.bands`).

    Args:
        spec: the model.
        dataset_modalities: dataset modality name -> its bands in manifest order (a sequence of
            ``Band``) or a manifest ``Modality`` (whose ``kind`` then says which one is SAR).
        modalities: the dataset modalities to feed (config ``modalities=[s1,s2]``); default
            :func:`default_modalities`.
        model_inputs: multi-modal models: dataset modality -> the model input it feeds (e.g.
            ``{"s2": "RGB"}`` for TerraMind's RGB tokenizer); default: optical -> S2L2A, SAR -> S1GRD.

    Raises:
        ModelError: an unknown modality, two modalities for one TerraMind input, or no dataset
            band the model can use.
    """
    from geobench.models.encoder import ChannelSource, EncoderPlan

    if not dataset_modalities:
        raise ModelError(f"{spec.key}: dataset_modalities is empty; give the dataset's bands")
    chosen = list(modalities) if modalities else default_modalities(spec, dataset_modalities)
    if unknown := [m for m in chosen if m not in dataset_modalities]:
        raise UnknownNameError("dataset modality", unknown[0], list(dataset_modalities))
    info = {m: _modality_bands(dataset_modalities[m]) for m in chosen}
    matches: dict[str, tuple[BandMatch, ...]] = {}
    sources: dict[str, tuple[ChannelSource, ...]] = {}
    used: set[tuple[str, int]] = set()
    ignored: list[str] = []

    def record(mm: str, plan: Sequence[BandMatch], where: list[tuple[str, int]]) -> None:
        matches[mm] = tuple(plan)
        srcs = []
        for bm in plan:
            if bm.source_index is None:
                srcs.append(ChannelSource(None, None))
            else:
                used.add(where[bm.source_index])
                srcs.append(ChannelSource(*where[bm.source_index]))
        sources[mm] = tuple(srcs)

    if spec.multi_modal:
        assigned = _assign_inputs(spec, chosen, info, model_inputs or {})
        for mm in spec.input_bands:
            if mm in assigned:
                bands, labels, sar, where = _flat(info, [assigned[mm]])
                record(mm, match_bands(bands, spec.input_bands[mm], source_labels=labels, sar_source=sar), where)
    else:
        bands, labels, sar, where = _flat(info, chosen)
        record(OPTICAL, _single_input_plan(spec, bands, labels, sar, ignored), where)
    if not any(s.modality is not None for srcs in sources.values() for s in srcs):
        raise ModelError(f"{spec.key}: none of the bands of dataset modalities {chosen} can feed "
                         f"the model (it takes {spec.bands_summary()}); choose other modalities")
    ignored += [f"{m}/{b.name}: not needed by the model's inputs" for m in chosen
                for i, b in enumerate(info[m][0])
                if (m, i) not in used and not any(x.startswith(f"{m}/{b.name}:") for x in ignored)]
    return EncoderPlan(matches=matches, sources=sources, dataset_channels={m: len(info[m][0]) for m in chosen},
                       ignored=tuple(ignored))


# ----------------------------------------------------------------------------------------------
# building


def build_encoder(key: str, *, dataset_modalities: Mapping[str, Any],
                  modalities: Sequence[str] | None = None, pretrained: bool = False,
                  image_size: int | Sequence[int] | None = None,
                  weights_path: str | None = None,
                  model_inputs: Mapping[str, str] | None = None) -> Encoder:
    """Build the encoder of registry model ``key`` for a dataset's bands.

    Args:
        key: registry key or alias.
        dataset_modalities: dataset modality -> bands in manifest order (or a manifest Modality).
        modalities: dataset modalities to feed (default: the first optical one).
        model_inputs: multi-modal models: dataset modality -> model input (see :func:`plan_bands`).
        pretrained: load the published weights (downloaded on demand into the cache); False
            builds offline with random weights.
        image_size: the input size (int or (H, W)); models with a size-bound component use it,
            the others accept any size.
        weights_path: a local state dict to load instead (the format of ``encoder.backbone``, or
            the published checkpoint's format); loaded strictly.

    Raises:
        UnknownNameError: unknown key; ModelError: unusable bands, weights that cannot be fetched
        or do not fit.
    """
    from geobench.models import weights as w
    from geobench.models.encoder import as_sequence
    from geobench.torch_state import preserved_torch_state

    spec = get_spec(key)
    plan = plan_bands(spec, dataset_modalities, modalities, model_inputs)
    size = as_sequence(image_size) or (spec.default_image_size, spec.default_image_size)
    pretrained_file = None
    if weights_path is None and pretrained:
        pretrained_file = w.fetch_weights(spec)
    # A family's library may change torch's global numerics when imported (terratorch sets the
    # float32 matmul precision to "medium"): import and build it with that state preserved.
    with preserved_torch_state():
        family = importlib.import_module(f"geobench.models.{_FAMILY_MODULES[spec.family]}")
        encoder: Encoder = family.build(spec, plan, image_size=size, pretrained_file=pretrained_file)
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
