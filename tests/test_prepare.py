"""Prepare and loader: real fixtures bit for bit, synthetic round trips, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import torch

from geobench import paths
from geobench.data import PreparedDataset, collate
from geobench.datasets.base import get_adapter
from geobench.errors import CorruptFileError, DatasetNotFoundError, GeoBenchError, UnknownNameError
from geobench.integrity import read_lock, write_lock
from geobench.manifest import DATASETS, load_manifest
from geobench.prepare import main as prepare_main
from geobench.prepare import prepare_dataset
from geobench.synthetic import write_synthetic
from geobench.tortilla.reader import Tortilla
from tests.conftest import REAL_FIXTURES

# the independent reads below open the fixtures' plain (non-georeferenced) rasters with rasterio
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def _stage_fixture(fixtures_dir: Path, ds: str, root: Path) -> Path:
    """Copy a real fixture into root/raw/<repo>/ under the manifest's first hub file name, as a
    verified download leaves it: the fixture's sha256 (not the hub file's) in the lock file, so
    that prepare's sha256 check passes through the lock-file path."""
    adapter = get_adapter(ds)
    raw = paths.raw_dir(root, adapter.raw_dataset)
    raw.mkdir(parents=True, exist_ok=True)
    dest = raw / adapter.raw_file_names()[0]
    shutil.copyfile(fixtures_dir / f"{ds}.tortilla", dest)
    sums = read_lock(raw)
    sums[dest.name] = hashlib.sha256(dest.read_bytes()).hexdigest()
    write_lock(raw, adapter.manifest.hub.repo, sums)
    return dest


def _asset_arrays(t: Tortilla, sample) -> list[np.ndarray]:
    """Every array stored in a sample's assets, read independently of geobench's adapters:
    GeoTIFFs through GDAL's /vsisubfile/, HDF5 assets through h5py."""
    out = []
    for a in t.assets(sample):
        fmt = a.file_format.upper()
        if fmt in ("GTIFF", "GEOTIFF", "COG"):
            with rasterio.open(a.vsi_path()) as src:
                out.append(src.read())
        elif fmt == "HDF5":
            with h5py.File(io.BytesIO(t.read_bytes(a)), "r") as f:
                f.visititems(lambda _n, o: out.append(o[()]) if isinstance(o, h5py.Dataset) and o.ndim >= 2 else None)
    return out


def _contains(candidates: list[np.ndarray], arr: np.ndarray) -> bool:
    for c in candidates:
        for view in (c, c[None] if c.ndim == 2 else c):
            if view.shape == arr.shape and view.dtype == arr.dtype and np.array_equal(view, arr):
                return True
        if c.ndim == 4:  # a time series stored in one asset (T, C, H, W): any step
            for step in c:
                if step.shape == arr.shape and step.dtype == arr.dtype and np.array_equal(step, arr):
                    return True
    return False


@pytest.mark.parametrize("ds", REAL_FIXTURES)
def test_real_fixture_prepares_bit_for_bit(ds: str, fixtures_dir: Path, tmp_path: Path) -> None:
    src = _stage_fixture(fixtures_dir, ds, tmp_path)
    outs = prepare_dataset(ds, tmp_path, progress=False, workers=1)
    m = load_manifest(ds)
    t = Tortilla(src)
    for split, out in zip(paths.SPLITS, outs, strict=True):
        with h5py.File(out, "r") as h5:
            assert h5.attrs["geobench_format"] >= 1 and h5.attrs["dataset"] == ds and h5.attrs["split"] == split
            ids = [s.decode() for s in h5["sample_ids"][:]]
            refs = t.split(split)
            assert ids == [s.id for s in refs]
            assert set(h5["inputs"]) == set(m.modality_names)
            for mod in m.modalities:
                ds_ = h5["inputs"][mod.name]
                assert json.loads(ds_.attrs["bands"]) == list(mod.band_names)
                assert str(ds_.dtype) == mod.dtype
            for i, ref in enumerate(refs):
                cands = _asset_arrays(t, ref)
                hw = tuple(h5["valid_hw"][i]) if "valid_hw" in h5 else None
                for mod in m.modalities:
                    arr = h5["inputs"][mod.name][i]
                    steps = [arr] if arr.ndim == 3 else [
                        arr[k] for k in range(arr.shape[0])
                        if "time_mask" not in h5 or mod.name not in h5["time_mask"] or h5["time_mask"][mod.name][i][k]]
                    for step in steps:
                        if hw is not None:
                            step = step[:, : hw[0], : hw[1]]
                        assert _contains(cands, step), f"{ds}/{split}/{ref.id}/{mod.name}: no asset equals the prepared array"


