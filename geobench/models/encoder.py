"""The one encoder interface every registry model is wrapped in.

``Encoder.forward({dataset_modality: (B, C, H, W)})`` returns feature maps ``(B, C_i, H_i, W_i)``
at the spec's ``out_indices``; ``channels`` and ``reductions`` describe them, so decoders never
special-case a model. The dataset's tensors come in the dataset's band order, already z-scored;
the encoder picks, reorders and zero-fills channels by its band plan (one ``index_select`` per
model modality) before calling the library backbone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from geobench.bands import BandMatch, describe_plan
from geobench.errors import ModelError
from geobench.models.spec import ModelSpec


@dataclass(frozen=True)
class ChannelSource:
    """Where one model input channel comes from: a dataset modality and band index, or zeros."""

    modality: str | None
    index: int | None


@dataclass(frozen=True)
class EncoderPlan:
    """The band plan of one build: per model modality, the match of every input channel.

    ``sources[mm][j]`` says which dataset band feeds channel ``j`` of model modality ``mm``;
    ``matches[mm][j]`` says why. ``dataset_channels`` is the band count of every dataset modality
    read; ``ignored`` lists dataset bands that feed nothing, with the reason.
    """

    matches: dict[str, tuple[BandMatch, ...]]
    sources: dict[str, tuple[ChannelSource, ...]]
    dataset_channels: dict[str, int]
    ignored: tuple[str, ...] = ()

    @property
    def required_modalities(self) -> list[str]:
        """Dataset modalities that feed at least one channel, in first-use order."""
        out: list[str] = []
        for srcs in self.sources.values():
            for s in srcs:
                if s.modality is not None and s.modality not in out:
                    out.append(s.modality)
        return out

    def in_chans(self, model_modality: str) -> int:
        """Number of input channels of a model modality."""
        return len(self.sources[model_modality])

    def wavelengths_um(self, model_modality: str) -> list[float]:
        """The wavelength (µm) each channel receives (wavelength-aware models)."""
        out = []
        for m in self.matches[model_modality]:
            if m.target_wavelength_nm is None:
                raise ModelError(f"band {m.target!r} has no wavelength for a wavelength-aware model")
            out.append(float(m.target_wavelength_nm) / 1000.0)
        return out

    def describe(self) -> str:
        """Human-readable plan, one line per channel."""
        parts = [f"[{mm}]\n{describe_plan(ms)}" for mm, ms in self.matches.items()]
        if self.ignored:
            parts.append("[unused dataset bands]\n" + "\n".join(self.ignored))
        return "\n".join(parts)


class Encoder(nn.Module):
    """Base class: band gathering around a library backbone (``self.backbone``).

    Subclasses set ``self.backbone`` (whose ``state_dict`` is the weights format of
    ``weights_path=``), ``channels`` and ``reductions``, and implement :meth:`forward_features`
    on model-modality inputs.
    """

    spec: ModelSpec
    channels: list[int]
    reductions: list[int]
    backbone: Any  # the library module (typed Any: its attributes are library-specific)

    def __init__(self, spec: ModelSpec, plan: EncoderPlan) -> None:
        super().__init__()
        self.spec = spec
        self.plan = plan
        self.required_modalities: list[str] = plan.required_modalities
        self.band_plan: dict[str, tuple[BandMatch, ...]] = dict(plan.matches)
        self.model_modalities: list[str] = list(plan.sources)
        self._gather: dict[str, tuple[list[str], bool]] = {}
        for mm, srcs in plan.sources.items():
            mods = [m for m in dict.fromkeys(s.modality for s in srcs) if m is not None]
            zero = any(s.modality is None for s in srcs)
            offsets, total = {}, 0
            for m in mods:
                offsets[m] = total
                total += plan.dataset_channels[m]
            index = [total if s.modality is None else offsets[s.modality] + int(s.index or 0)
                     for s in srcs]
            identity = (len(mods) == 1 and not zero and index == list(range(total)))
            self._gather[mm] = (mods, identity)
            self.register_buffer(f"_index_{mm}", torch.tensor(index, dtype=torch.long),
                                 persistent=False)

    # ------------------------------------------------------------------------------------------
    def gather(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Model-modality tensors from dataset-modality tensors (select, reorder, zero-fill)."""
        out: dict[str, Tensor] = {}
        for mm, (mods, identity) in self._gather.items():
            xs = []
            for m in mods:
                x = inputs.get(m)
                if x is None:
                    raise ModelError(f"{self.spec.key}: input modality {m!r} is missing; the "
                                     f"encoder reads {self.required_modalities}, got {sorted(inputs)}")
                if x.ndim != 4 or x.shape[1] != self.plan.dataset_channels[m]:
                    raise ModelError(
                        f"{self.spec.key}: modality {m!r} must be (B, {self.plan.dataset_channels[m]}"
                        f", H, W) in the dataset's band order, got {tuple(x.shape)}")
                xs.append(x)
            if identity:
                out[mm] = xs[0]
                continue
            if len({tuple(x.shape[-2:]) for x in xs}) > 1:
                raise ModelError(f"{self.spec.key}: modalities {mods} feed one model input and "
                                 f"must share H, W; got {[tuple(x.shape[-2:]) for x in xs]}")
            ref = xs[0]
            xs.append(ref.new_zeros((ref.shape[0], 1, *ref.shape[-2:])))
            stacked = torch.cat(xs, dim=1)
            out[mm] = stacked.index_select(1, getattr(self, f"_index_{mm}"))
        return out

    def forward(self, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        """Feature maps ``[(B, C_i, H_i, W_i)]`` at the spec's levels for dataset-modality inputs."""
        return self.forward_features(self.gather(inputs))

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:  # pragma: no cover
        """Features from model-modality inputs (implemented per family)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"key={self.spec.key}, modalities={self.required_modalities}, "
                f"channels={self.channels}, reductions={self.reductions}")


def tokens_to_map(tokens: Tensor, h: int, w: int) -> Tensor:
    """``(B, h*w, D)`` patch tokens (prefix tokens already removed) -> ``(B, D, h, w)``."""
    b, n, d = tokens.shape
    if n != h * w:
        raise ModelError(f"{n} patch tokens do not form a {h}x{w} grid")
    return tokens.transpose(1, 2).reshape(b, d, h, w)


def equally_spaced(depth: int, n: int = 4) -> tuple[int, ...]:
    """``n`` equally spaced block indices ending at the last block (24, 4 -> 5, 11, 17, 23)."""
    step = depth // n
    return tuple(step * (i + 1) - 1 for i in range(n))


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def pad_to_patch(x: Tensor, patch: int) -> tuple[Tensor, int, int]:
    """Zero-pad ``x`` at the bottom/right to a multiple of ``patch``; return it and its token grid.

    Inputs are z-scored, so zero padding is the band mean; the feature maps then cover
    ``ceil(H / patch)`` x ``ceil(W / patch)`` patches (decoders resize to the label size).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % patch, (-w) % patch
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph))
    return x, (h + ph) // patch, (w + pw) // patch


def as_sequence(x: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``224`` or ``(224, 224)`` -> ``(224, 224)``."""
    if x is None:
        return None
    if isinstance(x, int):
        return (x, x)
    t = tuple(int(v) for v in x)
    if len(t) != 2:
        raise ModelError(f"image_size must be an int or (H, W), got {x!r}")
    return (t[0], t[1])
