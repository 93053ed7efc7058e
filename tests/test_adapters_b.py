"""Adapters of everwatch, nzcattle, substation, dynamic_earthnet, pastis, pastis_r and kuro_siwo.

Real fixtures: every decoded array equals an independent read of its asset (located by
tacoreader 0.5.6, decoded by rasterio through GDAL or by h5py) bit for bit, and the targets equal
expectations computed here from the raw annotations. Synthetic files: the official layout (asset
ids, formats, dtypes, bands) read back by our reader and by tacoreader, deterministic, learnable.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from geobench.datasets import synth
from geobench.datasets.base import DecodedSample, get_adapter
from geobench.errors import CorruptFileError
from geobench.manifest import DatasetManifest, load_manifest
from geobench.tortilla.reader import Tortilla
from geobench.tortilla.writer import AssetSpec, SampleSpec, hdf5_bytes, write_tortilla

OURS = ("everwatch", "nzcattle", "substation", "dynamic_earthnet", "pastis", "pastis_r", "kuro_siwo")
REAL = {"dynamic_earthnet": "dynamic_earthnet", "everwatch": "everwatch", "nzcattle": "nzcattle",
        "pastis": "pastis", "pastis_r": "pastis"}  # dataset -> fixture it reads
DETECTION = ("detection", "instance_segmentation")


# --- independent reads: tacoreader locates the assets, GDAL / h5py / pyarrow decode them ------

class RawSample:
    """The assets of one sample, located by tacoreader (not by geobench's reader)."""

    def __init__(self, nested: Any) -> None:
        self.subfiles = dict(zip(nested["tortilla:id"], nested["internal:subfile"], strict=True))
        self.ids = list(nested["tortilla:id"])

    def raw_bytes(self, asset_id: str) -> bytes:
        m = re.fullmatch(r"/vsisubfile/(\d+)_(\d+),(.+)", self.subfiles[asset_id])
        assert m is not None
        with open(m.group(3), "rb") as f:
            f.seek(int(m.group(1)))
            return f.read(int(m.group(2)))

    def gdal(self, asset_id: str) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(self.subfiles[asset_id]) as src:
                return src.read()

    def h5_data(self, asset_id: str) -> np.ndarray:
        with h5py.File(io.BytesIO(self.raw_bytes(asset_id)), "r") as f:
            return f["data"][()]

    def h5_json(self, asset_id: str) -> Any:
        with h5py.File(io.BytesIO(self.raw_bytes(asset_id)), "r") as f:
            return json.loads(f.attrs["annotation"])

    def parquet(self, asset_id: str) -> pa.Table:
        return pq.read_table(pa.BufferReader(self.raw_bytes(asset_id)))


def raw_samples(path: Path) -> dict[str, RawSample]:
    import tacoreader

    df = tacoreader.load(str(path))
    return {sid: RawSample(df.read(i)) for i, sid in enumerate(df["tortilla:id"])}


# Expected decoded sample, per dataset: (inputs, targets), each input a list of time steps.
Expected = tuple[dict[str, list[np.ndarray]], dict[str, np.ndarray]]


def xywh_to_xyxy(items: list[dict[str, Any]]) -> np.ndarray:
    return np.array([[x, y, x + w, y + h] for x, y, w, h in (i["bbox"] for i in items)],
                    dtype=np.float32).reshape(-1, 4)


def expect_dynamic_earthnet(r: RawSample, m: DatasetManifest) -> Expected:
    days = sorted((int(a.split("_")[1]), a) for a in r.ids if a.startswith("planet_"))
    assert [d for d, _ in days] == list(range(len(days)))
    return ({"planet": [r.gdal(a) for _, a in days], "s2": [r.gdal("s2")]},
            {"mask": r.gdal("label")[0]})


def expect_everwatch(r: RawSample, m: DatasetManifest) -> Expected:
    t = r.parquet("annotations").to_pydict()
    boxes = np.array([[t["xmin"][i], t["ymin"][i], t["xmax"][i], t["ymax"][i]]
                      for i in range(len(t["label"]))], dtype=np.float32).reshape(-1, 4)
    labels = np.array([m.classes.index(n) for n in t["label"]], dtype=np.int64)
    return {"image": [r.gdal("image")]}, {"boxes": boxes, "box_labels": labels}


def expect_nzcattle(r: RawSample, m: DatasetManifest) -> Expected:
    items = r.h5_json("annotations")["boxes"]
    return ({"image": [r.gdal("image")]},
            {"boxes": xywh_to_xyxy(items),
             "box_labels": np.array([i["category_id"] for i in items], dtype=np.int64)})


def pastis_inputs(r: RawSample) -> dict[str, list[np.ndarray]]:
    return {name: list(r.h5_data(name)) for name in ("s2", "s1a", "s1d")}


def expect_pastis(r: RawSample, m: DatasetManifest) -> Expected:
    return pastis_inputs(r), {"mask": r.h5_data("semantic")[0], "instance_ids": r.h5_data("instance")}


def expect_pastis_r(r: RawSample, m: DatasetManifest) -> Expected:
    """GEO-Bench-2 _load_instance_targets, re-derived one parcel at a time."""
    semantic, instance = r.h5_data("semantic")[0], r.h5_data("instance")
    masks, boxes, labels = [], [], []
    for pid in sorted(set(instance.ravel().tolist()) - {0}):
        mask = instance == pid
        ys, xs = np.where(mask)
        masks.append(mask.astype(np.uint8))
        boxes.append([xs.min(), ys.min(), xs.max(), ys.max()])  # max = last pixel inside
        labels.append(sorted(set(semantic[mask].tolist()))[0])
    h, w = instance.shape
    return pastis_inputs(r), {
        "instance_masks": np.array(masks, dtype=np.uint8).reshape(-1, h, w),
        "boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4),
        "box_labels": np.array(labels, dtype=np.int64)}


EXPECT: dict[str, Callable[[RawSample, DatasetManifest], Expected]] = {
    "dynamic_earthnet": expect_dynamic_earthnet, "everwatch": expect_everwatch,
    "nzcattle": expect_nzcattle, "pastis": expect_pastis, "pastis_r": expect_pastis_r}


def check_against_manifest(ds: str, d: DecodedSample, m: DatasetManifest) -> None:
    """Shapes and dtypes of a decoded sample agree with the manifest and the task."""
    assert set(d.inputs) == set(m.modality_names)
    hw = None
    for mod in m.modalities:
        arr = d.inputs[mod.name]
        assert str(arr.dtype) == mod.dtype, (ds, mod.name, arr.dtype)
        if mod.time_steps > 1:
            assert arr.ndim == 4 and 1 <= arr.shape[0] <= mod.time_steps
            if mod.name in d.time_mask:
                tm = d.time_mask[mod.name]
                assert tm.dtype == np.bool_ and tm.shape == (mod.time_steps,)
                assert tm.sum() == arr.shape[0] and tm[: arr.shape[0]].all()
        else:
            assert arr.ndim == 3
        assert arr.shape[-3] == len(mod.bands), (ds, mod.name)
        assert hw is None or arr.shape[-2:] == hw
        hw = arr.shape[-2:]
    t = d.targets
    if m.task == "segmentation":
        assert t["mask"].shape == hw and np.issubdtype(t["mask"].dtype, np.integer)
        valid = t["mask"] != (m.ignore_index if m.ignore_index is not None else -1)
        assert int(t["mask"].max()) < m.num_classes and int(t["mask"].min()) >= 0 and valid.any()
    else:
        n = len(t["box_labels"])
        assert t["boxes"].dtype == np.float32 and t["boxes"].shape == (n, 4)
        assert t["box_labels"].dtype == np.int64
        assert all(0 <= int(k) < m.num_classes for k in t["box_labels"])
        if n:
            assert (t["boxes"][:, 2:] >= t["boxes"][:, :2]).all()
        if m.task == "instance_segmentation":
            assert hw is not None
            assert t["instance_masks"].dtype == np.uint8 and t["instance_masks"].shape == (n, *hw)


# --- real fixtures ----------------------------------------------------------------------------

@pytest.mark.parametrize("ds", sorted(REAL))
def test_real_fixture_decodes_bit_for_bit(ds: str, fixtures_dir: Path) -> None:
    path = fixtures_dir / f"{REAL[ds]}.tortilla"
    adapter = get_adapter(ds)
    m = adapter.manifest
    t = Tortilla(path)
    raw = raw_samples(path)
    assert sorted(raw) == sorted(s.id for s in t.samples)
    n_objects = 0
    for s in t.samples:
        d = adapter.decode(t, s)
        check_against_manifest(ds, d, m)
        inputs, targets = EXPECT[ds](raw[s.id], m)
        for name, steps in inputs.items():
            arr = d.inputs[name]
            got = list(arr) if arr.ndim == 4 else [arr]
            assert len(got) == len(steps), (s.id, name)
            for k, (a, b) in enumerate(zip(got, steps, strict=True)):
                assert a.dtype == b.dtype and a.shape == b.shape, (s.id, name, k)
                assert a.tobytes() == b.tobytes(), f"{ds}/{s.id}/{name}[{k}] differs from the asset"
            if name in d.time_mask:
                assert d.time_mask[name].sum() == len(steps)
        assert set(d.targets) == set(targets)
        for name, want in targets.items():
            got_t = d.targets[name]
            assert got_t.shape == want.shape, (s.id, name)
            np.testing.assert_array_equal(got_t, want.astype(got_t.dtype), err_msg=f"{s.id}/{name}")
        n_objects += len(d.targets.get("box_labels", ()))
    if m.task in DETECTION:
        assert n_objects > 0  # the fixture has objects, so the comparison above is not vacuous


def test_real_pastis_r_has_degenerate_geobench2_boxes(fixtures_dir: Path) -> None:
    """Boxes end at the last pixel inside (GEO-Bench-2): a one-pixel-wide parcel cut by the patch
    edge gives xmin == xmax. The real fixture has such parcels; the decoder keeps them."""
    adapter = get_adapter("pastis_r")
    t = Tortilla(fixtures_dir / "pastis.tortilla")
    widths = np.concatenate([adapter.decode(t, s).targets["boxes"] for s in t.samples])
    widths = widths[:, 2:] - widths[:, :2]
    assert (widths >= 0).all() and (widths == 0).any()


def test_dynamic_earthnet_real_lengths_and_mask(fixtures_dir: Path) -> None:
    """The fixture has months of 31 and 30 days: 30-day samples have one padded step."""
    adapter = get_adapter("dynamic_earthnet")
    t = Tortilla(fixtures_dir / "dynamic_earthnet.tortilla")
    lengths = {adapter.decode(t, s).inputs["planet"].shape[0] for s in t.samples}
    assert lengths == {30, 31}


# --- synthetic files --------------------------------------------------------------------------

SPLITS = (("train", 3), ("validation", 2), ("test", 1))
SIZE = 32


def synthetic_specs(ds: str, seed: int = 0, count: int | None = None) -> list[SampleSpec]:
    """Synthetic samples of ``ds`` (the first ``count`` of the SPLITS plan), seeded per sample."""
    adapter = get_adapter(ds)
    plan = [(split, i) for split, n in SPLITS for i in range(n)][:count]
    return [adapter.synthesize(i, split, np.random.default_rng(synth.stable_seed(ds, seed, split, i)), SIZE)
            for split, i in plan]


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[SampleSpec]]]:
    root = tmp_path_factory.mktemp("synthetic_b")
    out = {}
    for ds in OURS:
        specs = synthetic_specs(ds)
        out[ds] = (write_tortilla(root / f"{ds}.tortilla", specs), specs)
    return out


