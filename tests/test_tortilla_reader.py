"""geobench.tortilla.Tortilla against tacoreader 0.5.6 + rasterio on the real GEO-Bench-2 fixtures,
and its errors on damaged files."""

from __future__ import annotations

import io
import math
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geobench.errors import CorruptFileError, DatasetNotFoundError
from geobench.tortilla import Tortilla
from geobench.tortilla.layout import HEADER_SIZE, pack_header, unpack_header
from tests.conftest import REAL_FIXTURES

tacoreader = pytest.importorskip("tacoreader")
rasterio = pytest.importorskip("rasterio")


def _plain(value: Any) -> Any:
    """tacoreader goes through pandas (NaN for nulls, numpy arrays for lists): normalise both."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _rows(df: Any) -> list[dict[str, Any]]:
    cols = [c for c in df.columns if not c.startswith(("tortilla:", "internal:"))]
    return [{c: _plain(df[c].iloc[i]) for c in cols} for i in range(len(df))]


def _gdal_read(vsi: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(vsi) as ds:
            return ds.read()


@pytest.mark.parametrize("name", REAL_FIXTURES)
def test_fixture_matches_tacoreader(fixtures_dir: Path, name: str) -> None:
    path = fixtures_dir / f"{name}.tortilla"
    ours = Tortilla(path)
    ref = tacoreader.load(str(path))
    assert len(ours) == len(ref) > 0
    assert [s.id for s in ours.samples] == ref["tortilla:id"].tolist()
    assert [s.split for s in ours.samples] == ref["tortilla:data_split"].tolist()
    assert [s.index for s in ours.samples] == list(range(len(ours)))
    assert [{k: _plain(v) for k, v in s.metadata.items()} for s in ours.samples] == _rows(ref)
    assert ours.metadata_table.num_rows == len(ref)
    for split in ("train", "validation", "test"):
        want = ref[ref["tortilla:data_split"] == split]["tortilla:id"].tolist()
        assert [s.id for s in ours.split(split)] == want
        assert want, f"{name} fixture has no {split} sample"

    n_raster = 0
    for i, sample in enumerate(ours.samples):
        nested = ref.read(i)
        assets = ours.assets(sample)
        assert [a.id for a in assets] == nested["tortilla:id"].tolist()
        assert [a.file_format for a in assets] == nested["tortilla:file_format"].tolist()
        assert [a.vsi_path() for a in assets] == nested["internal:subfile"].tolist()
        assert [{k: _plain(v) for k, v in a.metadata.items()} for a in assets] == _rows(nested)
        for j, asset in enumerate(assets):
            assert asset.sample_id == sample.id
            data = ours.read_bytes(asset)
            assert len(data) == asset.length
            if asset.file_format == "GTiff":
                got = ours.read_raster(asset)
                want = _gdal_read(nested.read(j))
                assert got.dtype == want.dtype and got.shape == want.shape and got.ndim == 3
                assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f")
                n_raster += 1
            elif asset.file_format == "GeoParquet":
                table = ours.read_table(asset)
                assert table.num_rows > 0
                assert {"label", "xmin", "ymin", "xmax", "ymax", "geometry"} <= set(table.column_names)
                assert b"geo" in table.schema.metadata
            elif asset.file_format == "HDF5":
                with ours.read_hdf5(asset) as h5:
                    assert len(h5.keys()) or len(h5.attrs)
            else:  # pragma: no cover - the fixtures hold only these three formats
                pytest.fail(f"unexpected asset format {asset.file_format}")
    if name != "pastis":  # pastis keeps every modality in HDF5
        assert n_raster > 0


def test_assets_are_cached_and_by_id(fixtures_dir: Path) -> None:
    ours = Tortilla(fixtures_dir / "benv2.tortilla")
    first = ours.assets(3)
    assert ours.assets(ours.sample(3)) == first
    assert ours.asset(3, "s2").id == "s2"
    with pytest.raises(KeyError, match="s1"):
        ours.asset(3, "nope")
    s2 = ours.read_raster(ours.asset(3, "s2"))
    assert s2.shape == (12, 120, 120) and s2.dtype == np.uint16
    with pytest.raises(ValueError, match="not a raster"):
        ours.read_raster(Tortilla(fixtures_dir / "pastis.tortilla").assets(0)[0])


def test_everwatch_table_equals_parquet_of_slice(fixtures_dir: Path) -> None:
    path = fixtures_dir / "everwatch.tortilla"
    ours = Tortilla(path)
    asset = ours.asset(0, "annotations")
    raw = path.read_bytes()[asset.offset:asset.offset + asset.length]
    assert ours.read_table(asset).equals(pq.read_table(io.BytesIO(raw)))


def test_order_id_matches_tacoreader_list_load(fixtures_dir: Path) -> None:
    paths = [fixtures_dir / "pastis.tortilla", fixtures_dir / "benv2.tortilla"]
    ours = Tortilla(paths, order="id")
    ref = tacoreader.load([str(p) for p in paths])  # what the official datamodules call
    assert [s.id for s in ours.samples] == ref["tortilla:id"].tolist()
    assert ours.metadata_table.column("tortilla:id").to_pylist() == ref["tortilla:id"].tolist()


def test_several_shards_are_one_collection(fixtures_dir: Path) -> None:
    a, b = fixtures_dir / "pastis.tortilla", fixtures_dir / "caffe.tortilla"
    both = Tortilla([a, b])
    one, two = Tortilla(a), Tortilla(b)
    assert len(both) == len(one) + len(two)
    assert [s.id for s in both.samples] == [s.id for s in one.samples + two.samples]
    assert [s.index for s in both.samples] == list(range(len(both)))
    assert both.sample(len(one)).path == b
    assert both.metadata_table.num_rows == len(both)
    assert len(both.split("train")) == len(one.split("train")) + len(two.split("train"))
    img_both = both.read_raster(both.assets(len(one))[0])
    img_two = two.read_raster(two.assets(0)[0])
    assert np.array_equal(img_both, img_two)
    folder = Tortilla(fixtures_dir)  # a folder: its *.tortilla files in name order
    assert len(folder.paths) == len(REAL_FIXTURES)
    assert len(folder) == sum(len(Tortilla(fixtures_dir / f"{n}.tortilla")) for n in REAL_FIXTURES)


# ------------------------------------------------------------------------------ damaged files
@pytest.fixture
def caffe_copy(fixtures_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "raw" / "caffe" / "geobench_caffe.tortilla"
    dst.parent.mkdir(parents=True)
    shutil.copyfile(fixtures_dir / "caffe.tortilla", dst)
    return dst


def _footer_span(path: Path) -> tuple[int, int]:
    _, f_off, f_len = unpack_header(path.read_bytes()[:18])
    return f_off, f_len


def _corrupt(path: Path, **kwargs: Any) -> CorruptFileError:
    with pytest.raises(CorruptFileError) as info:
        t = Tortilla(path, **kwargs)
        t.verify()
    msg = str(info.value)
    assert str(path) in msg
    assert "python -m geobench.download dataset=caffe" in msg
    assert info.value.path == path
    return info.value


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    missing = tmp_path / "raw" / "caffe" / "geobench_caffe.tortilla"
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(missing))) as info:
        Tortilla(missing)
    assert "dataset=caffe" in str(info.value)
    with pytest.raises(DatasetNotFoundError, match=re.escape("no *.tortilla")):
        Tortilla(tmp_path)


def test_empty_file(caffe_copy: Path) -> None:
    caffe_copy.write_bytes(b"")
    assert "empty" in str(_corrupt(caffe_copy))


def test_wrong_magic(caffe_copy: Path) -> None:
    data = bytearray(caffe_copy.read_bytes())
    data[:2] = b"PK"
    caffe_copy.write_bytes(bytes(data))
    assert "not a tortilla" in str(_corrupt(caffe_copy))


def test_truncated_before_footer_and_mid_asset(caffe_copy: Path, tmp_path: Path) -> None:
    data = caffe_copy.read_bytes()
    caffe_copy.write_bytes(data[:-100])  # footer cut short: footer end beyond EOF
    assert "truncated" in str(_corrupt(caffe_copy))
    # cut inside the third sample's first asset
    caffe_copy.write_bytes(data)
    third = Tortilla(caffe_copy).assets(2)[0]
    caffe_copy.write_bytes(data[:third.offset + third.length // 2])
    assert "truncated" in str(_corrupt(caffe_copy))


def test_flipped_bytes_in_footer(caffe_copy: Path) -> None:
    data = caffe_copy.read_bytes()
    f_off, f_len = _footer_span(caffe_copy)
    for start in (f_off + f_len // 2, f_off + f_len - 40, f_off):  # middle, metadata, magic
        bad = bytearray(data)
        for k in range(start, start + 16):
            bad[k] ^= 0xFF
        caffe_copy.write_bytes(bytes(bad))
        assert "footer" in str(_corrupt(caffe_copy))


def _rewrite_outer_footer(path: Path, change: Any) -> None:
    data = path.read_bytes()
    f_off, f_len = _footer_span(path)
    table = pq.read_table(io.BytesIO(data[f_off:f_off + f_len]))
    table = change(table)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    footer = sink.getvalue()
    path.write_bytes(pack_header(f_off, len(footer)) + data[HEADER_SIZE:f_off] + footer)


def _set(table: pa.Table, column: str, row: int, value: int) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    idx = table.column_names.index(column)
    return table.set_column(idx, column, pa.array(values, type=pa.int64()))


def test_sample_pointing_outside_the_file(caffe_copy: Path) -> None:
    _rewrite_outer_footer(caffe_copy, lambda t: _set(t, "tortilla:length", 4, 10**12))
    assert "outside the data area" in str(_corrupt(caffe_copy))


def test_sample_offset_not_at_a_sample(caffe_copy: Path) -> None:
    sample_id = Tortilla(caffe_copy).sample(4).id
    _rewrite_outer_footer(caffe_copy, lambda t: _set(t, "tortilla:offset", 4,
                                                     t.column("tortilla:offset")[4].as_py() + 8))
    err = str(_corrupt(caffe_copy))
    assert "overlap" in err and repr(sample_id) in err


def test_nested_asset_pointing_outside_its_sample(caffe_copy: Path) -> None:
    t = Tortilla(caffe_copy)
    sample = t.sample(3)
    data = bytearray(caffe_copy.read_bytes())
    # Rewrite sample 3's nested footer with its first asset stretched past the sample's end;
    # the sample keeps its size (the new footer is padded into the old footer's bytes).
    _, n_off, n_len = unpack_header(bytes(data[sample.offset:sample.offset + 18]))
    start = sample.offset + n_off
    nested = pq.read_table(io.BytesIO(bytes(data[start:start + n_len])))
    nested = _set(nested, "tortilla:length", 0, sample.length * 4).replace_schema_metadata(None)
    sink = io.BytesIO()
    pq.write_table(nested, sink, compression="zstd")
    new = sink.getvalue()
    assert len(new) <= n_len
    data[start:start + n_len] = new + b"\0" * (n_len - len(new))
    data[sample.offset + 10:sample.offset + 18] = len(new).to_bytes(8, "little")
    caffe_copy.write_bytes(bytes(data))
    fresh = Tortilla(caffe_copy)  # the outer footer is intact: opening is fine
    assert len(fresh) == len(t)
    with pytest.raises(CorruptFileError) as info:
        fresh.assets(3)
    assert str(caffe_copy) in str(info.value) and repr(sample.id) in str(info.value)
    assert "dataset=caffe" in str(info.value)
    fresh.assets(2)  # other samples still read
    with pytest.raises(CorruptFileError):
        fresh.verify()


def test_nested_header_damaged(caffe_copy: Path) -> None:
    t = Tortilla(caffe_copy)
    sample = t.sample(5)
    data = bytearray(caffe_copy.read_bytes())
    data[sample.offset + 2:sample.offset + 10] = (10**9).to_bytes(8, "little")
    caffe_copy.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError) as info:
        Tortilla(caffe_copy).assets(5)
    assert str(caffe_copy) in str(info.value) and repr(sample.id) in str(info.value)


def test_open_reads_only_header_and_footer(fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    path = fixtures_dir / "flair2.tortilla"
    _, _, f_len = unpack_header(path.read_bytes()[:18])
    read: list[int] = []
    real = os.pread

    def counting(fd: int, n: int, offset: int) -> bytes:
        read.append(n)
        return real(fd, n, offset)

    monkeypatch.setattr(os, "pread", counting)
    t = Tortilla(path)
    assert sum(read) == 18 + f_len  # nothing of the 3 MB of assets
    read.clear()
    t.assets(0)
    t.assets(0)  # second call served from the cache
    assert 0 < sum(read) < t.sample(0).length / 10 and len(read) == 2


def test_pickled_reader_reads_in_a_copy(fixtures_dir: Path) -> None:
    import pickle

    t = Tortilla(fixtures_dir / "caffe.tortilla")
    want = t.read_raster(t.assets(1)[0])
    copy = pickle.loads(pickle.dumps(t))  # as a spawned DataLoader worker receives it
    assert np.array_equal(copy.read_raster(copy.assets(1)[0]), want)
    t.close()
    assert np.array_equal(t.read_raster(t.assets(1)[0]), want)  # reopens after close