def test_real_targets(fixtures_dir: Path, tmp_path: Path) -> None:
    """Targets decoded as the official dataset classes define them."""
    # benv2: labels (class names) -> multi-hot in manifest order
    _stage_fixture(fixtures_dir, "benv2", tmp_path)
    prepare_dataset("benv2", tmp_path, progress=False, workers=1)
    m = load_manifest("benv2")
    t = Tortilla(paths.raw_dir(tmp_path, "benv2") / m.hub.files[0].name)
    with h5py.File(paths.prepared_file(tmp_path, "benv2", "train"), "r") as h5:
        for i, ref in enumerate(t.split("train")):
            expected = np.zeros(m.num_classes, dtype=np.uint8)
            for name in ref.metadata["labels"]:
                expected[m.classes.index(name)] = 1
            np.testing.assert_array_equal(h5["targets/labels"][i], expected)
    # treesatai: species_labels -> multi-hot
    _stage_fixture(fixtures_dir, "treesatai", tmp_path)
    prepare_dataset("treesatai", tmp_path, progress=False, workers=1)
    m = load_manifest("treesatai")
    with h5py.File(paths.prepared_file(tmp_path, "treesatai", "train"), "r") as h5:
        labels = h5["targets/labels"][:]
        assert labels.shape == (h5.attrs["num_samples"], m.num_classes)
        assert labels.sum(axis=1).min() >= 1


def test_loader_shapes_all_real(fixtures_dir: Path, tmp_path: Path) -> None:
    for ds in REAL_FIXTURES:
        _stage_fixture(fixtures_dir, ds, tmp_path)
        prepare_dataset(ds, tmp_path, progress=False, workers=1)
        m = load_manifest(ds)
        d = PreparedDataset(tmp_path, ds, "train", image_size=32)
        batch = collate([d[0], d[len(d) - 1]])
        # the time series of a sample share one length: the longest of its modalities
        t_common = max((mod.time_steps for mod in m.modalities if mod.time_steps > 1), default=1)
        for mod in m.modalities:
            x = batch["inputs"][mod.name]
            assert x.dtype == torch.float32
            if x.ndim == 5:
                assert x.shape[0] == 2 and x.shape[1] == t_common and x.shape[2:] == (len(mod.bands), 32, 32)
                assert batch["time_mask"].shape == (2, t_common)
            else:
                assert x.shape == (2, len(mod.bands), 32, 32)
            assert torch.isfinite(x).all()
        _check_target(m.task, batch["target"], m.num_classes, 2, 32)


def _check_target(task: str, target, k: int, b: int, s: int) -> None:
    if task == "classification":
        assert target.shape == (b,) and target.dtype == torch.int64 and int(target.max()) < k
    elif task == "multilabel_classification":
        assert target.shape == (b, k) and target.dtype == torch.float32
    elif task == "segmentation":
        assert target.shape == (b, s, s) and target.dtype == torch.int64
    elif task == "regression":
        assert target.shape == (b, s, s) and target.dtype == torch.float32
    else:
        assert isinstance(target, list) and len(target) == b
        for t in target:
            assert t["boxes"].shape[1:] == (4,) and t["boxes"].shape[0] == t["labels"].shape[0]
            assert t["labels"].numel() == 0 or int(t["labels"].min()) >= 1
            if t["boxes"].numel():
                assert float(t["boxes"].max()) <= s + 1e-3
            if task == "instance_segmentation":
                assert t["masks"].shape == (t["labels"].shape[0], s, s)