@pytest.mark.parametrize("ds", OURS)
def test_synthetic_layout_round_trip(ds: str, synthetic_files: dict[str, Any]) -> None:
    import tacoreader

    path, specs = synthetic_files[ds]
    adapter = get_adapter(ds)
    m = adapter.manifest
    t = Tortilla(path)
    assert [s.id for s in t.samples] == [s.id for s in specs]
    assert [s.split for s in t.samples] == [s.split for s in specs]
    df = tacoreader.load(str(path))
    assert list(df["tortilla:id"]) == [s.id for s in specs]
    for i, (s, spec) in enumerate(zip(t.samples, specs, strict=True)):
        ids = [a.id for a in t.assets(s)]
        assert ids == [a.id for a in spec.assets]
        assert list(df.read(i)["tortilla:id"]) == ids
        d = adapter.decode(t, s)
        check_against_manifest(ds, d, m)
        assert all(a.shape[-2:] == (SIZE, SIZE) for a in d.inputs.values())


def official_layout(ds: str, spec: SampleSpec) -> None:
    """The asset ids, formats, bands and dtypes of the official files (real fixtures / GEO-Bench-2
    generate_benchmark scripts), checked on a synthetic sample."""
    fmt = {a.id: a.file_format for a in spec.assets}
    ids = [a.id for a in spec.assets]
    if ds == "dynamic_earthnet":
        n = len(ids) - 3
        assert 28 <= n <= 31 and ids == [f"planet_{k}" for k in range(n)] + ["s1", "s2", "label"]
        assert set(fmt.values()) == {"GTiff"}
        assert [a.metadata["modality"] for a in spec.assets] == ["planet"] * n + ["s1", "s2", "label"]
        # GEO-Bench-2 reads stac:centroid from the first asset row
        assert spec.assets[0].metadata["stac:centroid"] == spec.metadata["stac:centroid"]
    elif ds in ("pastis", "pastis_r"):
        assert ids == ["s2", "s1a", "s1d", "semantic", "instance"] and set(fmt.values()) == {"HDF5"}
        data = {a.id: h5py.File(io.BytesIO(a.data), "r")["data"][()] for a in spec.assets}
        assert data["s2"].dtype == np.int16 and data["s2"].shape[1] == 10
        assert data["s1a"].dtype == np.float16 and data["s1d"].shape[1] == 3
        assert data["semantic"].dtype == np.uint8 and data["semantic"].shape[0] == 3
        assert data["instance"].dtype == np.int64 and data["instance"].ndim == 2
        assert spec.metadata["dates"] == spec.assets[0].metadata["dates"]
        assert len(spec.metadata["dates"]) == data["s2"].shape[0]
        for a in spec.assets:
            assert a.metadata["tile"] == spec.metadata["tile"]
            assert len(a.metadata["dates"]) == (data[a.id].shape[0] if data[a.id].ndim == 4 else 0)
    elif ds == "kuro_siwo":
        assert ids == ["pre_event_1", "pre_event_2", "post_event", "dem", "mask", "invalid_data"]
    elif ds == "everwatch":
        assert fmt == {"image": "GTiff", "annotations": "GeoParquet"}
    else:
        assert fmt == {"image": "GTiff", "annotations": "HDF5"}
    if ds in ("everwatch", "nzcattle", "substation"):  # sample columns on the image row only
        assert spec.assets[0].metadata == spec.metadata and spec.assets[1].metadata == {}


