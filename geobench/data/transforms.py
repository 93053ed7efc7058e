"""Per-sample steps of the loader, as GEO-Bench-2's datamodules do them (GeoBenchV2 0.9).

- :func:`resize_image` / :func:`resize_mask` / :func:`resize_boxes`: the official datamodules
  resize every split with ``kornia.augmentation.Resize`` (images bilinear with
  ``align_corners=True`` and no antialiasing; masks nearest, kornia 0.9's ``nearest-exact``;
  ``bbox_xyxy`` boxes scaled as pixel indices, ``x' = x * (W_out - 1) / (W_in - 1)``);
- :func:`select_steps`: which time steps of a series feed the model
  (:class:`geobench.manifest.TimeSelection`);
- :func:`zscore`: ``(x - mean) / (std + 1e-6)``, the official ``ZScoreNormalizer``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from geobench.manifest import TimeSelection

ZSCORE_EPS = 1e-6  # the official ZScoreNormalizer's denominator offset


def resize_image(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of ``(..., H, W)`` float data to ``size``², as kornia's Resize."""
    if x.shape[-2:] == (size, size):
        return x
    lead = x.shape[:-2]
    y = F.interpolate(x.reshape(1, -1, *x.shape[-2:]).float(), size=(size, size), mode="bilinear",
                      align_corners=True, antialias=False)
    return y.reshape(*lead, size, size).to(x.dtype)


def resize_mask(x: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest-neighbour resize of ``(..., H, W)`` labels or masks to ``size``² (``nearest-exact``)."""
    if x.shape[-2:] == (size, size):
        return x
    lead = x.shape[:-2]
    y = F.interpolate(x.reshape(1, -1, *x.shape[-2:]).float(), size=(size, size), mode="nearest-exact")
    return y.reshape(*lead, size, size).to(x.dtype)


def resize_boxes(boxes: torch.Tensor, in_hw: tuple[int, int], size: int) -> torch.Tensor:
    """xyxy pixel boxes of an ``in_hw`` image in a ``size``² image (kornia's pixel-index scaling)."""
    h, w = int(in_hw[0]), int(in_hw[1])
    if (h, w) == (size, size):
        return boxes
    sx = (size - 1) / (w - 1) if w > 1 else float(size) / max(w, 1)
    sy = (size - 1) / (h - 1) if h > 1 else float(size) / max(h, 1)
    return boxes * torch.tensor([sx, sy, sx, sy], dtype=boxes.dtype)


def select_steps(arr: np.ndarray, mask: np.ndarray | None,
                 selection: TimeSelection) -> tuple[np.ndarray, np.ndarray]:
    """Pick the steps of one sample's series ``arr`` ``(T, C, H, W)`` among its real steps.

    Returns the picked series ``(T', C, H, W)`` (missing steps zero) and its mask ``(T',)``
    (True = a real step).
    """
    real = np.flatnonzero(mask) if mask is not None else np.arange(arr.shape[0])
    picks = selection.pick(len(real))
    out = np.zeros((len(picks), *arr.shape[1:]), dtype=arr.dtype)
    keep = np.zeros(len(picks), dtype=bool)
    for j, p in enumerate(picks):
        if p is not None:
            out[j] = arr[real[p]]
            keep[j] = True
    return out, keep


def zscore(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / (std + 1e-6)`` in place on float32 ``x`` (mean/std shaped to broadcast)."""
    x -= mean
    x /= std + np.float32(ZSCORE_EPS)
    return x
