"""Any multi-scale module behind geobench's encoder interface.

:func:`discover_levels` reads which feature levels a module gives and their channels and strides:
a :class:`~geobench.models.user.UserEncoder` declares them; a timm-style module has
``feature_info`` (timm's ``FeatureInfo`` of a ``features_only`` model, or the per-stage/per-block
list of a full model, read through ``forward_intermediates``); any other module is run once on a
zero input and its outputs are measured. At most four levels feed the decoders: all
when there are four or fewer, else four equally spaced blocks of a token model or the last four
stages of a pyramid. :class:`WrappedEncoder` runs the module and returns those levels as maps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from geobench.errors import ModelError
from geobench.models.encoder import (
    Encoder,
    EncoderPlan,
    equally_spaced,
    pad_to_patch,
    tokens_to_map,
)
from geobench.models.spec import OPTICAL, ModelSpec
from geobench.models.user import UserEncoder

MAX_LEVELS = 4


@dataclass(frozen=True)
class Levels:
    """How to get the features of a module: ``mode`` "list" (``forward`` returns a list; keep
    ``take`` of it) or "intermediates" (``forward_intermediates(indices=take)``); ``available``:
    how many levels the module offers; ``channels_last``: its maps are (B, H, W, C) (timm's
    ``features_only`` Swin)."""

    mode: str
    take: tuple[int, ...]
    channels: tuple[int, ...]
    reductions: tuple[int, ...]
    patch: int | None
    available: int
    channels_last: bool = False

    def library_indices(self, own: Sequence[int] | None) -> tuple[int, ...]:
        """The taken levels in the library's numbering ``own`` (one index per offered level),
        else in the module's own order."""
        if own is not None and len(own) == self.available:
            return tuple(int(own[i]) for i in self.take)
        return self.take


def choose_levels(reductions: Sequence[int]) -> tuple[int, ...]:
    """The levels fed to decoders: all of up to four; four equally spaced blocks when every level
    has the same stride (a ViT); else the last four (the deepest stages of a pyramid)."""
    n = len(reductions)
    if n <= MAX_LEVELS:
        return tuple(range(n))
    if len(set(reductions)) == 1:
        return equally_spaced(n, MAX_LEVELS)
    return tuple(range(n - MAX_LEVELS, n))


def patch_of(module: nn.Module) -> int | None:
    """The patch stride of a token model (``patch_embed.patch_size`` or ``patch_size``, also of
    the ``model`` a timm feature wrapper holds)."""
    inner = getattr(module, "model", None)
    owners = [getattr(module, "patch_embed", None), module]
    if isinstance(inner, nn.Module):
        owners += [getattr(inner, "patch_embed", None), inner]
    for owner in owners:
        value = getattr(owner, "patch_size", None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, Sequence) and value and all(isinstance(v, int) for v in value):
            return int(value[-1])
    return None


def _declared(module: UserEncoder) -> Levels:
    ch, red = tuple(int(c) for c in module.channels), tuple(int(r) for r in module.reductions)
    if not ch or len(ch) != len(red):
        raise ModelError(f"{type(module).__name__}: declare channels and reductions, one of each "
                         f"per feature level (got {len(ch)} channels, {len(red)} reductions)")
    return Levels("list", tuple(range(len(ch))), ch, red, module.patch_size, len(ch))


def _from_feature_info(module: nn.Module, info: Any) -> Levels:
    if hasattr(info, "channels") and hasattr(info, "reduction"):  # timm FeatureInfo (features_only)
        ch, red = tuple(info.channels()), tuple(info.reduction())
        take = choose_levels(red)
        patch = red[0] if len(set(red)) == 1 and patch_of(module) else None
        nhwc = getattr(getattr(module, "output_fmt", None), "value", None) == "NHWC"
        return Levels("list", take, tuple(ch[i] for i in take), tuple(red[i] for i in take), patch,
                      len(ch), channels_last=nhwc)
    if not all(isinstance(f, dict) and "num_chs" in f and "reduction" in f for f in info):
        raise ModelError(f"{type(module).__name__}.feature_info must be timm's FeatureInfo or a list "
                         "of {'num_chs': C, 'reduction': R, 'module': name} per level")
    ch, red = tuple(int(f["num_chs"]) for f in info), tuple(int(f["reduction"]) for f in info)
    take = choose_levels(red)
    patch = red[0] if len(set(red)) == 1 and patch_of(module) else None
    mode = "intermediates" if hasattr(module, "forward_intermediates") else "list"
    return Levels(mode, take, tuple(ch[i] for i in take), tuple(red[i] for i in take), patch, len(ch))


