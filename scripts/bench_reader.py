"""Time reading every asset of every sample of the GEO-Bench-2 fixtures: geobench.tortilla vs
tacoreader 0.5.6 + rasterio (what the official datamodules do), side by side in one run.

    python scripts/bench_reader.py [--fixtures DIR] [--repeats N]

Two passes per reader and dataset, each from a freshly opened file (best of N repeats):
- decode:    every GeoTIFF asset decoded by GDAL, parquet assets parsed, HDF5 datasets read;
- container: only the sample listing and each asset's bytes (the container's own cost).
Prints samples/s of each reader and the ratio ours / tacoreader.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "geobench2"
_VSI = re.compile(r"/vsisubfile/(\d+)_(\d+),(.+)")


def _decode_other(fmt: str, data: bytes) -> None:
    import h5py
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "HDF5":
        with h5py.File(io.BytesIO(data), "r") as f:
            f.visititems(lambda _k, v: v[()] if isinstance(v, h5py.Dataset) else None)
            dict(f.attrs)
    elif fmt in ("GeoParquet", "PARQUET"):
        pq.read_table(pa.BufferReader(data))


def ours(path: Path, decode: bool) -> int:
    """One pass with geobench.tortilla; returns the number of samples read."""
    from geobench.tortilla import Tortilla

    with Tortilla(path) as t:
        for sample in t.samples:
            for asset in t.assets(sample):
                if decode and asset.file_format == "GTiff":
                    t.read_raster(asset)
                elif decode:
                    _decode_other(asset.file_format, t.read_bytes(asset))
                else:
                    t.read_bytes(asset)
        return len(t)


def reference(path: Path, decode: bool) -> int:
    """One pass the way the official GEO-Bench-2 datasets read: tacoreader rows, rasterio on the
    /vsisubfile/ path, seek+read of the byte range for HDF5 / GeoParquet."""
    import rasterio
    import tacoreader

    df = tacoreader.load(str(path))
    for i in range(len(df)):
        nested = df.read(i)
        for j in range(len(nested)):
            vsi = nested.read(j)
            fmt = nested["tortilla:file_format"].iloc[j]
            if decode and fmt == "GTiff":
                with rasterio.open(vsi) as ds:
                    ds.read()
                continue
            m = _VSI.match(vsi)
            assert m is not None
            off, length, file = int(m[1]), int(m[2]), m[3]
            with open(file, "rb") as f:
                f.seek(off)
                data = f.read(length)
            if decode:
                _decode_other(fmt, data)
    return len(df)


def best_rate(fn: Callable[[Path, bool], int], path: Path, decode: bool, repeats: int) -> float:
    """Samples per second of the fastest of ``repeats`` passes."""
    best = float("inf")
    n = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn(path, decode)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    files = sorted(args.fixtures.glob("*.tortilla"))
    if not files:
        print(f"error: no *.tortilla under {args.fixtures}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", module="rasterio")
    import tacoreader

    print(f"tacoreader {tacoreader.__version__}; best of {args.repeats} passes, fresh open each")
    for decode in (True, False):
        label = "decode (GDAL/parquet/HDF5)" if decode else "container only (listing + bytes)"
        print(f"\n{label}")
        print(f"{'dataset':<18}{'ours s/s':>10}{'taco s/s':>10}{'ratio':>8}")
        tot_ours = tot_ref = 0.0
        n_total = 0
        for path in files:
            for fn in (ours, reference):  # warm the page cache and imports
                fn(path, decode)
            r_ours = best_rate(ours, path, decode, args.repeats)
            r_ref = best_rate(reference, path, decode, args.repeats)
            n = ours(path, False)
            n_total += n
            tot_ours += n / r_ours
            tot_ref += n / r_ref
            print(f"{path.stem:<18}{r_ours:>10.1f}{r_ref:>10.1f}{r_ours / r_ref:>7.1f}x")
        print(f"{'all':<18}{n_total / tot_ours:>10.1f}{n_total / tot_ref:>10.1f}"
              f"{tot_ref / tot_ours:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