@pytest.mark.parametrize("ds", DATASETS)
def test_synthetic_round_trip(ds: str, tmp_path: Path) -> None:
    """synthetic writer -> reader -> prepare -> loader, for all 19 datasets."""
    files = write_synthetic(ds, tmp_path, samples={"train": 3, "validation": 2, "test": 2}, image_size=32)
    assert all(f.exists() for f in files)
    outs = prepare_dataset(ds, tmp_path, progress=False, workers=1)
    m = load_manifest(ds)
    for split, n in (("train", 3), ("validation", 2), ("test", 2)):
        d = PreparedDataset(tmp_path, ds, split)
        assert len(d) == n
        batch = collate([d[i] for i in range(n)])
        assert set(batch["inputs"]) == set(m.modality_names)
        _check_target(m.task, batch["target"], max(m.num_classes, 1), n, 32)
    stats = json.loads((outs[0].parent / "stats.json").read_text())["modalities"]
    for mod in m.modalities:
        assert list(stats[mod.name]) == list(mod.band_names)
        for b in stats[mod.name].values():
            assert b["std"] >= 0 and b["p1"] <= b["p99"] and b["count"] > 0


def test_idempotent_and_force(tmp_path: Path) -> None:
    write_synthetic("so2sat", tmp_path, samples={"train": 2, "validation": 1, "test": 1}, image_size=16)
    outs = prepare_dataset("so2sat", tmp_path, progress=False)
    mtimes = [o.stat().st_mtime_ns for o in outs]
    prepare_dataset("so2sat", tmp_path, progress=False)
    assert [o.stat().st_mtime_ns for o in outs] == mtimes  # skipped: up to date
    prepare_dataset("so2sat", tmp_path, progress=False, force=True)
    assert [o.stat().st_mtime_ns for o in outs] != mtimes


def test_normalization_uses_train_stats(tmp_path: Path) -> None:
    write_synthetic("so2sat", tmp_path, samples={"train": 6, "validation": 2, "test": 2}, image_size=16)
    prepare_dataset("so2sat", tmp_path, progress=False)
    d = PreparedDataset(tmp_path, "so2sat", "train")
    x = torch.stack([d[i]["inputs"][m] for i in range(len(d)) for m in d.modalities[:1]])
    # z-scored with the train split's own statistics: mean 0 and std 1 per band
    flat = x.transpose(0, 1).reshape(x.shape[1], -1)
    assert torch.allclose(flat.mean(1), torch.zeros(flat.shape[0]), atol=1e-4)
    assert torch.allclose(flat.std(1, unbiased=False), torch.ones(flat.shape[0]), atol=1e-3)


def test_band_selection_by_name_and_wavelength(tmp_path: Path) -> None:
    write_synthetic("benv2", tmp_path, samples={"train": 2, "validation": 1, "test": 1}, image_size=16)
    prepare_dataset("benv2", tmp_path, progress=False)
    full = PreparedDataset(tmp_path, "benv2", "train", normalization="none")
    names = full.band_names["s2"]
    sel = PreparedDataset(tmp_path, "benv2", "train", normalization="none", bands={"s2": ["B04", 560.0, "b02"]})
    assert sel.band_names["s2"] == ["B04", "B03", "B02"]
    x, y = full[0]["inputs"]["s2"], sel[0]["inputs"]["s2"]
    for j, b in enumerate(["B04", "B03", "B02"]):
        assert torch.equal(y[j], x[names.index(b)])
    with pytest.raises(GeoBenchError, match="no band 'B99'"):
        PreparedDataset(tmp_path, "benv2", "train", bands={"s2": ["B99"]})


