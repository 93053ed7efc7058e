"""A prepared split held on the training device: the batches of :class:`PreparedDataset` with no
loader workers and no host copies per step.

The split's inputs are read once, band- and time-selected, and kept on the device in their
source dtype (uint8, uint16, int16, float16, ...); each batch is gathered by index, then
normalised (``(x − mean) / (std + 1e-6)``), cleared at no-data pixels and missing steps, and
resized on the device, in the order :class:`PreparedDataset` does it per sample, so the batches
are the same numbers. Targets are small and kept ready. Batches come in the order a DataLoader
with the run's seeded generator gives (a DataLoader over the indices draws it), so a resident run
and a loader run train on the same batches.

Splits that vary in size (``valid_hw``) and detection targets keep the loader path
(:func:`supports`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from geobench.data.dataset import PreparedDataset, collate
from geobench.data.transforms import ZSCORE_EPS, resize_image


def supports(ds: PreparedDataset) -> bool:
    return not ds.has_valid_hw and ds.task not in ("detection", "instance_segmentation") and ds.transform is None


def nbytes(ds: PreparedDataset) -> int:
    """Device bytes the split's inputs take in their source dtype (before any selection)."""
    total = 0
    with __import__("h5py").File(ds.path, "r") as h5:
        for m in ds.modalities:
            node = h5["inputs"][m]
            total += int(np.prod(node.shape)) * node.dtype.itemsize
    return total


class _Indices(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


class ResidentSplit:
    """Iterate batches of ``ds`` held on ``device`` (shuffled like the loop's DataLoader)."""

    def __init__(self, ds: PreparedDataset, device: torch.device, *, batch_size: int, shuffle: bool,
                 seed: int, drop_last: bool = False) -> None:
        from geobench.train.seeding import loader_generator

        if not supports(ds):
            raise ValueError(f"{ds.path}: cannot be held on the device (variable sizes or detection)")
        self.ds, self.device = ds, device
        self.loader = torch.utils.data.DataLoader(_Indices(len(ds)), batch_size=batch_size, shuffle=shuffle,
                                                  generator=loader_generator(seed), drop_last=drop_last)
        self._load()

    def _load(self) -> None:
        ds, dev = self.ds, self.device
        raw: dict[str, list[np.ndarray]] = {m: [] for m in ds.modalities}
        masks: dict[str, list[np.ndarray]] = {m: [] for m in ds.modalities}
        spread: list[np.ndarray] = []
        targets = []
        for i in range(len(ds)):
            for m in ds.modalities:
                arr, mask = ds._read_raw(m, i)
                idx = ds.band_index[m]
                raw[m].append(arr[..., idx, :, :] if idx is not None else arr)
                if mask is not None:
                    masks[m].append(mask)
            if ds.nodata_from is not None and ds.nodata_from in ds.nodata:
                spread.append(ds._nodata_pixels(i).numpy())  # type: ignore[union-attr]
            targets.append(ds._target(i, None, None))
        self.raw = {m: torch.from_numpy(np.stack(v)).to(dev) for m, v in raw.items()}
        self.masks = {m: torch.from_numpy(np.stack(v)).to(dev) for m, v in masks.items() if v}
        self.spread = torch.from_numpy(np.stack(spread)).to(dev) if spread else None
        first = collate([{"index": 0, "inputs": {}, **t} for t in targets[:1]])
        self.target_keys = [k for k in first if k not in ("index", "inputs")]
        stacked = collate([{"index": i, "inputs": {}, **t} for i, t in enumerate(targets)])
        self.targets = {k: stacked[k].to(dev) for k in self.target_keys}
        self.norm = {m: (torch.from_numpy(mean).to(dev), torch.from_numpy(std).to(dev))
                     for m, (mean, std) in ds.norm.items()}

    def _input(self, m: str, idx: torch.Tensor) -> torch.Tensor:
        ds = self.ds
        stored = self.raw[m][idx]
        x = stored.float()
        missing = None
        if m in ds.nodata:
            nd = ds.nodata[m]
            missing = torch.isnan(stored) if np.isnan(nd) else stored == nd
        if m in self.norm:
            mean, std = self.norm[m]
            x = (x - mean) / (std + ZSCORE_EPS)
        if missing is not None:
            x = x.masked_fill(missing, 0.0)
        if self.spread is not None:
            sp = self.spread[idx]
            if x.ndim == sp.ndim + 1 or sp.shape[1] == x.shape[1]:
                x = x.masked_fill(sp.unsqueeze(-3), 0.0)
        if m in self.masks:
            keep = self.masks[m][idx]
            x = x.masked_fill(~keep.view(*keep.shape, 1, 1, 1), 0.0)
        if ds.image_size is None:
            return x
        # one sample at a time, the call the loader makes: interpolating (1, B*C, H, W) at once
        # rounds differently in the last bit on some kernels
        return torch.stack([resize_image(xi, ds.image_size) for xi in x])

    def _batch(self, idx: torch.Tensor) -> dict[str, Any]:
        idx = idx.to(self.device)
        inputs = {m: self._input(m, idx) for m in self.ds.modalities}
        batch: dict[str, Any] = {"index": idx, "inputs": inputs}
        series = {m: x for m, x in inputs.items() if x.ndim == 5}
        if series:
            t = max(x.shape[1] for x in series.values())
            union = torch.zeros(idx.shape[0], t, dtype=torch.bool, device=self.device)
            for m, x in series.items():
                mask = self.masks[m][idx] if m in self.masks else torch.ones(x.shape[:2], dtype=torch.bool,
                                                                           device=self.device)
                if x.shape[1] < t:
                    pad = x.new_zeros((x.shape[0], t - x.shape[1], *x.shape[2:]))
                    inputs[m] = torch.cat([x, pad], dim=1)
                    mask = torch.cat([mask, mask.new_zeros((mask.shape[0], t - mask.shape[1]))], dim=1)
                union |= mask
            if self.masks or any(x.shape[1] < t for x in series.values()):
                batch["time_mask"] = union
        batch.update({k: v[idx] for k, v in self.targets.items()})
        return batch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for idx in self.loader:
            yield self._batch(idx)

    def __len__(self) -> int:
        return len(self.loader)
