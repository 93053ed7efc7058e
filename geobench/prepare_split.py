"""One split of a prepared dataset: samples decoded in a thread pool, written in order into one
HDF5 file (format: :mod:`geobench.prepared`), train statistics gathered on the way.

Every HDF5 step holds :data:`geobench.h5lock.HDF5_LOCK` (the decoding threads read HDF5 assets
meanwhile); every write goes through a :class:`geobench.fileio.WriteGuard`, so a full disk is
raised by geobench and never seen by HDF5.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from geobench.bandstats import BandStats
from geobench.datasets.base import RAGGED_TARGETS, DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError
from geobench.fileio import guarded_file
from geobench.prepared import FORMAT_VERSION

T = TypeVar("T")
R = TypeVar("R")


def ordered_parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int, window: int = 8) -> Generator[R, None, None]:
    """``map(fn, items)`` on a thread pool, in order, with at most ``window`` results pending."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class _SplitWriter:
    """Writes one split's HDF5 file, creating datasets from the first sample's shapes."""

    def __init__(self, h5: Any, adapter: DatasetAdapter, n: int, compression: str | None, path: str) -> None:
        self.h5, self.adapter, self.n, self.path = h5, adapter, n, path
        self.m = adapter.manifest
        self.compression = compression
        self.canvas: tuple[int, int] | None = None
        self.ragged: set[str] = set()  # ragged targets: appended to resizable datasets as they come
        self.counts = np.zeros(n, dtype=np.int64)

    def _create(self, group: str, name: str, shape: tuple[int, ...], dtype: Any, **attrs: Any) -> None:
        ds = self.h5.require_group(group).create_dataset(
            name, shape=(self.n, *shape), dtype=dtype, chunks=(1, *shape), compression=self.compression)
        for k, v in attrs.items():
            ds.attrs[k] = v

    def _init(self, d: DecodedSample, sid: str) -> None:
        # Fixed-size datasets: the first sample's size (synthetic files may be smaller than the
        # official image_size). Variable-size datasets: the manifest's image_size is the maximum.
        first = next(iter(d.inputs.values()))
        h, w = first.shape[-2:]
        if self.m.variable_image_size:
            h, w = max(h, self.m.image_size[0]), max(w, self.m.image_size[1])
        self.canvas = (h, w)
        for name, arr in d.inputs.items():
            mod = self.m.modality(name)
            if arr.shape[-3] != len(mod.bands):
                raise CorruptFileError(self._path(), f"sample {sid!r}: modality {name!r} has {arr.shape[-3]} "
                                       f"bands, the manifest lists {len(mod.bands)}",
                                       "the file does not match datasets_manifest/" f"{self.m.name}.yaml")
            shape = (arr.shape[-3], h, w) if mod.time_steps == 1 and arr.ndim == 3 else (mod.time_steps, arr.shape[-3], h, w)
            self._create("inputs", name, shape, arr.dtype, bands=json.dumps(list(mod.band_names)),
                         wavelengths_nm=json.dumps([b.wavelength_nm for b in mod.bands]),
                         time_steps=mod.time_steps, nodata=json.dumps(self.adapter.nodata.get(name)))
            if len(shape) == 4:
                self._create("time_mask", name, (mod.time_steps,), bool)
        if self.m.variable_image_size:
            self.h5.create_dataset("valid_hw", shape=(self.n, 2), dtype=np.int32)
        tg = self.h5.require_group("targets")
        tg.attrs["task"] = self.m.task
        tg.attrs["classes"] = json.dumps(list(self.m.classes))
        tg.attrs["ignore_index"] = json.dumps(self.m.ignore_index)
        tg.attrs["target_scale"] = json.dumps(self.m.target_scale)
        for name, arr in d.targets.items():
            if name in RAGGED_TARGETS:
                self.ragged.add(name)
                continue
            shape = arr.shape
            if arr.ndim >= 2 and self.m.variable_image_size:
                shape = (*arr.shape[:-2], h, w)
            self._create("targets", name, shape, arr.dtype)

    def _path(self) -> str:
        return self.path

    def write(self, i: int, sid: str, d: DecodedSample) -> None:
        if self.canvas is None:
            self._init(d, sid)
        assert self.canvas is not None
        h, w = self.canvas
        real_hw = None
        for name, arr in d.inputs.items():
            if name not in self.h5["inputs"]:
                raise CorruptFileError(self._path(), f"sample {sid!r} has modality {name!r} that the first sample lacked")
            ds = self.h5["inputs"][name]
            arr = np.asarray(arr)
            if ds.ndim == 5 and arr.ndim == 3:
                arr = arr[None]
            mask = d.time_mask.get(name)
            if ds.ndim == 5:
                t_max = ds.shape[1]
                if arr.shape[0] > t_max:
                    raise CorruptFileError(self._path(), f"sample {sid!r}: {arr.shape[0]} time steps in {name!r}, "
                                           f"the manifest allows {t_max}")
                if mask is None:
                    mask = np.arange(t_max) < arr.shape[0]
                self.h5["time_mask"][name][i] = np.asarray(mask, dtype=bool)
            real_hw = arr.shape[-2:]
            if arr.shape[-2] > h or arr.shape[-1] > w or (not self.m.variable_image_size and arr.shape[-2:] != (h, w)):
                raise CorruptFileError(self._path(), f"sample {sid!r}: {name!r} is {arr.shape[-2]}x{arr.shape[-1]}, "
                                       f"expected {h}x{w} (datasets_manifest/{self.m.name}.yaml image_size)")
            if ds.shape[1:] == arr.shape:
                ds[i] = arr
            else:
                out = np.zeros(ds.shape[1:], dtype=ds.dtype)
                out[tuple(slice(0, s) for s in arr.shape)] = arr
                ds[i] = out
        if self.m.variable_image_size and real_hw is not None:
            self.h5["valid_hw"][i] = real_hw
        n_obj = None
        for name, arr in d.targets.items():
            arr = np.asarray(arr)
            if name in RAGGED_TARGETS:
                if name not in self.ragged:
                    raise CorruptFileError(self._path(), f"sample {sid!r} has target {name!r} that the first sample lacked")
                self._append(name, arr)
                n_obj = len(arr)
                continue
            ds = self.h5["targets"][name]
            if ds.shape[1:] == arr.shape:
                ds[i] = arr
            else:
                fill = self.m.ignore_index if self.m.ignore_index is not None and np.issubdtype(ds.dtype, np.signedinteger) else 0
                out = np.full(ds.shape[1:], fill, dtype=ds.dtype)
                out[tuple(slice(0, s) for s in arr.shape)] = arr
                ds[i] = out
        if n_obj is not None:
            self.counts[i] = n_obj

    def _append(self, name: str, arr: np.ndarray) -> None:
        """Append one sample's objects to a resizable dataset (memory stays bounded by a sample)."""
        if name == "instance_masks" and self.canvas and arr.ndim == 3 and arr.shape[1:] != self.canvas:
            padded = np.zeros((arr.shape[0], *self.canvas), dtype=arr.dtype)
            padded[:, : arr.shape[1], : arr.shape[2]] = arr
            arr = padded
        tg = self.h5["targets"]
        if name not in tg:
            tail = arr.shape[1:]
            tg.create_dataset(name, shape=(0, *tail), maxshape=(None, *tail), dtype=arr.dtype,
                              chunks=(max(1, min(64, 2**20 // max(1, int(np.prod(tail)) * arr.itemsize))), *tail),
                              compression=self.compression if arr.ndim > 2 else None)
        ds = tg[name]
        start = ds.shape[0]
        ds.resize(start + len(arr), axis=0)
        ds[start:] = arr

    def finish(self) -> None:
        if not self.ragged:
            return
        tg = self.h5["targets"]
        offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        tg.create_dataset("offsets", data=offsets)


def _stats_pixels(d: DecodedSample, name: str, arr: np.ndarray, nodata: float | None) -> np.ndarray:
    """(C, P) valid pixels of one modality (real time steps only; no-data fills become NaN,
    which the statistics skip)."""
    if arr.ndim == 4:
        mask = d.time_mask.get(name)
        if mask is not None:
            arr = arr[np.asarray(mask, dtype=bool)[: arr.shape[0]]]
        arr = arr.transpose(1, 0, 2, 3)
    flat = arr.reshape(arr.shape[0], -1)
    if nodata is not None:
        flat = np.where(flat == nodata, np.nan, flat.astype(np.float64))
    return flat


def write_split(path: Path, adapter: Any, tortilla: Any, split: str, samples: list[Any], signature: str,
                 stats: dict[str, BandStats] | None, *, compression: str | None, workers: int,
                 progress: bool) -> None:
    """One split's HDF5 file (decoded in parallel, written in order); train statistics into ``stats``."""
    import h5py
    from tqdm.auto import tqdm

    from geobench.h5lock import HDF5_LOCK

    dataset = adapter.name

    def decode(s: Any) -> tuple[Any, DecodedSample]:
        return s, adapter.decode_checked(tortilla, s)

    # Through a WriteGuard: a failed write (full disk) is raised by geobench, not seen by HDF5.
    # Every HDF5 step holds HDF5_LOCK: the decoding threads read HDF5 assets meanwhile.
    with guarded_file(path) as fh, _locked_hdf5(fh) as h5:
        with HDF5_LOCK:
            h5.attrs.update({"geobench_format": FORMAT_VERSION, "dataset": dataset, "split": split,
                             "task": adapter.manifest.task, "num_samples": len(samples), "source": signature})
            h5.create_dataset("sample_ids", data=np.array([s.id for s in samples], dtype=object),
                              dtype=h5py.string_dtype("utf-8"))
            writer = _SplitWriter(h5, adapter, len(samples), compression, str(path))
        # the bar is closed (its line ended) before an error is printed; the decoding threads are
        # joined before anything else happens (the caller then closes the tortilla they read)
        with tqdm(total=len(samples), desc=f"{dataset}/{split}", unit="sample", disable=not progress,
                  file=sys.stderr) as bar, \
                contextlib.closing(ordered_parallel_map(decode, samples, workers)) as decoded:
            for i, (s, d) in enumerate(decoded):
                with HDF5_LOCK:
                    writer.write(i, s.id, d)
                fh.check()
                for name, arr in d.inputs.items():
                    if stats is not None and name in stats:
                        stats[name].update(_stats_pixels(d, name, np.asarray(arr), adapter.nodata.get(name)))
                bar.update()
        with HDF5_LOCK:
            writer.finish()


@contextlib.contextmanager
def _locked_hdf5(fh: Any) -> Iterator[Any]:
    """``h5py.File(fh, "w")`` opened and closed under :data:`~geobench.h5lock.HDF5_LOCK`."""
    import h5py

    from geobench.h5lock import HDF5_LOCK

    with HDF5_LOCK:
        h5 = h5py.File(fh, "w")
    try:
        yield h5
    finally:
        with HDF5_LOCK:
            h5.close()