def test_dataloader_workers_open_lazily(tmp_path: Path) -> None:
    write_synthetic("burn_scars", tmp_path, samples={"train": 4, "validation": 1, "test": 1}, image_size=16)
    prepare_dataset("burn_scars", tmp_path, progress=False)
    d = PreparedDataset(tmp_path, "burn_scars", "train")
    assert d._h5 is None  # nothing opened in the parent
    loader = torch.utils.data.DataLoader(d, batch_size=2, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert sum(b["target"].shape[0] for b in batches) == 4
    assert d._h5 is None


# --- bad input ------------------------------------------------------------------------------

def _no_outputs(root: Path, ds: str) -> bool:
    d = paths.prepared_dir(root, ds)
    return not d.exists() or not any(d.iterdir())


def test_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="benv3.*Did you mean 'benv2'"):
        prepare_dataset("benv3", tmp_path)
    assert prepare_main(["dataset=benv3", f"data_root={tmp_path}"]) == 2


def test_empty_directory(tmp_path: Path) -> None:
    paths.raw_dir(tmp_path, "benv2").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match=r"raw/benv2: no \.tortilla files.*geobench.download"):
        prepare_dataset("benv2", tmp_path)
    assert _no_outputs(tmp_path, "benv2")


def test_missing_raw_dir_cli_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert prepare_main(["dataset=caffe", f"data_root={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "raw/caffe" in err and "Traceback" not in err


def test_truncated_file(fixtures_dir: Path, tmp_path: Path) -> None:
    src = _stage_fixture(fixtures_dir, "caffe", tmp_path)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=str(src.name)):
        prepare_dataset("caffe", tmp_path, verify=False)  # past the sha256 check: the reader's
    assert _no_outputs(tmp_path, "caffe")


def test_flipped_footer_bytes(fixtures_dir: Path, tmp_path: Path) -> None:
    src = _stage_fixture(fixtures_dir, "caffe", tmp_path)
    data = bytearray(src.read_bytes())
    for k in range(200, 400):  # inside the parquet footer at the end of the file
        data[-k] ^= 0xFF
    src.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=str(src.name)):
        prepare_dataset("caffe", tmp_path, verify=False)  # past the sha256 check: the reader's
    assert _no_outputs(tmp_path, "caffe")


def test_missing_split(tmp_path: Path) -> None:
    from geobench.tortilla.writer import write_tortilla

    files = write_synthetic("so2sat", tmp_path, samples={"train": 2, "validation": 0, "test": 1}, image_size=8)
    with pytest.raises(CorruptFileError, match="no samples in split 'validation'"):
        prepare_dataset("so2sat", tmp_path)
    assert _no_outputs(tmp_path, "so2sat")
    assert files and write_tortilla  # the writer exists and wrote the partial set


def test_failure_mid_prepare_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_synthetic("so2sat", tmp_path, samples={"train": 3, "validation": 2, "test": 2}, image_size=8)
    adapter_cls = type(get_adapter("so2sat"))
    calls = {"n": 0}
    real = adapter_cls.decode

    def flaky(self, t, s):
        calls["n"] += 1
        if calls["n"] == 5:  # inside the validation split
            raise CorruptFileError("x.tortilla", "boom")
        return real(self, t, s)

    monkeypatch.setattr(adapter_cls, "decode", flaky)
    with pytest.raises(CorruptFileError):
        prepare_dataset("so2sat", tmp_path, workers=1)
    assert _no_outputs(tmp_path, "so2sat")


def test_wrong_checksum_download(tmp_path: Path) -> None:
    from geobench.download import LocalHub, download_dataset
    from geobench.errors import ChecksumError

    m = load_manifest("caffe")
    hub_root = tmp_path / "hub"
    src = hub_root / m.hub.repo / m.hub.files[0].name
    src.parent.mkdir(parents=True)
    src.write_bytes(b"#y not the real file")
    (src.parent / (src.name + ".sha256")).write_text("0" * 64)
    with pytest.raises(ChecksumError, match=m.hub.files[0].name):
        download_dataset(m, tmp_path / "data", hub=LocalHub(hub_root))
    raw = paths.raw_dir(tmp_path / "data", "caffe")
    assert not (raw / m.hub.files[0].name).exists()
    assert not list(raw.glob("*.download"))