def _measured(module: nn.Module, in_chans: int, size: int) -> Levels:
    """Levels of a module without feature_info: one forward pass of a zero input on the
    module's device (the meta device when only the spec is read: shapes, no compute)."""
    patch = patch_of(module)
    step = patch or 64  # a side every stride of a pyramid (up to 64) divides
    side = max(1, math.ceil(size / step)) * step
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        with torch.no_grad():
            outs = module(torch.zeros(1, in_chans, side, side, device=device))
    except Exception as exc:
        raise ModelError(f"{type(module).__name__} has no feature_info and a trial forward pass of a "
                         f"(1, {in_chans}, {side}, {side}) input failed ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); declare its levels (UserEncoder or feature_info)") from None
    outs = _as_list(module, outs)
    ch, red = [], []
    for o in outs:
        if o.ndim == 4:
            ch.append(int(o.shape[1]))
            red.append(max(1, round(side / int(o.shape[-2]))))
        elif o.ndim == 3 and patch is not None:
            ch.append(int(o.shape[-1]))
            red.append(patch)
        else:
            raise ModelError(f"{type(module).__name__} returned a {tuple(o.shape)} tensor; expected "
                             "maps (B, C, H, W) or, from a model with a patch_size, tokens (B, N, D)")
    take = choose_levels(red)
    return Levels("list", take, tuple(ch[i] for i in take), tuple(red[i] for i in take), patch, len(ch))


def discover_levels(module: nn.Module, in_chans: int, size: int) -> Levels:
    """The feature levels of ``module`` (see the module docstring)."""
    if isinstance(module, UserEncoder):
        return _declared(module)
    info = getattr(module, "feature_info", None)
    if info is not None:
        return _from_feature_info(module, info)
    return _measured(module, in_chans, size)


def _as_list(module: nn.Module, outs: Any) -> list[Tensor]:
    if isinstance(outs, dict):
        outs = list(outs.values())
    if not isinstance(outs, list | tuple) or not all(isinstance(o, Tensor) for o in outs):
        raise ModelError(f"{type(module).__name__}.forward returned a {type(outs).__name__}; a "
                         "multi-scale encoder returns a list of feature tensors, one per level")
    return list(outs)


class WrappedEncoder(Encoder):
    """A module that is not one of the catalogue's families, behind the encoder interface."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan, module: nn.Module, levels: Levels) -> None:
        super().__init__(spec, plan)
        self.backbone = module
        self.levels = levels
        self.channels = list(levels.channels)
        self.reductions = list(levels.reductions)

    def _run(self, img: Tensor) -> list[Tensor]:
        lv = self.levels
        if lv.mode == "intermediates":
            extra = {"output_fmt": "NCHW"} if lv.patch else {}
            return _as_list(self.backbone, self.backbone.forward_intermediates(
                img, indices=list(lv.take), intermediates_only=True, **extra))
        outs = _as_list(self.backbone, self.backbone(img))
        if len(outs) <= max(lv.take):
            raise ModelError(f"{self.spec.key}: forward returned {len(outs)} feature maps, "
                             f"expected {max(lv.take) + 1} (its feature_info/levels)")
        return [outs[i] for i in lv.take]

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        img = x[OPTICAL]
        h, w = img.shape[-2:]
        if self.levels.patch:
            img, h, w = pad_to_patch(img, self.levels.patch)
        out = []
        for f in self._run(img):
            if f.ndim == 3:  # tokens: drop prefix (class, register) tokens
                f = tokens_to_map(f[:, f.shape[1] - h * w:], h, w)
            elif self.levels.channels_last:
                f = f.permute(0, 3, 1, 2)
            out.append(f)
        return out
