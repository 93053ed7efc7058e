"""geobench.tortilla.write_tortilla: round trips through our reader and through tacoreader 0.5.6."""

from __future__ import annotations

import io
import itertools
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geobench.tortilla import (
    AssetSpec,
    SampleSpec,
    Tortilla,
    geotiff_bytes,
    hdf5_bytes,
    parquet_bytes,
    write_tortilla,
)
from geobench.tortilla.layout import HEADER_SIZE, MAGIC, unpack_header

SPLITS = ("train", "train", "validation", "test", "train", "test")
LABELS = ["Arable land", "Broad-leaved forest", "Marine waters", "Urban fabric"]
DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "float32", "float64")


def _random_array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.normal(100.0, 50.0, size=shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)


def _boxes(rng: np.random.Generator, n: int) -> pa.Table:
    xy = rng.integers(0, 40, size=(n, 2))
    table = pa.table({"label": pa.array(rng.choice(["Egret", "Ibis"], size=n).tolist()),
                      "xmin": pa.array(xy[:, 0]), "ymin": pa.array(xy[:, 1]),
                      "xmax": pa.array(xy[:, 0] + 8), "ymax": pa.array(xy[:, 1] + 8)})
    return table.replace_schema_metadata({"geo": json.dumps({"version": "1.0.0"})})


