"""Reader and writer of TACO "tortilla" files, the container of the official GEO-Bench-2 data.

See :mod:`geobench.tortilla.layout` for the byte layout.
"""

from geobench.tortilla.reader import AssetRef, SampleRef, Tortilla
from geobench.tortilla.writer import (
    AssetSpec,
    SampleSpec,
    geotiff_bytes,
    hdf5_bytes,
    parquet_bytes,
    write_tortilla,
)

__all__ = ["AssetRef", "AssetSpec", "SampleRef", "SampleSpec", "Tortilla", "geotiff_bytes",
           "hdf5_bytes", "parquet_bytes", "write_tortilla"]
