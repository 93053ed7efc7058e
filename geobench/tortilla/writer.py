"""Write tortilla files in the layout of the official GEO-Bench-2 files.

The outer tortilla holds one nested tortilla per sample (``tortilla:file_format`` = ``TORTILLA``);
each nested tortilla holds the sample's assets. Both levels use the 200-byte header of
:mod:`geobench.tortilla.layout` and a zstd-compressed parquet footer with the columns
``tortilla:id, tortilla:file_format, tortilla:data_split, tortilla:offset, tortilla:length`` then
the metadata columns. The result reads with :class:`geobench.tortilla.Tortilla` and with
``tacoreader.load`` (0.5.x).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from geobench.fileio import atomic_output
from geobench.tortilla.layout import (
    COL_FORMAT,
    COL_ID,
    COL_LENGTH,
    COL_OFFSET,
    COL_SPLIT,
    FORMAT_TORTILLA,
    HEADER_SIZE,
    RESERVED_PREFIXES,
    pack_header,
)


@dataclass
class AssetSpec:
    """One asset to write: its id within the sample, its bytes, format and footer metadata."""

    id: str
    data: bytes
    file_format: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SampleSpec:
    """One sample to write: id, assets (in order), split and the outer footer's metadata."""

    id: str
    assets: list[AssetSpec]
    split: str
    metadata: dict[str, Any] = field(default_factory=dict)


def parquet_bytes(table: pa.Table) -> bytes:
    """A table as parquet bytes (zstd, page checksums, schema metadata such as ``geo`` kept)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_page_checksum=True)
    return bytes(sink.getvalue().to_pybytes())


def geotiff_bytes(array: np.ndarray, *, transform: Any = None, crs: Any = None,
                  nodata: float | None = None) -> bytes:
    """A ``(C, H, W)`` (or ``(H, W)``) array as a zstd-compressed GeoTIFF, written by GDAL.

    Args:
        array: the pixels; any dtype GeoTIFF stores (u)int8..64, float32/64, complex.
        transform: an ``affine.Affine`` (or GDAL 6-tuple) geotransform; none by default.
        crs: anything ``rasterio.crs.CRS.from_user_input`` takes (``"EPSG:32631"``).
        nodata: the nodata value to record.

    Raises:
        ValueError: the array is not 2-D/3-D, or its dtype has no GeoTIFF equivalent.
    """
    import rasterio
    from affine import Affine
    from rasterio.dtypes import check_dtype
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"geotiff_bytes needs a (C, H, W) array, got shape {np.shape(array)}")
    if arr.dtype == np.bool_ or arr.dtype == np.float16 or not check_dtype(arr.dtype):
        raise ValueError(f"GeoTIFF cannot store dtype {arr.dtype}; convert it first "
                         "(bool -> uint8, float16 -> float32)")
    if transform is not None and not isinstance(transform, Affine):
        transform = Affine.from_gdal(*transform)
    profile: dict[str, Any] = {
        "driver": "GTiff", "width": arr.shape[2], "height": arr.shape[1], "count": arr.shape[0],
        "dtype": arr.dtype.name, "compress": "zstd", "interleave": "band",
    }
    if transform is not None:
        profile["transform"] = transform
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), MemoryFile() as mem:
            with mem.open(**profile) as ds:
                ds.write(np.ascontiguousarray(arr))
            return bytes(mem.read())


def hdf5_bytes(datasets: Mapping[str, np.ndarray], attrs: Mapping[str, Any] | None = None) -> bytes:
    """An in-memory HDF5 file with the given datasets and root attributes (as PASTIS / NZCattle
    annotation assets are stored)."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for name, value in datasets.items():
            f.create_dataset(name, data=np.asarray(value))
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return buf.getvalue()


def _check_meta(meta: Mapping[str, Any], where: str) -> None:
    for key in meta:
        if not isinstance(key, str) or not key:
            raise ValueError(f"{where}: metadata keys must be non-empty strings, got {key!r}")
        if key.startswith(RESERVED_PREFIXES):
            raise ValueError(f"{where}: metadata key {key!r} uses a reserved prefix "
                             f"{RESERVED_PREFIXES}")


