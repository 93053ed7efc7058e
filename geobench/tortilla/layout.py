"""The byte layout of a TACO "tortilla" file, as the GEO-Bench-2 files use it.

A tortilla is::

    offset 0    2 bytes   magic  b"#y"
    offset 2    8 bytes   footer offset  (uint64, little-endian, from the tortilla's first byte)
    offset 10   8 bytes   footer length  (uint64, little-endian)
    offset 18   8 bytes   data partitions (uint64, little-endian; always 1)
    offset 26   174 bytes zero padding                       -> header is 200 bytes
    offset 200  the items' bytes, back to back
    footer      a parquet file: one row per item

Footer rows carry ``tortilla:id`` (string), ``tortilla:file_format`` (string: ``TORTILLA`` for a
nested tortilla, ``GTiff``, ``GeoParquet``, ``HDF5``, ``BYTES``, ...), ``tortilla:data_split``
(string), ``tortilla:offset`` and ``tortilla:length`` (int64, relative to the first byte of the
tortilla that holds the footer) and free metadata columns. In GEO-Bench-2 every row of a file's
footer is a sample whose item is itself a tortilla (``TORTILLA``); that nested tortilla's footer
lists the sample's assets.
"""

from __future__ import annotations

import struct
from typing import Final

MAGIC: Final = b"#y"
# TACO files (magic "WX") share the first 18 bytes of the header; tacoreader accepts both.
ACCEPTED_MAGICS: Final = frozenset({b"#y", b"WX"})
HEADER_SIZE: Final = 200
HEADER_FIELDS: Final = struct.Struct("<2sQQQ")  # magic, footer offset, footer length, partitions
MIN_HEADER: Final = 18  # magic + footer offset + footer length: what a reader needs

COL_ID: Final = "tortilla:id"
COL_FORMAT: Final = "tortilla:file_format"
COL_SPLIT: Final = "tortilla:data_split"
COL_OFFSET: Final = "tortilla:offset"
COL_LENGTH: Final = "tortilla:length"
REQUIRED_COLUMNS: Final = (COL_ID, COL_FORMAT, COL_OFFSET, COL_LENGTH)
RESERVED_PREFIXES: Final = ("tortilla:", "internal:")

FORMAT_TORTILLA: Final = "TORTILLA"
FORMAT_GTIFF: Final = "GTiff"
FORMAT_PARQUET: Final = "PARQUET"
FORMAT_GEOPARQUET: Final = "GeoParquet"
FORMAT_HDF5: Final = "HDF5"
FORMAT_BYTES: Final = "BYTES"
# Formats that GDAL cannot decode as a raster (read_raster refuses them with a clear message).
NON_RASTER_FORMATS: Final = frozenset({FORMAT_TORTILLA, FORMAT_PARQUET, FORMAT_GEOPARQUET,
                                       FORMAT_HDF5, FORMAT_BYTES})


def pack_header(footer_offset: int, footer_length: int) -> bytes:
    """The 200-byte header of a tortilla whose footer starts at ``footer_offset``."""
    head = HEADER_FIELDS.pack(MAGIC, footer_offset, footer_length, 1)
    return head + b"\0" * (HEADER_SIZE - len(head))


def unpack_header(raw: bytes) -> tuple[bytes, int, int]:
    """``(magic, footer_offset, footer_length)`` from at least the first 18 header bytes."""
    magic = raw[:2]
    footer_offset = int.from_bytes(raw[2:10], "little")
    footer_length = int.from_bytes(raw[10:18], "little")
    return magic, footer_offset, footer_length


def is_pandas_index(column: str) -> bool:
    """True for the ``__index_level_N__`` columns pandas leaves in a parquet file."""
    return column.startswith("__index_level_") and column.endswith("__")
