"""Frozen-feature cache: with the encoder frozen (``protocol.finetune=frozen``), run it once per
sample and reuse its features in every trial and seed run; only the decoder and head train.

The encoder sees each sample once per flip variant the protocol can draw (none, vertical,
horizontal, both — ``variant = 2 * h + v``), so training on the cache is the same computation
as training with on-the-fly flips: the run's flip generator draws the same decisions, the cached
variant of each sample is picked and its target flipped. The features of every level are stored
per split in one HDF5 file, ``<root>/<key>/<split>.h5`` (dataset ``level<i>`` of shape
``(N, V, C, h, w)``, float32 or bfloat16 stored as its 16 bits), keyed by everything that
changes them: model, weights, dataset, split, image size, band plan, time steps, temporal
pooling, normalisation, dtype. Files are written atomically; a size estimate is checked against
the free disk space before anything is built.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geobench.errors import ConfigError, DiskFullError
from geobench.train.temporal import encode_over_time

FORMAT = 1
DTYPES = ("float32", "bfloat16")


def variants(flips: bool) -> int:
    """Flip variants stored per sample: 4 with the protocol's h/v flips, else 1."""
    return 4 if flips else 1


def cache_key(payload: Mapping[str, Any]) -> str:
    """A short, stable key of everything that changes the cached features."""
    blob = json.dumps({"format": FORMAT, **payload}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _flip(x: torch.Tensor, variant: int) -> torch.Tensor:
    if variant & 2:
        x = x.flip(-1)
    if variant & 1:
        x = x.flip(-2)
    return x


@torch.no_grad()
def _encode(encoder: nn.Module, batch: Mapping[str, Any], variant: int, pooling: str) -> list[torch.Tensor]:
    inputs = {m: _flip(x, variant) for m, x in batch["inputs"].items()}
    return encode_over_time(encoder, inputs, batch.get("time_mask"), pooling=pooling)


@dataclass(frozen=True)
class CacheShape:
    """Per-sample feature shapes of every level, and the stored bytes per sample and variant."""

    levels: tuple[tuple[int, ...], ...]
    itemsize: int

    @property
    def bytes_per_sample(self) -> int:
        return sum(int(np.prod(s)) for s in self.levels) * self.itemsize


def probe(encoder: nn.Module, first: Mapping[str, Any], pooling: str, dtype: str) -> CacheShape:
    """Feature shapes of one (collated, one-sample) batch."""
    feats = _encode(encoder, first, 0, pooling)
    return CacheShape(tuple(tuple(f.shape[1:]) for f in feats), 4 if dtype == "float32" else 2)


def estimate_bytes(shape: CacheShape, samples: int, n_variants: int) -> int:
    """Disk bytes of one split's cache."""
    return shape.bytes_per_sample * samples * n_variants


def check_space(folder: Path, needed: int) -> None:
    """Raise one clear error when ``folder``'s disk cannot hold ``needed`` more bytes (+5 %)."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed * 1.05 > free:
        raise DiskFullError(f"the frozen-feature cache needs {needed / 2**30:.2f} GiB in {folder}, only "
                            f"{free / 2**30:.2f} GiB are free; free space, set feature_cache_dir= to a "
                            "larger disk, or run without the cache (feature_cache=false)")


def _to_storage(f: torch.Tensor, dtype: str) -> np.ndarray:
    if dtype == "float32":
        return f.float().cpu().numpy()
    return f.to(torch.bfloat16).cpu().view(torch.int16).numpy().view(np.uint16)


def _from_storage(a: np.ndarray, dtype: str) -> torch.Tensor:
    if dtype == "float32":
        return torch.from_numpy(np.ascontiguousarray(a))
    return torch.from_numpy(np.ascontiguousarray(a).view(np.int16)).view(torch.bfloat16).float()


def build_split(path: Path, encoder: nn.Module, loader: Iterable[Mapping[str, Any]], samples: int,
                n_variants: int, pooling: str, dtype: str, progress: bool = False) -> None:
    """Encode every sample of ``loader`` (in order, not shuffled) under each flip variant into
    ``path`` (written atomically)."""
    import h5py
    from tqdm.auto import tqdm

    from geobench.fileio import atomic_output

    if dtype not in DTYPES:
        raise ConfigError(f"feature cache dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    was_training = encoder.training
    encoder.eval()
    with atomic_output(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update({"format": FORMAT, "dtype": dtype, "variants": n_variants, "samples": samples})
        sets: list[Any] = []
        start = 0
        for batch in tqdm(loader, desc=f"feature cache {path.parent.name[:8]}/{path.stem}", unit="batch",
                          disable=not progress):
            per_variant = [_encode(encoder, batch, v, pooling) for v in range(n_variants)]
            if not sets:
                store = np.float32 if dtype == "float32" else np.uint16
                sets = [h5.create_dataset(f"level{i}", shape=(samples, n_variants, *f.shape[1:]), dtype=store,
                                          chunks=(1, n_variants, *f.shape[1:]))
                        for i, f in enumerate(per_variant[0])]
            b = per_variant[0][0].shape[0]
            for i, ds in enumerate(sets):
                stacked = torch.stack([pv[i] for pv in per_variant], dim=1)  # (B, V, C, h, w)
                ds[start:start + b] = _to_storage(stacked, dtype)
            start += b
        if start != samples:
            raise ConfigError(f"{path}: encoded {start} samples, expected {samples}")
    encoder.train(was_training)


class CachedSplit:
    """One split's cached features, held in memory (read once from its HDF5 file)."""

    def __init__(self, path: Path) -> None:
        import h5py

        with h5py.File(path, "r") as h5:
            self.dtype = str(h5.attrs["dtype"])
            self.variants = int(h5.attrs["variants"])
            n = len([k for k in h5 if k.startswith("level")])
            self.levels = [_from_storage(h5[f"level{i}"][()], self.dtype) for i in range(n)]

    def gather(self, index: torch.Tensor, variant: torch.Tensor) -> list[torch.Tensor]:
        """Features ``(B, C, h, w)`` per level of samples ``index`` under flip ``variant``."""
        idx, var = index.cpu().long(), variant.cpu().long()
        return [lvl[idx, var] for lvl in self.levels]


class CachedBatches:
    """Batches of cached features for the training loop, iterated like a DataLoader.

    ``loader`` yields target batches (``index``, ``target``, ``valid_mask``: a loader over the
    split without inputs, shuffled and batched exactly as the uncached run's loader); with
    ``flipper`` (the run's :class:`~geobench.train.augment.BatchFlipper`) each batch draws the
    same flip decisions the uncached run draws, takes that variant's features and flips the
    target.
    """

    def __init__(self, loader: Iterable[Mapping[str, Any]], cache: CachedSplit,
                 output_size: tuple[int, int], flipper: Any = None) -> None:
        self.loader, self.cache, self.output_size, self.flipper = loader, cache, output_size, flipper

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from geobench.train.augment import draw_flips, flip_targets

        for batch in self.loader:
            index = batch["index"]
            out = dict(batch)
            variant = torch.zeros_like(index)
            if self.flipper is not None:
                h, v = draw_flips(index.shape[0], self.flipper.generator, self.flipper.p_h, self.flipper.p_v)
                variant = (2 * h.long() + v.long()).cpu()
                out = flip_targets(out, h, v)
            out["features"] = self.cache.gather(index, variant)
            out["output_size"] = self.output_size
            yield out

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]