def _footer_bytes(ids: list[str], formats: list[str], splits: list[str], offsets: list[int],
                  lengths: list[int], metas: list[Mapping[str, Any]], where: str) -> bytes:
    """The parquet footer: the five tortilla columns, then metadata columns (union of keys, in
    order of first appearance; a key missing from a row is null)."""
    columns: dict[str, pa.Array] = {
        COL_ID: pa.array(ids, type=pa.string()),
        COL_FORMAT: pa.array(formats, type=pa.string()),
        COL_SPLIT: pa.array(splits, type=pa.string()),
        COL_OFFSET: pa.array(offsets, type=pa.int64()),
        COL_LENGTH: pa.array(lengths, type=pa.int64()),
    }
    keys: dict[str, None] = {}
    for meta in metas:
        keys.update(dict.fromkeys(meta))
    for key in keys:
        values = [_plain(meta.get(key)) for meta in metas]
        try:
            columns[key] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(f"{where}: metadata column {key!r} mixes incompatible values "
                             f"({exc})") from exc
    return parquet_bytes(pa.table(columns))


def _plain(value: Any) -> Any:
    """numpy scalars/arrays -> Python values pyarrow infers consistently."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _sample_blob(sample: SampleSpec) -> bytes:
    """A sample's nested tortilla: header, the assets' bytes, the footer."""
    where = f"sample {sample.id!r}"
    if not sample.assets:
        raise ValueError(f"{where} has no assets")
    seen: set[str] = set()
    offsets, lengths = [], []
    pos = HEADER_SIZE
    for asset in sample.assets:
        if not asset.id or asset.id in seen:
            raise ValueError(f"{where}: asset id {asset.id!r} is empty or repeated")
        if not asset.file_format:
            raise ValueError(f"{where}: asset {asset.id!r} has no file_format")
        _check_meta(asset.metadata, f"{where}, asset {asset.id!r}")
        seen.add(asset.id)
        offsets.append(pos)
        lengths.append(len(asset.data))
        pos += len(asset.data)
    footer = _footer_bytes([a.id for a in sample.assets], [a.file_format for a in sample.assets],
                           [sample.split] * len(sample.assets), offsets, lengths,
                           [a.metadata for a in sample.assets], where)
    parts = [pack_header(pos, len(footer))]
    parts += [bytes(a.data) for a in sample.assets]
    parts.append(footer)
    return b"".join(parts)


def write_tortilla(path: Path | str, samples: Iterable[SampleSpec], *, atomic: bool = True) -> Path:
    """Write ``samples`` as a tortilla file at ``path`` and return the path.

    Samples are consumed one at a time (only one sample's bytes are in memory) and written to a
    temporary file beside ``path``, renamed into place once complete: a failure leaves nothing.
    ``atomic=False`` writes ``path`` itself (a temporary file of the caller's, e.g. one of
    :func:`geobench.fileio.atomic_outputs` when several files must appear together).

    Raises:
        ValueError: no samples, a repeated or empty id, an empty split, a sample without assets,
            or a reserved (``tortilla:``/``internal:``) metadata key.
    """
    path = Path(path)
    ctx = atomic_output(path) if atomic else contextlib.nullcontext(path)
    with ctx as tmp:
        with open(tmp, "wb") as out:
            out.write(b"\0" * HEADER_SIZE)
            out.flush()
            ids: list[str] = []
            seen: set[str] = set()
            splits: list[str] = []
            offsets: list[int] = []
            lengths: list[int] = []
            metas: list[Mapping[str, Any]] = []
            pos = HEADER_SIZE
            for sample in samples:
                if not sample.id or sample.id in seen:
                    raise ValueError(f"sample id {sample.id!r} is empty or repeated")
                if not sample.split:
                    raise ValueError(f"sample {sample.id!r} has no split")
                _check_meta(sample.metadata, f"sample {sample.id!r}")
                blob = _sample_blob(sample)
                out.write(blob)
                out.flush()  # hand each sample to the OS: memory stays at one sample
                seen.add(sample.id)
                ids.append(sample.id)
                splits.append(sample.split)
                offsets.append(pos)
                lengths.append(len(blob))
                metas.append(sample.metadata)
                pos += len(blob)
            if not ids:
                raise ValueError(f"{path}: no samples to write")
            footer = _footer_bytes(ids, [FORMAT_TORTILLA] * len(ids), splits, offsets, lengths,
                                   metas, str(path))
            out.write(footer)
            out.seek(0)
            out.write(pack_header(pos, len(footer)))
            out.flush()
    return path
