"""Band plans: which dataset band feeds each input channel of a model (see :mod:`geobench.bands`).

:func:`plan_bands` is used by every build (:func:`geobench.models.registry.build_encoder`) and by
``python -m geobench.models plan``; it imports no torch.
"""

from __future__ import annotations

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
from geobench.models.spec import OPTICAL, ModelSpec

if TYPE_CHECKING:
    from geobench.models.encoder import EncoderPlan

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

    chosen, info = _chosen_modalities(spec, dataset_modalities, modalities)
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


def _chosen_modalities(spec: ModelSpec, dataset_modalities: Mapping[str, Any],
                       modalities: Sequence[str] | None) -> tuple[list[str], dict[str, Any]]:
    """The dataset modalities to feed (checked against the dataset) and each one's band info."""
    if not dataset_modalities:
        raise ModelError(f"{spec.key}: dataset_modalities is empty; give the dataset's bands")
    chosen = list(modalities) if modalities else default_modalities(spec, dataset_modalities)
    if unknown := [m for m in chosen if m not in dataset_modalities]:
        raise UnknownNameError("dataset modality", unknown[0], list(dataset_modalities))
    return chosen, {m: _modality_bands(dataset_modalities[m]) for m in chosen}


def dataset_bands(spec: ModelSpec, dataset_modalities: Mapping[str, Any],
                  modalities: Sequence[str] | None = None) -> tuple[Any, ...]:
    """The bands a model that takes the dataset's own bands receives, in channel order (the
    chosen modalities' bands one after another, as :func:`plan_bands` feeds them)."""
    chosen, info = _chosen_modalities(spec, dataset_modalities, modalities)
    return tuple(_flat(info, chosen)[0])