def test_nodata_fills_skipped_in_stats_and_zeroed(tmp_path: Path) -> None:
    """BioMassters S1 holds -9999 where an orbit is missing: statistics skip it, the loader zeroes it."""
    write_synthetic("biomassters", tmp_path, samples={"train": 12, "validation": 2, "test": 2}, image_size=8)
    prepare_dataset("biomassters", tmp_path, progress=False)
    with h5py.File(paths.prepared_file(tmp_path, "biomassters", "train"), "r") as h5:
        raw = h5["inputs/s1"][:]
        assert json.loads(h5["inputs/s1"].attrs["nodata"]) == -9999.0
    assert (raw == -9999.0).any(), "the synthetic set should contain no-data fills"
    stats = json.loads((paths.prepared_dir(tmp_path, "biomassters") / "stats.json").read_text())["modalities"]["s1"]
    for b in stats.values():
        assert b["min"] > -9999.0
    d = PreparedDataset(tmp_path, "biomassters", "train")
    for i in range(len(d)):
        x = d[i]["inputs"]["s1"]
        hole = torch.from_numpy(raw[i] == -9999.0)
        assert torch.all(x[hole] == 0.0) and torch.isfinite(x).all()


@pytest.mark.parametrize("ds", ["pastis", "nzcattle"])  # decoders that read HDF5 assets in threads
def test_parallel_decode_never_runs_hdf5_in_two_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        ds: str) -> None:
    """h5py 3.16 + HDF5 2.0 can crash when two threads are in HDF5 at once (h5py#2920): every read of
    a decoding thread and every write of the main thread holds HDF5_LOCK, and the output is the
    one a single-threaded prepare writes."""
    import threading

    import geobench.prepare
    import geobench.prepare_split
    from geobench.h5lock import held_by_this_thread

    write_synthetic(ds, tmp_path, samples={"train": 12, "validation": 4, "test": 4}, image_size=16)
    calls: list[tuple[str, str, bool]] = []
    writing = threading.Event()  # set while a split is written (decoding threads alive)

    def spy(name: str, real: object) -> object:
        def wrapped(*args: object, **kwargs: object) -> object:
            if writing.is_set():
                calls.append((name, threading.current_thread().name, held_by_this_thread()))
            return real(*args, **kwargs)  # type: ignore[operator]
        return wrapped

    def write_split(*args: object, **kwargs: object) -> None:
        writing.set()
        try:
            real_write_split(*args, **kwargs)
        finally:
            writing.clear()

    real_write_split = geobench.prepare_split.write_split
    monkeypatch.setattr(geobench.prepare, "write_split", write_split)
    for name in ("__getitem__", "__setitem__"):
        monkeypatch.setattr(h5py.Dataset, name, spy(name, getattr(h5py.Dataset, name)))
    monkeypatch.setattr(h5py.File, "__init__", spy("File", h5py.File.__init__))
    monkeypatch.setattr(h5py.File, "close", spy("close", h5py.File.close))
    prepare_dataset(ds, tmp_path, progress=False, workers=4)
    threads = {t for _, t, _ in calls}
    assert len(threads) >= 2 and any(t != threading.main_thread().name for t in threads), threads
    assert {c for c in calls if not c[2]} == set()
    parallel = {s: paths.prepared_file(tmp_path, ds, s).read_bytes() for s in paths.SPLITS}
    monkeypatch.undo()
    prepare_dataset(ds, tmp_path, progress=False, workers=1, force=True)
    assert {s: paths.prepared_file(tmp_path, ds, s).read_bytes() for s in paths.SPLITS} == parallel
