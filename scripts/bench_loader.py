#!/usr/bin/env python
"""Loader throughput: prepared HDF5 vs reading the same samples straight from the tortilla.

The baseline does what the official GEO-Bench-2 datamodules do for every sample at every epoch:
look the sample up in the tortilla (tacoreader), open each GeoTIFF asset through GDAL's
``/vsisubfile/`` with rasterio, read it, convert to float and z-score. geobench reads the prepared
HDF5 file instead. Both produce the same normalized tensors (checked), side by side in one run.

    python scripts/bench_loader.py [--dataset benv2] [--samples 256] [--size 120] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def gdal_samples(path: Path, modalities: list[str], mean: dict[str, torch.Tensor], std: dict[str, torch.Tensor]):
    import rasterio
    import tacoreader

    df = tacoreader.load(str(path))

    def get(i: int) -> dict[str, torch.Tensor]:
        row = df.read(i)
        out = {}
        ids = list(row["tortilla:id"])
        for m in modalities:
            with rasterio.open(row.read(ids.index(m))) as src:
                x = torch.from_numpy(src.read()).float()
            out[m] = (x - mean[m].view(-1, 1, 1)) / std[m].view(-1, 1, 1)
        return out

    return len(df), get


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="benv2")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--size", type=int, default=120)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data-root", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)  # one loader process, as in a DataLoader worker (both paths alike)

    from geobench.data import PreparedDataset
    from geobench.prepare import prepare_dataset
    from geobench.synthetic import write_synthetic

    root = args.data_root or Path(tempfile.mkdtemp(prefix="geobench-bench-"))
    n = args.samples
    t0 = time.perf_counter()
    files = write_synthetic(args.dataset, root, samples={"train": n, "validation": 2, "test": 2}, image_size=args.size)
    prepare_dataset(args.dataset, root, progress=False)
    print(f"setup: {n} synthetic {args.dataset} samples of {args.size}px written and prepared "
          f"in {time.perf_counter() - t0:.1f} s ({root})")

    ds = PreparedDataset(root, args.dataset, "train")
    mods = [m for m in ds.modalities]
    mean = {m: torch.from_numpy(ds.norm[m][0]).flatten() for m in mods}
    std = {m: 1.0 / torch.from_numpy(ds.norm[m][1]).flatten() for m in mods}
    _, gdal_get = gdal_samples(files[0], mods, mean, std)
    train_idx = list(range(n))  # train samples come first in the synthetic file

    # same values from both paths
    for i in (0, n - 1):
        a, b = ds[i]["inputs"], gdal_get(train_idx[i])
        for m in mods:
            assert torch.allclose(a[m], b[m], atol=1e-4), f"sample {i} {m}: the two paths disagree"

    def run_h5() -> None:
        for i in range(n):
            ds[i]

    def run_gdal() -> None:
        for i in train_idx:
            gdal_get(i)

    h5_t, gdal_t = [], []
    for _ in range(args.epochs):  # interleaved, so drift on a shared machine hits both alike
        t = time.perf_counter()
        run_h5()
        h5_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_gdal()
        gdal_t.append(time.perf_counter() - t)
    h5_rate = n / statistics.median(h5_t)
    gdal_rate = n / statistics.median(gdal_t)
    print(f"dataset {args.dataset}, {n} samples, modalities {mods}, {args.size}x{args.size}, one process, "
          f"median of {args.epochs} epochs")
    print(f"prepared HDF5 loader : {h5_rate:10.1f} samples/s")
    print(f"tortilla + GDAL      : {gdal_rate:10.1f} samples/s")
    print(f"ratio                : {h5_rate / gdal_rate:10.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