@pytest.mark.parametrize("ds", OURS)
def test_synthetic_official_layout_and_determinism(ds: str) -> None:
    a, b = synthetic_specs(ds, seed=3, count=2), synthetic_specs(ds, seed=3, count=2)
    for x, y in zip(a, b, strict=True):
        official_layout(ds, x)
        assert [(s.id, s.file_format, s.metadata) for s in x.assets] == \
            [(s.id, s.file_format, s.metadata) for s in y.assets]
        assert all(s.data == r.data for s, r in zip(x.assets, y.assets, strict=True))
    other = synthetic_specs(ds, seed=4, count=1)[0]
    assert any(s.data != r.data for s, r in zip(a[0].assets, other.assets, strict=False))


def unit_pixels(arr: np.ndarray, dtype: str) -> np.ndarray:
    """(C, H, W) stored values -> [0, 1] (the synthetic signatures' scale)."""
    return synth.unit_from_dtype(arr, dtype)


def nearest(features: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Nearest signature of each feature vector (features: (C, P); sig: (K, C)) -> (P,)."""
    return np.argmin(((features.T[:, None, :] - sig[None]) ** 2).sum(-1), axis=1)


# Segmentation: which modality shows the classes (a time series: its mean over the real steps;
# kuro_siwo: the post-event step, where the flood shows).
SEGMENTATION_VIEW = {"dynamic_earthnet": ("planet", "mean"), "pastis": ("s2", "mean"),
                     "kuro_siwo": ("sar", "last")}


@pytest.mark.parametrize("ds", OURS)
def test_synthetic_targets_are_learnable(ds: str, synthetic_files: dict[str, Any]) -> None:
    path, _ = synthetic_files[ds]
    adapter = get_adapter(ds)
    m = adapter.manifest
    t = Tortilla(path)
    source = adapter.raw_dataset  # pastis_r's files are pastis's: the signatures are pastis's
    correct = total = 0
    for s in t.samples:
        d = adapter.decode(t, s)
        if m.task == "segmentation":
            name, how = SEGMENTATION_VIEW[ds]
            mod = m.modality(name)
            x = unit_pixels(d.inputs[name], mod.dtype)
            x = x.mean(axis=0) if how == "mean" else x[-1]
            sig = synth.signatures(source, name, m.num_classes, len(mod.bands))
            pred = nearest(x.reshape(x.shape[0], -1), sig)
            truth = d.targets["mask"].ravel()
            correct += int((pred == truth).sum())
            total += truth.size
            continue
        name = "s2" if ds == "pastis_r" else "image"
        mod = m.modality(name)
        x = unit_pixels(d.inputs[name], mod.dtype)
        if x.ndim == 4:
            x = x.mean(axis=0)
        sig = synth.signatures(source, name, m.num_classes, len(mod.bands))
        masks = d.targets.get("instance_masks")
        if masks is None:  # boxes only: the object is the box's pixels (exclusive end)
            masks = np.zeros((len(d.targets["boxes"]), SIZE, SIZE), dtype=np.uint8)
            for k, (x0, y0, x1, y1) in enumerate(d.targets["boxes"].astype(int)):
                masks[k, y0:y1, x0:x1] = 1
        assert len(masks) > 0
        for mask, label in zip(masks.astype(bool), d.targets["box_labels"], strict=True):
            pred = nearest(x[:, mask].mean(axis=1, keepdims=True), sig)[0]
            correct += int(pred == label)
            total += 1
        outside = ~masks.any(axis=0)
        background = x[:, outside]
        objects = x[:, masks.any(axis=0)]
        # Background pixels look like class 0 and unlike the objects.
        assert (nearest(background, sig) == 0).mean() >= 0.95
        assert np.abs(background.mean(axis=1) - objects.mean(axis=1)).max() > 0.1
    assert total > 0 and correct / total >= 0.95, f"{ds}: {correct}/{total}"


def test_synthetic_time_series_vary_in_length() -> None:
    """dynamic_earthnet and pastis write series of several lengths, so time masks get padding."""
    for ds, name in (("dynamic_earthnet", "planet"), ("pastis", "s2"), ("pastis", "s1a")):
        adapter = get_adapter(ds)
        lengths = set()
        for i in range(4):
            spec = adapter.synthesize(i, "train", np.random.default_rng(i), 8)
            if ds == "pastis":
                asset = next(a for a in spec.assets if a.id == name)
                lengths.add(h5py.File(io.BytesIO(asset.data), "r")["data"].shape[0])
            else:
                lengths.add(sum(a.id.startswith("planet_") for a in spec.assets))
        assert len(lengths) > 1, (ds, name, lengths)
        assert max(lengths) <= adapter.manifest.modality(name).time_steps


def test_pastis_r_instances_from_synthetic_parcels(synthetic_files: dict[str, Any]) -> None:
    """One instance per parcel id; boxes cover the mask with the last pixel inside."""
    path, _ = synthetic_files["pastis_r"]
    t = Tortilla(path)
    adapter = get_adapter("pastis_r")
    for s in t.samples:
        d = adapter.decode(t, s)
        with t.read_hdf5(t.asset(s, "instance")) as f:
            ids = f["data"][()]
        assert len(d.targets["box_labels"]) == len(set(ids.ravel().tolist()) - {0})
        for mask, box in zip(d.targets["instance_masks"], d.targets["boxes"], strict=True):
            ys, xs = np.nonzero(mask)
            assert box.tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]


# --- layouts that the decoders must reject or repair, as GEO-Bench-2 does -----------------------

def rewrite(tmp_path: Path, spec: SampleSpec, assets: list[AssetSpec]) -> tuple[Tortilla, Any]:
    path = write_tortilla(tmp_path / "edited.tortilla",
                          [SampleSpec(spec.id, assets, spec.split, spec.metadata)])
    t = Tortilla(path)
    return t, t.samples[0]


def test_kuro_siwo_mask_remap(tmp_path: Path) -> None:
    """Raw codes 0,1,2,3 -> 1,2,3,0 (GEO-Bench-2 CLASS_MAPPING); an unknown code -> 0."""
    spec = synthetic_specs("kuro_siwo", count=1)[0]
    raw = np.tile(np.array([0, 1, 2, 3, 7, 255], dtype=np.uint8), (6, 1))
    sar, dem = np.ones((2, 6, 6), np.float32), np.ones((1, 6, 6), np.float32)
    arrays: dict[str, np.ndarray] = {"pre_event_1": sar, "pre_event_2": sar, "post_event": sar, "dem": dem,
                                     "mask": raw[None], "invalid_data": np.ones((1, 6, 6), np.uint8)}
    assets = [synth.raster_asset(a.id, arrays[a.id]) for a in spec.assets]
    t, s = rewrite(tmp_path, spec, assets)
    d = get_adapter("kuro_siwo").decode(t, s)
    assert d.targets["mask"][0].tolist() == [1, 2, 3, 0, 0, 0]
    assert d.inputs["sar"].shape == (3, 2, 6, 6)


def test_dynamic_earthnet_missing_s2_is_zeros(tmp_path: Path) -> None:
    spec = synthetic_specs("dynamic_earthnet", count=1)[0]
    t, s = rewrite(tmp_path, spec, [a for a in spec.assets if a.id != "s2"])
    d = get_adapter("dynamic_earthnet").decode(t, s)
    assert d.inputs["s2"].shape == (12, SIZE, SIZE) and not d.inputs["s2"].any()
    assert d.inputs["s2"].dtype == np.int16


def test_dynamic_earthnet_too_many_days(tmp_path: Path) -> None:
    spec = synthetic_specs("dynamic_earthnet", count=1)[0]
    day = spec.assets[0]
    extra = [AssetSpec(f"planet_{k}", day.data, "GTiff") for k in range(31, 33)]
    t, s = rewrite(tmp_path, spec, [*extra, *spec.assets])
    with pytest.raises(CorruptFileError, match=r"'planet' has 3\d time steps.*allows 1 to 31"):
        get_adapter("dynamic_earthnet").decode(t, s)


def test_missing_asset_names_sample(tmp_path: Path) -> None:
    spec = synthetic_specs("pastis", count=1)[0]
    t, s = rewrite(tmp_path, spec, [a for a in spec.assets if a.id != "semantic"])
    with pytest.raises(CorruptFileError, match=r"edited\.tortilla.*no asset 'semantic'"):
        get_adapter("pastis").decode(t, s)


def test_pastis_wrong_rank(tmp_path: Path) -> None:
    spec = synthetic_specs("pastis", count=1)[0]
    assets = [AssetSpec("s2", hdf5_bytes({"data": np.zeros((10, 8, 8), np.int16)}), "HDF5")
              if a.id == "s2" else a for a in spec.assets]
    t, s = rewrite(tmp_path, spec, assets)
    with pytest.raises(CorruptFileError, match=r"asset 's2'.*'data' with 4 dimensions"):
        get_adapter("pastis").decode(t, s)


def test_everwatch_unknown_and_missing_labels(tmp_path: Path) -> None:
    from geobench.datasets.everwatch import annotations_asset

    spec = synthetic_specs("everwatch", count=1)[0]
    boxes = np.array([[1, 2, 5, 6], [3, 4, 8, 9]])
    bad = annotations_asset(boxes, ["White Ibis", "Pelican"], "x.tif", "train")
    t, s = rewrite(tmp_path, spec, [spec.assets[0], bad])
    with pytest.raises(CorruptFileError, match=r"column 'label': unknown class 'Pelican'"):
        get_adapter("everwatch").decode(t, s)
    table = pq.read_table(pa.BufferReader(bad.data))
    table = table.set_column(table.schema.get_field_index("label"), "label",
                             pa.array(["White Ibis", None], pa.string()))
    from geobench.tortilla.writer import parquet_bytes

    t, s = rewrite(tmp_path, spec, [spec.assets[0], AssetSpec("annotations", parquet_bytes(table), "GeoParquet")])
    d = get_adapter("everwatch").decode(t, s)
    m = load_manifest("everwatch")
    assert d.targets["box_labels"].tolist() == [m.classes.index("White Ibis"), m.classes.index("Unknown White")]
    np.testing.assert_array_equal(d.targets["boxes"], boxes.astype(np.float32))


def test_nzcattle_and_substation_bad_annotations(tmp_path: Path) -> None:
    from geobench.datasets.layouts import annotation_asset

    spec = synthetic_specs("nzcattle", count=1)[0]
    t, s = rewrite(tmp_path, spec, [spec.assets[0], annotation_asset("annotations", {"image_size": [32, 32]})])
    with pytest.raises(CorruptFileError, match="no 'boxes' list"):
        get_adapter("nzcattle").decode(t, s)
    bad = {"boxes": [{"category_id": 5, "bbox": [1, 1, 3, 3], "bbox_mode": "xywh"}]}
    t, s = rewrite(tmp_path, spec, [spec.assets[0], annotation_asset("annotations", bad)])
    with pytest.raises(CorruptFileError, match="is not a class name or an index below 2"):
        get_adapter("nzcattle").decode(t, s)
    spec = synthetic_specs("substation", count=1)[0]
    no_poly = {"sample_annotations": [{"category_id": 1, "bbox": [1, 1, 3, 3], "bbox_mode": "xywh"}]}
    t, s = rewrite(tmp_path, spec, [spec.assets[0], annotation_asset("annotations", no_poly)])
    with pytest.raises(CorruptFileError, match="annotation 0 has no polygon"):
        get_adapter("substation").decode(t, s)


def test_substation_masks_are_the_first_polygon(tmp_path: Path) -> None:
    """GEO-Bench-2 fills only mask[0] (PIL, boundary included); the box comes from bbox."""
    from PIL import Image, ImageDraw

    from geobench.datasets.layouts import annotation_asset

    spec = synthetic_specs("substation", count=1)[0]
    first, second = [2, 2, 10, 2, 10, 6, 2, 6], [20, 20, 25, 20, 25, 25]
    ann = {"sample_annotations": [{"category_id": 1, "bbox": [2, 2, 8, 4], "bbox_mode": "xywh",
                                   "mask": [first, second]}], "image_size": [SIZE, SIZE]}
    t, s = rewrite(tmp_path, spec, [spec.assets[0], annotation_asset("annotations", ann)])
    d = get_adapter("substation").decode(t, s)
    img = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(img).polygon([(first[i], first[i + 1]) for i in range(0, 8, 2)], fill=1)
    np.testing.assert_array_equal(d.targets["instance_masks"][0], np.asarray(img))
    assert d.targets["instance_masks"][0].sum() == 9 * 5
    assert d.targets["boxes"].tolist() == [[2, 2, 10, 6]] and d.targets["box_labels"].tolist() == [1]


def test_pastis_r_instances_follow_geobench2() -> None:
    """Ids in increasing order; the label is the smallest class inside (torch.unique(...)[0]),
    also for a parcel that straddles two classes; boxes end at the last pixel inside."""
    from geobench.datasets.pastis_r import instances

    instance = np.zeros((6, 8), dtype=np.int64)
    semantic = np.zeros((6, 8), dtype=np.uint8)
    instance[1:3, 1:5], semantic[1:3, 1:3], semantic[1:3, 3:5] = 90, 7, 3  # mixed parcel
    instance[5, 7], semantic[5, 7] = 4, 19  # one pixel, void
    masks, boxes, labels = instances(semantic, instance)
    assert labels.tolist() == [19, 3]  # id 4 first, then id 90
    assert boxes.tolist() == [[7, 5, 7, 5], [1, 1, 4, 2]]
    assert masks.dtype == np.uint8 and masks.sum(axis=(1, 2)).tolist() == [1, 8]
    empty = instances(semantic, np.zeros_like(instance))
    assert [a.shape for a in empty] == [(0, 6, 8), (0, 4), (0,)]
