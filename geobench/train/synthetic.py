"""In-memory learnable synthetic tasks and two tiny encoders, for tests and CPU benchmarks.

Every class ``k`` has a spectral signature ``sig[k]`` (one value per band, drawn once per dataset
seed); a pixel of class ``k`` shows ``sig[k]`` plus Gaussian noise. The targets follow from the
spectra by a fixed rule, so a model that reads them can reach the *attainable* score:

* classification: the class covering ~60 % of the image (the rest random) -> accuracy 1.0;
* multi-label: the set of classes present (each on a block) -> F1 1.0;
* segmentation: the class of each pixel, classes on 8-pixel blocks -> mIoU 1.0 (noise 0.1 against
  signature gaps >= 0.5 in some band, so the per-block Bayes error is negligible);
* regression: ``w · pixel`` (noise-free linear rule on the observed pixel, ``w`` scaled so the
  targets spread about 1) -> RMSE 0 / R² 1;
* detection: squares of class k's signature on a background signature.

Time series repeat the scene with fresh noise per step; ``variable_length`` pads some series with
zero steps and marks them in ``time_mask``. The encoders follow the registry's encoder interface
(``channels``, ``reductions``, ``required_modalities``, ``forward({modality: x}) -> [features]``):
:class:`TinyConvEncoder` is a 3-level CNN pyramid, :class:`TinyViTEncoder` a 2-block ViT whose
levels share one reduction (so decoders see the ViT case).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset


def _signatures(rng: np.random.Generator, k: int, bands: int, gap: float = 0.5) -> np.ndarray:
    sig = rng.normal(0.0, 1.0, size=(k, bands))
    for i in range(1, k):
        for _ in range(1000):
            if np.all(np.abs(sig[:i] - sig[i]).max(axis=1) >= gap):
                break
            sig[i] = rng.normal(0.0, 1.0, size=bands)
    return sig.astype(np.float32)


def _blocks(rng: np.random.Generator, size: int, choices: np.ndarray, cell: int) -> np.ndarray:
    cells = -(-size // cell)
    coarse = rng.choice(choices, size=(cells, cells))
    return np.repeat(np.repeat(coarse, cell, 0), cell, 1)[:size, :size]


class SyntheticTaskDataset(Dataset):
    """A learnable synthetic dataset of ``n`` samples for ``task`` (see the module docstring).

    Args:
        task: one of the six task types.
        n: number of samples; ``split_seed`` varies the samples, ``seed`` fixes the signatures.
        bands: bands of the single modality ``modality``.
        size: image side in pixels.
        num_classes: classes (object classes for detection).
        time_steps: ``None`` for single-date samples, else ``T`` (inputs ``(T, C, H, W)``).
        variable_length: with ``time_steps``, pad random tails with zeros and give ``time_mask``.
        noise: standard deviation of the per-pixel noise.
    """

    def __init__(self, task: str, n: int = 64, *, bands: int = 4, size: int = 16,
                 num_classes: int = 3, time_steps: int | None = None,
                 variable_length: bool = False, noise: float = 0.1, seed: int = 0,
                 split_seed: int = 0, modality: str = "s2", ignore_index: int = -1) -> None:
        self.task, self.n, self.bands, self.size = task, n, bands, size
        self.num_classes, self.time_steps, self.noise = num_classes, time_steps, noise
        self.variable_length, self.modality, self.ignore_index = variable_length, modality, ignore_index
        sig_rng = np.random.default_rng(seed)
        k = num_classes + (1 if task in ("detection", "instance_segmentation") else 0)
        self.signatures = _signatures(sig_rng, max(k, 2), bands)
        w = sig_rng.normal(0.0, 1.0, size=bands)
        spread = float(np.std(self.signatures @ w)) or 1.0  # regression targets of unit scale
        self.weights = (w / spread).astype(np.float32)
        self._seed = (seed, split_seed)

    def __len__(self) -> int:
        return self.n

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([*self._seed, index])

    def _scene(self, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        k, s = self.num_classes, self.size
        if self.task == "classification":
            label = int(rng.integers(k))
            cmap = _blocks(rng, s, np.arange(k), 4)
            cmap[rng.random((s, s)) < 0.6] = label
            return cmap, np.int64(label)
        if self.task == "multilabel_classification":
            hot = (rng.random(k) < 0.4).astype(np.float32)
            if hot.sum() == 0:
                hot[rng.integers(k)] = 1.0
            return _blocks(rng, s, np.flatnonzero(hot), 4), hot
        if self.task == "segmentation":
            cmap = _blocks(rng, s, np.arange(k), 8)
            return cmap, cmap.astype(np.int64)
        if self.task == "regression":
            return _blocks(rng, s, np.arange(k), 4), None
        cmap = np.zeros((s, s), dtype=np.int64)  # detection: background is signature 0
        boxes, labels, masks = [], [], []
        for _ in range(int(rng.integers(1, 4))):
            w = int(rng.integers(max(4, s // 6), max(5, s // 3)))
            x0, y0 = (int(v) for v in rng.integers(0, s - w, size=2))
            c = int(rng.integers(1, k + 1))
            cmap[y0:y0 + w, x0:x0 + w] = c
            boxes.append([x0, y0, x0 + w, y0 + w])
            labels.append(c)
            m = np.zeros((s, s), dtype=np.uint8)
            m[y0:y0 + w, x0:x0 + w] = 1
            masks.append(m)
        target = {"boxes": torch.tensor(boxes, dtype=torch.float32),
                  "labels": torch.tensor(labels, dtype=torch.int64)}
        if self.task == "instance_segmentation":
            target["masks"] = torch.from_numpy(np.stack(masks))
        return cmap, target

    def _render(self, cmap: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = self.signatures[cmap].transpose(2, 0, 1)
        return (img + rng.normal(0.0, self.noise, size=img.shape)).astype(np.float32)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        cmap, target = self._scene(rng)
        sample: dict[str, Any] = {"index": index}
        if self.time_steps is None:
            img = self._render(cmap, rng)
            sample["inputs"] = {self.modality: torch.from_numpy(img)}
        else:
            t = self.time_steps
            steps = np.stack([self._render(cmap, rng) for _ in range(t)])
            if self.variable_length:
                real = int(rng.integers(1, t + 1))
                steps[real:] = 0.0
                sample["time_mask"] = torch.arange(t) < real
            img = steps[0]
            sample["inputs"] = {self.modality: torch.from_numpy(steps)}
        if self.task == "regression":
            target = np.tensordot(self.weights, img, axes=1).astype(np.float32)
            sample["valid_mask"] = torch.ones(target.shape, dtype=torch.bool)
        sample["target"] = target if isinstance(target, dict) else torch.as_tensor(target)
        return sample


class TinyConvEncoder(nn.Module):
    """A 3-level CNN pyramid (reductions 2, 4, 8) over the channel-stacked modalities."""

    def __init__(self, modality_channels: Mapping[str, int], widths: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        self.required_modalities = list(modality_channels)
        layers, prev = [], sum(modality_channels.values())
        for w in widths:
            layers.append(nn.Sequential(nn.Conv2d(prev, w, 3, stride=2, padding=1), nn.BatchNorm2d(w),
                                        nn.ReLU(inplace=True), nn.Conv2d(w, w, 3, padding=1),
                                        nn.ReLU(inplace=True)))
            prev = w
        self.stages = nn.ModuleList(layers)
        self.channels = list(widths)
        self.reductions = [2 ** (i + 1) for i in range(len(widths))]

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        x = torch.cat([inputs[m] for m in self.required_modalities], dim=1)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))


class TinyViTEncoder(nn.Module):
    """A 2-block ViT (patch 4); both levels at reduction 4, tokens reshaped to maps."""

    def __init__(self, modality_channels: Mapping[str, int], dim: int = 32, depth: int = 2,
                 patch: int = 4, heads: int = 2) -> None:
        super().__init__()
        self.required_modalities = list(modality_channels)
        self.patch_embed = nn.Conv2d(sum(modality_channels.values()), dim, patch, stride=patch)
        self.blocks = nn.ModuleList(_Block(dim, heads) for _ in range(depth))
        self.channels = [dim] * depth
        self.reductions = [patch] * depth

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        x = self.patch_embed(torch.cat([inputs[m] for m in self.required_modalities], dim=1))
        b, d, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        feats = []
        for blk in self.blocks:
            tokens = blk(tokens)
            feats.append(tokens.transpose(1, 2).reshape(b, d, h, w))
        return feats
