"""DataLoaders that keep an accelerator fed, and batch transfer to the device.

A sample is a dict ``{"inputs": {modality: tensor}, "target": ..., "index": int}`` with optional
``time_mask`` and ``valid_mask``; detection targets are dicts of variable size and stay a list.
On CUDA the loaders use pinned memory, several persistent worker processes and a deep prefetch
queue, and batches are copied with ``non_blocking=True`` on a side stream, overlapping the
previous step's computation (:func:`device_batches`); worker seeds and the shuffling order come from
the run's seed (:mod:`geobench.train.seeding`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from geobench.train.seeding import loader_generator, worker_init_fn


def collate_samples(samples: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack samples into a batch; a dict-valued ``target`` (detection) stays a list of dicts."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if key == "target" and isinstance(values[0], Mapping):
            out[key] = values
        else:
            out[key] = default_collate(values)
    return out


def default_num_workers(device: torch.device) -> int:
    """Loader workers: on CUDA all cores but one (at most 12); on CPU two (compute needs cores)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if device.type == "cuda":
        return max(1, min(12, cores - 1))
    return min(2, max(0, cores - 1))


def make_loader(data: Dataset | Iterable[Any], *, batch_size: int, shuffle: bool, device: torch.device,
                seed: int = 0, num_workers: int | None = None, prefetch_factor: int = 4,
                collate_fn: Callable[[list[Any]], Any] | None = None,
                drop_last: bool = False) -> Iterable[Any]:
    """A DataLoader over ``data`` (a map-style Dataset); an existing DataLoader is returned as is."""
    if isinstance(data, DataLoader) or not isinstance(data, Dataset):
        return data
    workers = default_num_workers(device) if num_workers is None else num_workers
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs.update(persistent_workers=True, prefetch_factor=prefetch_factor,
                      worker_init_fn=worker_init_fn)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                      pin_memory=device.type == "cuda", collate_fn=collate_fn or collate_samples,
                      generator=loader_generator(seed), drop_last=drop_last, **kwargs)


def to_device(obj: Any, device: torch.device) -> Any:
    """Copy nested dicts/lists of tensors to ``device`` without blocking the host."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def batch_to_device(batch: Mapping[str, Any], device: torch.device,
                    channels_last: bool = False) -> dict[str, Any]:
    """Copy a batch to ``device``; with ``channels_last`` the 4-D inputs get NHWC layout."""
    out = to_device(batch, device)
    if channels_last:
        out["inputs"] = {k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v
                         for k, v in out["inputs"].items()}
    return out


def _record(obj: Any, stream: Any) -> None:
    if isinstance(obj, torch.Tensor):
        obj.record_stream(stream)
    elif isinstance(obj, Mapping):
        for v in obj.values():
            _record(v, stream)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _record(v, stream)


def device_batches(loader: Iterable[Any], device: torch.device, channels_last: bool = False,
                   limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Batches of ``loader`` on ``device`` (at most ``limit``).

    On CUDA the copy of batch i+1 is issued on a side stream right after batch i is handed out,
    so it overlaps the computation on batch i instead of queueing behind it on the compute stream;
    the compute stream waits for the copy before it uses a batch, and the batch's memory is
    recorded on the compute stream so the allocator does not reuse it early.
    """
    it = iter(loader)
    count = 0
    if device.type != "cuda":
        for batch in it:
            if limit is not None and count >= limit:
                return
            count += 1
            yield batch_to_device(batch, device, channels_last)
        return
    side = torch.cuda.Stream(device)

    def issue(raw: Any) -> dict[str, Any]:
        with torch.cuda.stream(side):
            return batch_to_device(raw, device, channels_last)

    if limit is not None and limit <= 0:
        return
    try:
        pending = issue(next(it))
    except StopIteration:
        return
    while True:
        compute = torch.cuda.current_stream(device)
        compute.wait_stream(side)
        _record(pending, compute)
        batch = pending
        count += 1
        yield batch
        if limit is not None and count >= limit:
            return
        try:
            pending = issue(next(it))
        except StopIteration:
            return


def batch_size_of(batch: Mapping[str, Any]) -> int:
    """Number of samples in a collated batch."""
    target = batch["target"]
    if isinstance(target, list):
        return len(target)
    return int(target.shape[0])