def _make_samples(seed: int, n: int = 6, prefix: str = "sample") -> list[dict[str, Any]]:
    """Plain descriptions (arrays, tables, metadata) of ``n`` random samples."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = int(rng.integers(8, 24)), int(rng.integers(8, 24))
        arrays = {f"b_{dt}": _random_array(rng, dt, (int(rng.integers(1, 5)), h, w))
                  for dt in DTYPES}
        k = int(rng.integers(0, 3))
        out.append({
            "id": f"{prefix}_{i}",
            "split": SPLITS[i % len(SPLITS)],
            "arrays": arrays,
            "table": _boxes(rng, int(rng.integers(1, 6))),
            "h5": rng.integers(0, 20, size=(3, 2, h, w)).astype(np.int16),
            "meta": {"labels": sorted(rng.choice(LABELS, size=k, replace=False).tolist()),
                     "lon": float(rng.uniform(-180, 180)), "flag": bool(i % 2),
                     "count": int(rng.integers(0, 1000)), "country": f"C{i}",
                     "maybe": None if i % 3 else float(i)},
        })
    return out


def _specs(samples: list[dict[str, Any]]) -> Iterator[SampleSpec]:
    for s in samples:
        assets = [AssetSpec(name, geotiff_bytes(arr, transform=(500000.0, 10.0, 0.0, 5e6, 0.0,
                                                                 -10.0), crs="EPSG:32631"),
                            "GTiff", {"band_count": arr.shape[0]})
                  for name, arr in s["arrays"].items()]
        assets.append(AssetSpec("annotations", parquet_bytes(s["table"]), "GeoParquet"))
        assets.append(AssetSpec("series", hdf5_bytes({"data": s["h5"]}, {"note": "t"}), "HDF5"))
        yield SampleSpec(s["id"], assets, s["split"], dict(s["meta"]))


def _gdal(vsi: str) -> np.ndarray:
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(vsi) as ds:
            return ds.read()


def test_round_trip_through_our_reader(tmp_path: Path) -> None:
    samples = _make_samples(seed=1)
    out = write_tortilla(tmp_path / "synthetic.tortilla", _specs(samples))
    raw = out.read_bytes()
    assert raw[:2] == MAGIC
    _, f_off, f_len = unpack_header(raw)
    assert f_off + f_len == len(raw) and raw[18:26] == (1).to_bytes(8, "little")
    assert raw[26:HEADER_SIZE] == b"\0" * (HEADER_SIZE - 26)

    t = Tortilla(out)
    assert [s.id for s in t.samples] == [s["id"] for s in samples]
    assert [s.split for s in t.samples] == [s["split"] for s in samples]
    assert [s.metadata for s in t.samples] == [s["meta"] for s in samples]
    assert t.samples[0].offset == HEADER_SIZE
    assert t.metadata_table.schema.field("labels").type == pa.list_(pa.string())
    assert t.metadata_table.column_names[:5] == [
        "tortilla:id", "tortilla:file_format", "tortilla:data_split", "tortilla:offset",
        "tortilla:length"]
    assert set(t.metadata_table.column("tortilla:file_format").to_pylist()) == {"TORTILLA"}
    for sample, want in zip(t.samples, samples, strict=True):
        assets = t.assets(sample)
        assert [a.id for a in assets] == [*want["arrays"], "annotations", "series"]
        for asset in assets[: len(DTYPES)]:
            arr = want["arrays"][asset.id]
            got = t.read_raster(asset)
            assert got.dtype == arr.dtype and np.array_equal(got, arr)
            assert np.array_equal(got, _gdal(asset.vsi_path()))
            assert asset.metadata == {"band_count": arr.shape[0]}
        table = t.read_table(t.asset(sample, "annotations"))
        assert table.equals(want["table"])
        assert json.loads(table.schema.metadata[b"geo"]) == {"version": "1.0.0"}
        with t.read_hdf5(t.asset(sample, "series")) as h5:
            assert np.array_equal(h5["data"][()], want["h5"]) and h5.attrs["note"] == "t"
    t.verify()


def test_round_trip_through_tacoreader(tmp_path: Path) -> None:
    tacoreader = pytest.importorskip("tacoreader")
    samples = _make_samples(seed=2)
    out = write_tortilla(tmp_path / "synthetic.tortilla", _specs(samples))
    df = tacoreader.load(str(out))
    assert df["tortilla:id"].tolist() == [s["id"] for s in samples]
    assert df["tortilla:data_split"].tolist() == [s["split"] for s in samples]
    assert [list(v) for v in df["labels"]] == [s["meta"]["labels"] for s in samples]
    assert df["lon"].tolist() == [s["meta"]["lon"] for s in samples]
    assert df["country"].tolist() == [s["meta"]["country"] for s in samples]
    maybe = [None if (v is None or math.isnan(v)) else v for v in df["maybe"]]
    assert maybe == [s["meta"]["maybe"] for s in samples]
    for i, want in enumerate(samples):
        nested = df.read(i)
        ids = nested["tortilla:id"].tolist()
        assert ids == [*want["arrays"], "annotations", "series"]
        for j, name in enumerate(ids[: len(DTYPES)]):
            got = _gdal(nested.read(j))
            assert got.dtype == want["arrays"][name].dtype
            assert np.array_equal(got, want["arrays"][name])
        j = ids.index("annotations")
        off, length = int(nested["tortilla:offset"].iloc[j]), int(nested["tortilla:length"].iloc[j])
        with open(out, "rb") as f:
            f.seek(off)
            assert pq.read_table(io.BytesIO(f.read(length))).equals(want["table"])


def test_several_written_shards_read_as_one(tmp_path: Path) -> None:
    a = _make_samples(seed=3, n=4, prefix="b")
    b = _make_samples(seed=4, n=3, prefix="a")
    pa_ = write_tortilla(tmp_path / "geobench_x.0000.part.tortilla", _specs(a))
    pb = write_tortilla(tmp_path / "geobench_x.0001.part.tortilla", _specs(b))
    t = Tortilla(tmp_path)  # folder: both parts in name order
    assert t.paths == [pa_, pb]
    assert [s.id for s in t.samples] == [s["id"] for s in a + b]
    assert [s.index for s in t.samples] == list(range(7))
    assert t.metadata_table.num_rows == 7
    assert [s.id for s in t.split("test")] == [s["id"] for s in a + b if s["split"] == "test"]
    last = t.sample(6)
    assert last.path == pb
    arr = t.read_raster(t.asset(last, "b_int16"))
    assert np.array_equal(arr, b[2]["arrays"]["b_int16"])
    by_id = Tortilla([pa_, pb], order="id")
    assert [s.id for s in by_id.samples] == sorted(s["id"] for s in a + b)
    assert by_id.metadata_table.column("tortilla:id").to_pylist() == sorted(
        s["id"] for s in a + b)


def test_write_streams_and_is_atomic(tmp_path: Path) -> None:
    samples = _make_samples(seed=5, n=4)
    target = tmp_path / "out.tortilla"
    sizes: list[int] = []

    def gen() -> Iterator[SampleSpec]:
        for spec in _specs(samples):
            temps = list(tmp_path.glob(".out.tortilla.*.tmp"))
            sizes.append(temps[0].stat().st_size if temps else -1)
            yield spec

    write_tortilla(target, gen())
    # each sample reached the temporary file before the next one was produced
    assert sizes[0] == HEADER_SIZE and all(b > a for a, b in itertools.pairwise(sizes))
    assert not list(tmp_path.glob(".*.tmp"))
    before = target.read_bytes()

    def failing() -> Iterator[SampleSpec]:
        yield from list(_specs(samples))[:2]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_tortilla(target, failing())
    assert target.read_bytes() == before  # the old file is untouched
    assert not list(tmp_path.glob(".*.tmp"))  # and nothing half-written is left


@pytest.mark.parametrize("bad", ["dup_sample", "dup_asset", "reserved", "no_split", "empty",
                                 "no_assets"])
def test_writer_rejects_bad_specs(tmp_path: Path, bad: str) -> None:
    tif = geotiff_bytes(np.zeros((1, 4, 4), np.uint8))
    ok = SampleSpec("s0", [AssetSpec("img", tif, "GTiff")], "train")
    specs = {
        "dup_sample": [ok, SampleSpec("s0", [AssetSpec("img", tif, "GTiff")], "test")],
        "dup_asset": [SampleSpec("s0", [AssetSpec("img", tif, "GTiff")] * 2, "train")],
        "reserved": [SampleSpec("s0", ok.assets, "train", {"tortilla:id": "x"})],
        "no_split": [SampleSpec("s0", ok.assets, "")],
        "empty": [],
        "no_assets": [SampleSpec("s0", [], "train")],
    }[bad]
    target = tmp_path / "bad.tortilla"
    with pytest.raises(ValueError):
        write_tortilla(target, specs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_geotiff_bytes_georeferencing_and_dtypes() -> None:
    import rasterio
    from rasterio.io import MemoryFile

    arr = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    data = geotiff_bytes(arr, transform=(600000.0, 10.0, 0.0, 6e6, 0.0, -10.0), crs="EPSG:32629",
                         nodata=-1.0)
    with MemoryFile(data) as mem, mem.open() as ds:
        assert ds.crs == rasterio.crs.CRS.from_epsg(32629)
        assert ds.transform.to_gdal() == (600000.0, 10.0, 0.0, 6e6, 0.0, -10.0)
        assert ds.nodata == -1.0 and ds.compression.name == "zstd"
        assert np.array_equal(ds.read(), arr)
    two_d = geotiff_bytes(np.ones((3, 4), np.uint16))
    with MemoryFile(two_d) as mem, mem.open() as ds:
        assert ds.read().shape == (1, 3, 4)
    for bad in (np.zeros((1, 2, 2), np.float16), np.zeros((1, 2, 2), bool),
                np.zeros((2, 2, 2, 2), np.uint8)):
        with pytest.raises(ValueError):
            geotiff_bytes(bad)


def test_write_into_a_callers_temporary_file(tmp_path: Path) -> None:
    """``atomic=False`` writes the given path itself (a temp of ``atomic_outputs``): no temp of its own."""
    from geobench.fileio import atomic_outputs

    samples = _make_samples(seed=6, n=2)
    targets = [tmp_path / "a.0000.part.tortilla", tmp_path / "a.0001.part.tortilla"]
    with atomic_outputs(targets) as temps:
        for tmp, s in zip(temps, samples, strict=True):
            assert write_tortilla(tmp, _specs([s]), atomic=False) == tmp
        assert sorted(tmp_path.iterdir()) == sorted(temps)  # only the caller's temporary files
    assert [s.id for s in Tortilla(targets).samples] == [s["id"] for s in samples]
