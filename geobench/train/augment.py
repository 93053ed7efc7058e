"""Random horizontal and vertical flips of a collated training batch, applied on its device.

GEO-Bench-2's default train augmentation is ``RandomHorizontalFlip(p=0.5)`` followed by
``RandomVerticalFlip(p=0.5)`` (kornia), applied to the collated batch after it reaches the device
(``on_after_batch_transfer``), for train batches only; evaluation batches are not augmented.
:func:`flip_batch` does the same in plain torch, with these properties of the official pipeline:

- every sample draws its own two decisions (horizontal, vertical), independently of the others
  and of each other;
- every modality and every time step of one sample get that sample's flips; a dense target
  (segmentation mask, regression map) and ``valid_mask`` flip with the image; class and
  multi-label targets and ``time_mask`` are unchanged;
- detection: boxes and instance masks flip with the image, labels are unchanged.

Box pixel convention. The official pipeline passes boxes under kornia's ``bbox_xyxy`` key, which
kornia reads as ``xyxy_plus``: ``x2``/``y2`` are the index of the last pixel inside the box
(inclusive), and a flip maps every coordinate as ``x -> (W - 1) - x``. So a horizontal flip of an
image of width ``W`` maps ``x1' = W - 1 - x2``, ``x2' = W - 1 - x1`` (vertical: the same with
``y`` and ``H``). This is the default here (``box_convention="inclusive"``), and it is exact for
GEO-Bench-2's boxes derived from masks, whose max is the last pixel inside. For boxes whose
``x2`` is exclusive (one past the last pixel, torchvision's continuous reading),
``box_convention="exclusive"`` maps ``x1' = W - x2``, ``x2' = W - x1``; the two differ by one pixel.

The decisions come from one ``torch.rand(B, 2)`` call on a ``torch.Generator``, so a run is
reproducible from its seed (on one device type: CPU and CUDA generators give different streams).
Dense tensors are flipped with ``torch.where`` (no per-sample Python loop, no device sync); the
per-sample detection targets are a short loop, also sync-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch

from geobench.errors import ConfigError

BoxConvention = Literal["inclusive", "exclusive"]
#: The convention of GEO-Bench-2's official pipeline (kornia ``xyxy_plus``): ``x -> W - 1 - x``.
OFFICIAL_BOX_CONVENTION: BoxConvention = "inclusive"

__all__ = ["OFFICIAL_BOX_CONVENTION", "BatchFlipper", "BoxConvention", "draw_flips", "flip_batch"]


def _check(p_h: float, p_v: float, box_convention: str) -> None:
    for name, p in (("p_h", p_h), ("p_v", p_v)):
        if not 0.0 <= float(p) <= 1.0:
            raise ConfigError(f"flip probability {name}={p}: expected a value in [0, 1]")
    if box_convention not in ("inclusive", "exclusive"):
        raise ConfigError(f"box_convention={box_convention!r}: expected 'inclusive' or 'exclusive'")


def _batch_size(batch: Mapping[str, Any]) -> int:
    inputs = batch.get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        raise ValueError("flip_batch: batch['inputs'] must be a non-empty {modality: tensor} dict")
    sizes = {int(x.shape[0]) for x in inputs.values()}
    if len(sizes) != 1:
        raise ValueError(f"flip_batch: modalities disagree on the batch size: {sorted(sizes)}")
    return sizes.pop()


def draw_flips(batch_size: int, generator: torch.Generator, p_h: float = 0.5,
               p_v: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample flip decisions: bool ``(B,)`` horizontal and vertical, on the generator's device.

    One ``torch.rand(B, 2)`` call; ``p=0`` never flips and ``p=1`` always does (``rand < 1``).
    """
    u = torch.rand(batch_size, 2, generator=generator, device=generator.device)
    return u[:, 0] < p_h, u[:, 1] < p_v


