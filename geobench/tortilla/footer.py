"""Parse and check a tortilla footer (the parquet table of items) without touching item bytes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geobench.errors import CorruptFileError
from geobench.tortilla.layout import (
    COL_FORMAT,
    COL_ID,
    COL_LENGTH,
    COL_OFFSET,
    COL_SPLIT,
    REQUIRED_COLUMNS,
    is_pandas_index,
)

_PART_SUFFIX = re.compile(r"(\.\d+\.part)$")


def dataset_of(path: Path, dataset: str | None = None) -> str:
    """Best guess of the dataset key a file belongs to, for error messages.

    ``<data_root>/raw/<ds>/file.tortilla`` gives ``<ds>``; otherwise the file stem without the hub's
    ``geobench_`` prefix and ``.NNNN.part`` suffix (``geobench_pastis.0001.part.tortilla`` -> pastis).
    """
    if dataset:
        return dataset
    parent = path.parent
    if parent.parent.name == "raw" and parent.name:
        return parent.name
    stem = _PART_SUFFIX.sub("", path.stem)
    return stem.removeprefix("geobench_") or "<dataset>"


def redownload_hint(path: Path, dataset: str | None = None) -> str:
    """What to do about a damaged official file."""
    return (f"the file is damaged or incomplete: run `python -m geobench.download "
            f"dataset={dataset_of(path, dataset)}` to fetch a verified copy (a file that differs "
            "from the official one is kept beside it as <name>.mismatch-<sha256 prefix>)")


@dataclass(frozen=True)
class Footer:
    """A checked footer: item columns as numpy arrays plus the metadata columns."""

    ids: list[str]
    formats: list[str]
    splits: list[str | None]
    offsets: np.ndarray  # int64, relative to the tortilla that holds the footer
    lengths: np.ndarray  # int64
    table: pa.Table  # the footer without pandas index columns

    def metadata_rows(self) -> list[dict[str, Any]]:
        """One dict per row of the non-``tortilla:`` columns, in row order."""
        meta = self.table.select([c for c in self.table.column_names
                                  if not c.startswith("tortilla:")])
        if meta.num_columns == 0:
            return [{} for _ in range(self.table.num_rows)]
        return meta.to_pylist()


def parse_footer(raw: bytes, *, path: Path, where: str, hint: str) -> Footer:
    """Parse footer bytes and check its required columns.

    Args:
        raw: the footer's bytes (a parquet file).
        path: the tortilla file, for the error message.
        where: ``"footer"`` or ``"sample 'x' (#3): footer"``, for the error message.
        hint: what the user should do, for the error message.

    Raises:
        CorruptFileError: the bytes are not a parquet table, or a required column is missing,
            of the wrong type or holds nulls/negative values.
    """
    try:
        # small in-memory tables: no pre-buffering, no thread pool (both cost more than they save)
        pfile = pq.ParquetFile(pa.BufferReader(raw), pre_buffer=False,
                               page_checksum_verification=True)
        _check_key_values(pfile.metadata)
        table = pfile.read(use_threads=False)
        _check_int_statistics(pfile.metadata, table)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptFileError(path, f"{where} is not a readable parquet table ({exc})", hint) from exc
    drop = [c for c in table.column_names if is_pandas_index(c)]
    if drop:
        table = table.drop_columns(drop)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise CorruptFileError(path, f"{where} lacks column(s) {', '.join(missing)}", hint)
    for col in (COL_ID, COL_FORMAT):
        typ = table.schema.field(col).type
        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            raise CorruptFileError(path, f"{where}: column {col} has type {typ}, expected string",
                                   hint)
    for col in (COL_OFFSET, COL_LENGTH):
        typ = table.schema.field(col).type
        if not pa.types.is_integer(typ):
            raise CorruptFileError(path, f"{where}: column {col} has type {typ}, expected int64",
                                   hint)
    for col in REQUIRED_COLUMNS:
        if table.column(col).null_count:
            raise CorruptFileError(path, f"{where}: column {col} has empty (null) values", hint)
    offsets = table.column(COL_OFFSET).to_numpy().astype(np.int64, copy=False)
    lengths = table.column(COL_LENGTH).to_numpy().astype(np.int64, copy=False)
    if (offsets < 0).any() or (lengths < 0).any():
        raise CorruptFileError(path, f"{where}: negative byte offset or length", hint)
    splits: list[str | None]
    if COL_SPLIT in table.column_names:
        splits = table.column(COL_SPLIT).to_pylist()
    else:
        splits = [None] * table.num_rows
    return Footer(ids=table.column(COL_ID).to_pylist(),
                  formats=table.column(COL_FORMAT).to_pylist(),
                  splits=splits, offsets=offsets, lengths=lengths, table=table)


def _check_key_values(meta: pq.FileMetaData) -> None:
    """The JSON documents pandas and GeoParquet store beside the schema must parse (pyarrow itself
    reads the copy inside ``ARROW:schema`` and would not notice damage to these)."""
    for key, value in (meta.metadata or {}).items():
        if key in (b"pandas", b"geo"):
            json.loads(value)


def _check_int_statistics(meta: pq.FileMetaData, table: pa.Table) -> None:
    """The recorded min/max of the byte offset/length columns equal the values read."""
    names = [meta.schema.column(j).path for j in range(meta.num_columns)]
    start = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for col in (COL_OFFSET, COL_LENGTH):
            if col not in names:
                continue
            stats = group.column(names.index(col)).statistics
            if stats is None or not stats.has_min_max or group.num_rows == 0:
                continue
            values = table.column(col).slice(start, group.num_rows)
            got = pc.min_max(values)
            if (got["min"].as_py(), got["max"].as_py()) != (stats.min, stats.max):
                raise ValueError(f"column {col}: values disagree with the recorded min/max")
        start += group.num_rows


def check_ranges(footer: Footer, *, start: int, end: int, path: Path, where: str,
                 hint: str) -> None:
    """Every item lies within ``[start, end)`` and no two items overlap.

    Raises:
        CorruptFileError: naming the first item out of place.
    """
    if not len(footer.offsets):
        return
    stops = footer.offsets + footer.lengths
    bad = np.flatnonzero((footer.offsets < start) | (stops > end))
    if bad.size:
        i = int(bad[0])
        raise CorruptFileError(
            path, f"{where}: item {footer.ids[i]!r} claims bytes {footer.offsets[i]}.."
            f"{stops[i]}, outside the data area {start}..{end} (truncated or damaged file)", hint)
    order = np.argsort(footer.offsets, kind="stable")
    overlap = np.flatnonzero(stops[order][:-1] > footer.offsets[order][1:])
    if overlap.size:
        a, b = int(order[overlap[0]]), int(order[overlap[0] + 1])
        raise CorruptFileError(path, f"{where}: items {footer.ids[a]!r} and {footer.ids[b]!r} "
                               "overlap (damaged footer)", hint)
