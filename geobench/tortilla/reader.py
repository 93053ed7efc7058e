"""Read the official GEO-Bench-2 TACO tortilla files (one file or several shards as one collection).

Opening a collection reads each file's 200-byte header and parquet footer only and checks them
(magic, footer inside the file, every sample inside the data area). A sample's nested footer (its
list of assets) is read on first use and cached. Asset bytes are read with ``os.pread`` on one file
descriptor per file and process; rasters are decoded by GDAL through ``/vsisubfile/``, exactly like
the official datamodules do, so arrays are bit-identical to theirs.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from geobench.errors import CorruptFileError, DatasetNotFoundError
from geobench.tortilla.footer import (
    Footer,
    check_ranges,
    dataset_of,
    parse_footer,
    redownload_hint,
)
from geobench.tortilla.layout import (
    ACCEPTED_MAGICS,
    MAGIC,
    MIN_HEADER,
    NON_RASTER_FORMATS,
    unpack_header,
)

if TYPE_CHECKING:
    import h5py
    import numpy as np


@dataclass(frozen=True)
class AssetRef:
    """One asset of a sample: where its bytes are in ``path`` (absolute offset) and its footer row."""

    id: str
    file_format: str
    offset: int
    length: int
    path: Path
    metadata: dict[str, Any] = field(hash=False, repr=False)
    sample_id: str = ""

    def vsi_path(self) -> str:
        """The GDAL path of the asset's bytes: ``/vsisubfile/{offset}_{length},{path}``."""
        return f"/vsisubfile/{self.offset}_{self.length},{self.path}"


@dataclass(frozen=True)
class SampleRef:
    """One sample (a row of the outer footer); its bytes are a nested tortilla of assets."""

    id: str
    index: int
    split: str | None
    offset: int
    length: int
    path: Path
    metadata: dict[str, Any] = field(hash=False, repr=False)


def _collect_paths(paths: Path | str | Sequence[Path | str], dataset: str | None) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise DatasetNotFoundError("no tortilla file given")
    out: list[Path] = []
    for item in items:
        p = Path(item).absolute()
        if p.is_dir():
            found = sorted(p.glob("*.tortilla"))
            if not found:
                raise DatasetNotFoundError(
                    f"{p}: no *.tortilla file in this folder; run `python -m geobench.download "
                    f"dataset={dataset or p.name}` or put the official files there")
            out.extend(found)
        elif not p.is_file():
            raise DatasetNotFoundError(
                f"{p}: file not found; run `python -m geobench.download "
                f"dataset={dataset_of(p, dataset)}` or put the official file there")
        else:
            out.append(p)
    return out