def _flip_dense(x: torch.Tensor, h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Flip the last two (H, W) axes of the samples of ``x`` (batch first) selected by ``h``/``v``.

    A 5-D ``(B, T, C, H, W)`` tensor gets its sample's flips at every time step.
    """
    if x.ndim < 3:
        raise ValueError(f"flip_batch: expected a (B, ..., H, W) tensor, got shape {tuple(x.shape)}")
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    h = h.to(x.device).view(shape)
    v = v.to(x.device).view(shape)
    x = torch.where(h, x.flip(-1), x)
    return torch.where(v, x.flip(-2), x)


def _flip_detection(target: Mapping[str, Any], h: torch.Tensor, v: torch.Tensor,
                    height: int, width: int, box_convention: BoxConvention) -> dict[str, Any]:
    """One sample's detection target; ``h``/``v`` are 0-d bool tensors (no host sync)."""
    out = dict(target)
    off = 1 if box_convention == "inclusive" else 0
    boxes = target.get("boxes")
    if boxes is not None:
        hb, vb = h.to(boxes.device), v.to(boxes.device)
        cx, cy = width - off, height - off
        x1, y1, x2, y2 = boxes.unbind(-1)
        boxes = torch.where(hb, torch.stack([cx - x2, y1, cx - x1, y2], -1), boxes)
        x1, y1, x2, y2 = boxes.unbind(-1)
        out["boxes"] = torch.where(vb, torch.stack([x1, cy - y2, x2, cy - y1], -1), boxes)
    masks = target.get("masks")
    if masks is not None:
        if tuple(masks.shape[-2:]) != (height, width):
            raise ValueError(f"flip_batch: instance masks are {tuple(masks.shape[-2:])}, "
                             f"the image is {(height, width)}")
        hm, vm = h.to(masks.device), v.to(masks.device)
        masks = torch.where(hm, masks.flip(-1), masks)
        out["masks"] = torch.where(vm, masks.flip(-2), masks)
    return out


def flip_batch(batch: Mapping[str, Any], generator: torch.Generator, p_h: float = 0.5,
               p_v: float = 0.5, *, box_convention: BoxConvention = OFFICIAL_BOX_CONVENTION) -> dict[str, Any]:
    """Randomly flip each sample of a collated batch (see the module docstring).

    Args:
        batch: ``inputs`` {modality: ``(B, C, H, W)`` or ``(B, T, C, H, W)``}; optional
            ``time_mask`` ``(B, T)`` (unchanged) and ``valid_mask`` ``(B, H, W)`` (flipped);
            ``target``: ``(B,)``/``(B, K)`` (unchanged), ``(B, H, W)`` (flipped), or a list of
            per-sample dicts with ``boxes`` ``(M, 4)`` xyxy pixels and optional ``masks``
            ``(M, H, W)`` (flipped; other keys unchanged). Other keys are passed through.
        generator: draws the decisions, on its own device (the batch may be elsewhere).
        p_h: probability of a horizontal flip (left-right, the W axis).
        p_v: probability of a vertical flip (up-down, the H axis).
        box_convention: ``"inclusive"`` (official: ``x -> W - 1 - x``) or ``"exclusive"``
            (``x -> W - x``).

    Returns:
        A new batch dict; the input tensors are not modified.
    """
    _check(p_h, p_v, box_convention)
    n = _batch_size(batch)
    h, v = draw_flips(n, generator, p_h, p_v)
    out = flip_targets(batch, h, v)
    inputs: Mapping[str, torch.Tensor] = batch["inputs"]
    out["inputs"] = {m: _flip_dense(x, h, v) for m, x in inputs.items()}
    target = batch.get("target")
    if isinstance(target, (list, tuple)):
        if len(target) != n:
            raise ValueError(f"flip_batch: {len(target)} detection targets for {n} samples")
        grids = {tuple(x.shape[-2:]) for x in inputs.values()}
        if len(grids) != 1:
            raise ValueError(f"flip_batch: boxes need one pixel grid, the modalities have {sorted(grids)}")
        height, width = (int(s) for s in grids.pop())
        out["target"] = [_flip_detection(t, h[i], v[i], height, width, box_convention)
                         for i, t in enumerate(target)]
    return out


def flip_targets(batch: Mapping[str, Any], h: torch.Tensor, v: torch.Tensor) -> dict[str, Any]:
    """The batch with its dense target and ``valid_mask`` flipped by the decisions ``h``/``v``
    (what flipping the inputs does to them; inputs and detection targets are left to the caller).
    Used as it is by the frozen-feature cache, whose inputs are features stored per flip."""
    out = dict(batch)
    if batch.get("valid_mask") is not None:
        out["valid_mask"] = _flip_dense(batch["valid_mask"], h, v)
    target = batch.get("target")
    if isinstance(target, torch.Tensor) and target.ndim >= 3:  # (B, H, W) segmentation, regression
        out["target"] = _flip_dense(target, h, v)
    return out


class BatchFlipper:
    """Holds the generator of a run's flips: ``batch = flipper(batch)`` for train batches only.

    Args:
        seed: seeds the generator (the run's seed, or one derived from it).
        device: where the generator lives (the training device, so drawing needs no transfer).
        p_h: probability of a horizontal flip.
        p_v: probability of a vertical flip.
        enabled: when False, ``__call__`` returns the batch unchanged (and draws nothing).
        box_convention: see :func:`flip_batch`.
    """

    def __init__(self, seed: int, device: torch.device | str = "cpu", *, p_h: float = 0.5,
                 p_v: float = 0.5, enabled: bool = True,
                 box_convention: BoxConvention = OFFICIAL_BOX_CONVENTION) -> None:
        _check(p_h, p_v, box_convention)
        self.seed = int(seed)
        self.generator = torch.Generator(device=torch.device(device))
        self.generator.manual_seed(self.seed)
        self.p_h, self.p_v = float(p_h), float(p_v)
        self.enabled = enabled
        self.box_convention: BoxConvention = box_convention

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        if not self.enabled:
            return batch
        return flip_batch(batch, self.generator, self.p_h, self.p_v, box_convention=self.box_convention)

    def state_dict(self) -> dict[str, Any]:
        """The generator's state (for resuming a run with the same flips)."""
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.seed = int(state["seed"])
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return (f"BatchFlipper(seed={self.seed}, device={self.generator.device}, p_h={self.p_h}, "
                f"p_v={self.p_v}, enabled={self.enabled}, box_convention={self.box_convention!r})")