class Tortilla:
    """One tortilla file, or several shards of one dataset, as one collection of samples.

    Args:
        paths: a file, a folder (its ``*.tortilla`` files in name order) or a list of files.
        dataset: the dataset key, only used in error messages (guessed from the path otherwise).
        order: ``"source"`` keeps the files' row order (file after file); ``"id"`` sorts samples by
            ``tortilla:id`` as ``tacoreader.load([...])`` and hence the official datamodules do.
        cache_size: how many samples' nested footers to keep.

    Raises:
        DatasetNotFoundError: a file or folder does not exist.
        CorruptFileError: a file is empty, not a tortilla, truncated, or its footer is damaged.
    """

    def __init__(self, paths: Path | str | Sequence[Path | str], *, dataset: str | None = None,
                 order: Literal["source", "id"] = "source", cache_size: int = 4096) -> None:
        if order not in ("source", "id"):
            raise ValueError(f"order must be 'source' or 'id', not {order!r}")
        self.paths = _collect_paths(paths, dataset)
        self.dataset = dataset
        self._fds: dict[Path, int] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._local = threading.local()  # the asset each thread read last (for decode errors)
        self._cache: OrderedDict[tuple[Path, int], list[AssetRef]] = OrderedDict()
        self._cache_size = max(0, cache_size)
        self._sizes: dict[Path, int] = {}
        tables: list[pa.Table] = []
        samples: list[SampleRef] = []
        for path in self.paths:
            footer = self._open_file(path)
            rows = footer.metadata_rows()
            for i, sid in enumerate(footer.ids):
                samples.append(SampleRef(sid, len(samples), footer.splits[i],
                                         int(footer.offsets[i]), int(footer.lengths[i]),
                                         path, rows[i]))
            tables.append(footer.table)
        table = (tables[0] if len(tables) == 1
                 else pa.concat_tables(tables, promote_options="permissive"))
        if order == "id":
            perm = sorted(range(len(samples)), key=lambda k: samples[k].id)
            table = table.take(pa.array(perm, type=pa.int64()))
            samples = [SampleRef(samples[k].id, n, samples[k].split, samples[k].offset,
                                 samples[k].length, samples[k].path, samples[k].metadata)
                       for n, k in enumerate(perm)]
        self.samples: list[SampleRef] = samples
        self.metadata_table: pa.Table = table
        self._splits: dict[str, list[SampleRef]] = {}
        for s in samples:
            self._splits.setdefault(s.split or "", []).append(s)

    # ----------------------------------------------------------------- opening and raw access
    def _hint(self, path: Path) -> str:
        return redownload_hint(path, self.dataset)

    def _open_file(self, path: Path) -> Footer:
        size = path.stat().st_size
        self._sizes[path] = size
        hint = self._hint(path)
        if size == 0:
            raise CorruptFileError(path, "the file is empty (0 bytes)", hint)
        if size < MIN_HEADER:
            raise CorruptFileError(path, f"only {size} bytes, too short for a tortilla header",
                                   hint)
        magic, f_off, f_len = unpack_header(self._pread(path, 0, MIN_HEADER))
        if magic not in ACCEPTED_MAGICS:
            raise CorruptFileError(path, f"not a tortilla file: it starts with {magic!r}, "
                                   f"expected {MAGIC!r}", hint)
        if f_off < MIN_HEADER or f_len == 0 or f_off + f_len > size:
            raise CorruptFileError(path, f"truncated or damaged: the header puts the footer at "
                                   f"bytes {f_off}..{f_off + f_len} but the file has {size} "
                                   "bytes", hint)
        footer = parse_footer(self._pread(path, f_off, f_len), path=path, where="footer",
                              hint=hint)
        check_ranges(footer, start=MIN_HEADER, end=f_off, path=path, where="footer", hint=hint)
        return footer

    def _fd(self, path: Path) -> int:
        pid = os.getpid()
        if pid != self._pid:  # forked (e.g. a DataLoader worker): descriptors are not ours
            self._fds, self._pid = {}, pid
            self._lock = threading.Lock()
        with self._lock:  # one descriptor per file, also when threads ask at once
            fd = self._fds.get(path)
            if fd is None:
                fd = self._fds[path] = os.open(path, os.O_RDONLY)
        return fd

    def _pread(self, path: Path, offset: int, length: int) -> bytes:
        return os.pread(self._fd(path), length, offset)

    def close(self) -> None:
        """Close the file descriptors (reads reopen them); each once, also when called twice at once."""
        with self._lock:
            fds, self._fds = self._fds, {}
        if self._pid == os.getpid():
            for fd in fds.values():
                os.close(fd)

    def __enter__(self) -> Tortilla:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_fds={}, _lock=None, _local=None, _cache=OrderedDict())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pid = os.getpid()

    # ------------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[SampleRef]:
        return iter(self.samples)

    def __repr__(self) -> str:
        names = ", ".join(p.name for p in self.paths)
        return f"Tortilla([{names}], {len(self)} samples)"

    def sample(self, i: int) -> SampleRef:
        """The ``i``-th sample of the collection (negative indices count from the end)."""
        return self.samples[i]

    def split(self, name: str) -> list[SampleRef]:
        """Samples whose ``tortilla:data_split`` is ``name`` ("train", "validation", "test")."""
        return list(self._splits.get(name, []))

    @property
    def split_names(self) -> list[str]:
        """The split names present, in order of first appearance."""
        return [s for s in self._splits if s]

    # ------------------------------------------------------------------------ assets
    def assets(self, sample: SampleRef | int) -> list[AssetRef]:
        """The assets of a sample (its nested footer), in source order; cached per sample.

        Raises:
            CorruptFileError: the sample's nested tortilla is damaged or points outside itself.
        """
        ref = self.samples[sample] if isinstance(sample, int) else sample
        key = (ref.path, ref.offset)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return list(hit)
        found = self._read_assets(ref)
        if self._cache_size:
            with self._lock:
                self._cache[key] = found
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return list(found)

    def asset(self, sample: SampleRef | int, asset_id: str) -> AssetRef:
        """The asset called ``asset_id`` of a sample.

        Raises:
            KeyError: the sample has no such asset (the message lists the ids it has).
        """
        found = self.assets(sample)
        for a in found:
            if a.id == asset_id:
                return a
        raise KeyError(f"no asset {asset_id!r}; the sample has {[a.id for a in found]}")

    def _read_assets(self, ref: SampleRef) -> list[AssetRef]:
        path, hint = ref.path, self._hint(ref.path)
        where = f"sample {ref.id!r} (#{ref.index})"
        if ref.length < MIN_HEADER:
            raise CorruptFileError(path, f"{where} is only {ref.length} bytes long", hint)
        head = self._pread(path, ref.offset, MIN_HEADER)
        if len(head) < MIN_HEADER:
            raise CorruptFileError(path, f"{where} lies beyond the end of the file", hint)
        magic, f_off, f_len = unpack_header(head)
        if magic not in ACCEPTED_MAGICS:
            raise CorruptFileError(path, f"{where} does not start with {MAGIC!r} (found {magic!r});"
                                   " the footer's offsets do not match the data", hint)
        if f_off < MIN_HEADER or f_len == 0 or f_off + f_len > ref.length:
            raise CorruptFileError(path, f"{where}: its footer (bytes {f_off}..{f_off + f_len}) "
                                   f"lies outside the sample's {ref.length} bytes", hint)
        raw = self._pread(path, ref.offset + f_off, f_len)
        if len(raw) < f_len:
            raise CorruptFileError(path, f"{where}: the file ends inside its footer", hint)
        footer = parse_footer(raw, path=path, where=f"{where}: footer", hint=hint)
        check_ranges(footer, start=MIN_HEADER, end=f_off, path=path, where=where, hint=hint)
        rows = footer.metadata_rows()
        return [AssetRef(aid, footer.formats[i], ref.offset + int(footer.offsets[i]),
                         int(footer.lengths[i]), path, rows[i], ref.id)
                for i, aid in enumerate(footer.ids)]

    def verify(self) -> None:
        """Read every sample's nested footer (not the asset bytes) and check it.

        Raises:
            CorruptFileError: at the first damaged sample.
        """
        for s in self.samples:
            self._read_assets(s)

    # ------------------------------------------------------------------------ decoding
    def last_asset(self) -> AssetRef | None:
        """The asset this thread read (or opened) last: the one a decode error is about."""
        return getattr(self._local, "asset", None)

    def decode_error(self, asset: AssetRef, what: str, exc: BaseException) -> CorruptFileError:
        """``<file>: sample <id> (asset <id>): <what> (<the decoder's error, on one line>)``."""
        detail = f"{type(exc).__name__}: {exc}"
        cause = exc.__cause__ or exc.__context__  # GDAL's own message ("See previous exception")
        if cause is not None and str(cause) and str(cause) not in detail:
            detail += f": {cause}"
        detail = " ".join(detail.split())
        return CorruptFileError(asset.path, f"sample {asset.sample_id!r} (asset {asset.id!r}): "
                                f"{what} ({detail})", self._hint(asset.path))

    def read_bytes(self, asset: AssetRef) -> bytes:
        """The asset's raw bytes.

        Raises:
            CorruptFileError: the file ends before the asset does.
        """
        self._local.asset = asset
        data = self._pread(asset.path, asset.offset, asset.length)
        if len(data) != asset.length:
            raise CorruptFileError(asset.path, f"sample {asset.sample_id!r} (asset {asset.id!r}): "
                                   f"the file ends inside the asset", self._hint(asset.path))
        return data

    def read_raster(self, asset: AssetRef) -> np.ndarray:
        """The asset decoded by GDAL as a ``(C, H, W)`` array in its source dtype.

        Raises:
            ValueError: the asset is a table, HDF5 or nested tortilla, not a raster.
            CorruptFileError: GDAL cannot decode the asset's bytes.
        """
        if asset.file_format in NON_RASTER_FORMATS:
            raise ValueError(f"asset {asset.id!r} is {asset.file_format}, not a raster")
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioError

        # The benchmark's rasters are plain arrays (no georeference needed). A process-wide filter,
        # not catch_warnings(): decoding runs in threads, and catch_warnings is not thread-safe.
        warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
        self._local.asset = asset
        try:
            with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), \
                    rasterio.open(asset.vsi_path()) as ds:
                return ds.read()
        except (RasterioError, OSError, ValueError) as exc:
            raise self.decode_error(asset, "GDAL cannot decode it", exc) from exc

    def read_table(self, asset: AssetRef) -> pa.Table:
        """A parquet / GeoParquet asset as an Arrow table (geometry stays WKB).

        Raises:
            CorruptFileError: the bytes are not a parquet table.
        """
        import pyarrow.parquet as pq

        try:
            return pq.read_table(pa.BufferReader(self.read_bytes(asset)),
                                 page_checksum_verification=True)
        except (pa.ArrowException, OSError) as exc:
            raise self.decode_error(asset, "not a readable parquet table", exc) from exc

    @contextlib.contextmanager
    def read_hdf5(self, asset: AssetRef) -> Iterator[h5py.File]:
        """``with t.read_hdf5(asset) as f``: an HDF5 asset opened read-only from memory, the calling
        thread holding :data:`geobench.h5lock.HDF5_LOCK` until it is closed (see that module).

        Raises:
            CorruptFileError: the bytes are not an HDF5 file.
        """
        import h5py

        from geobench.h5lock import HDF5_LOCK

        data = self.read_bytes(asset)  # file I/O outside the lock
        with HDF5_LOCK:
            try:
                f = h5py.File(io.BytesIO(data), "r")
            except (OSError, ValueError, RuntimeError) as exc:
                raise self.decode_error(asset, "not a readable HDF5 file", exc) from exc
            with f:
                yield f

