"""Dataset adapters, group A: benv2, treesatai, so2sat, forestnet, biomassters, caffe, cloudsen12,
burn_scars, flair2, fotw.

- Real fixtures: every decoded array equals an independent tacoreader + rasterio read of the
  same asset, bit for bit; targets equal the metadata / raster after the documented remapping.
- Synthetic samples: written with write_tortilla, read back with our reader and with tacoreader,
  decoded to the manifest's shapes and dtypes, and learnable (a nearest-signature classifier on
  the decoded pixels recovers the targets).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from geobench.datasets import synth
from geobench.datasets.base import DecodedSample, get_adapter
from geobench.errors import CorruptFileError
from geobench.manifest import load_manifest
from geobench.tortilla import AssetSpec, SampleSpec, Tortilla, write_tortilla

GROUP_A = ("benv2", "treesatai", "so2sat", "forestnet", "biomassters", "caffe", "cloudsen12",
           "burn_scars", "flair2", "fotw")
WITH_FIXTURE = ("benv2", "treesatai", "biomassters", "caffe", "flair2")
MONTHS = ("September", "October", "November", "December", "January", "February", "March",
          "April", "May", "June", "July", "August")
TARGET_NAMES = {"classification": {"label"}, "multilabel_classification": {"labels"},
                "segmentation": {"mask"}, "regression": {"target"}}


def _rio_read(vsi: str) -> np.ndarray:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(vsi) as src:
            return src.read()


def _tacoreader_samples(path: Path) -> dict[str, tuple[dict, list[tuple[str, dict, str]]]]:
    """sample id -> (outer row, [(asset id, asset row, /vsisubfile/ path)]) read by tacoreader."""
    import tacoreader

    df = tacoreader.load(str(path))
    out = {}
    for i in range(len(df)):
        inner = df.read(i)
        assets = [(str(r["tortilla:id"]), r.to_dict(), str(r["internal:subfile"]))
                  for _, r in inner.iterrows()]
        out[str(df.iloc[i]["tortilla:id"])] = (df.iloc[i].to_dict(), assets)
    return out


def _multi_hot(names: object, classes: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(len(classes), dtype=np.uint8)
    for n in list(names):  # type: ignore[call-overload]
        out[classes.index(n)] = 1
    return out


# ------------------------------------------------------------------------------- real fixtures
@pytest.mark.parametrize("ds", WITH_FIXTURE)
def test_real_fixture_decodes_bit_for_bit(ds: str, fixtures_dir: Path) -> None:
    path = fixtures_dir / f"{ds}.tortilla"
    adapter = get_adapter(ds)
    m = adapter.manifest
    ref = _tacoreader_samples(path)
    tortilla = Tortilla(path)
    assert [s.id for s in tortilla.samples] == list(ref)
    saw_missing_step = saw_nodata = False
    for sample in tortilla.samples:
        decoded = adapter.decode(tortilla, sample)
        outer, assets = ref[sample.id]
        reads = {aid: _rio_read(vsi) for aid, _, vsi in assets}
        assert set(decoded.targets) == TARGET_NAMES[m.task]
        assert set(decoded.inputs) == set(m.modality_names)
        if ds == "biomassters":
            rows = {aid: row for aid, row, _ in assets}
            for mod in m.modalities:
                x = decoded.inputs[mod.name]
                assert x.shape[:2] == (12, len(mod.bands)) and x.dtype == np.dtype(mod.dtype)
                expected_mask = np.zeros(12, dtype=bool)
                for aid, row in rows.items():
                    if row["modality"] == mod.name.upper():
                        t = MONTHS.index(row["month"])
                        assert aid.endswith(f"_{row['modality']}_{row['month']}")
                        np.testing.assert_array_equal(x[t], reads[aid])
                        expected_mask[t] = True
                np.testing.assert_array_equal(decoded.time_mask[mod.name], expected_mask)
                assert not x[~expected_mask].any()  # missing months are zeros
                saw_missing_step |= not expected_mask.all()
            assert expected_mask.sum() == len([r for r in rows.values() if r["modality"] == "S2"])
            agbm = [aid for aid, row in rows.items() if row["modality"] == "AGBM"]
            assert len(agbm) == 1 and agbm[0].endswith("_AGBM")
            saw_nodata |= bool((decoded.inputs["s1"] == adapter.nodata["s1"]).any())
            target = decoded.targets["target"]
            assert target.dtype == np.float32
            np.testing.assert_array_equal(target, reads[agbm[0]][0])
            continue
        for name in m.modality_names:
            np.testing.assert_array_equal(decoded.inputs[name], reads[name])
            assert decoded.inputs[name].dtype == reads[name].dtype == np.dtype(m.modality(name).dtype)
            assert decoded.inputs[name].shape[0] == len(m.modality(name).bands)
        if ds == "benv2":
            expected = _multi_hot(outer["labels"], m.classes)
            np.testing.assert_array_equal(decoded.targets["labels"], expected)
            assert decoded.targets["labels"].dtype == np.uint8
        elif ds == "treesatai":
            expected = _multi_hot(outer["species_labels"], m.classes)
            np.testing.assert_array_equal(decoded.targets["labels"], expected)
            assert len(outer["dist_labels"]) == expected.sum()
        elif ds == "caffe":
            np.testing.assert_array_equal(decoded.targets["mask"], reads["mask"][0])
            assert decoded.targets["mask"].max() < m.num_classes
        elif ds == "flair2":
            raw = reads["mask"][0].astype(np.int64)
            expected = np.where(raw >= 13, 12, raw - 1)
            np.testing.assert_array_equal(decoded.targets["mask"], expected)
            assert decoded.targets["mask"].min() >= 0 and decoded.targets["mask"].max() < 13
    if ds == "biomassters":
        assert saw_missing_step, "the fixture has samples with missing S2 months"
        assert saw_nodata, "the fixture has S1 months without the descending orbit (-9999, kept)"


def test_real_labels_known_values(fixtures_dir: Path) -> None:
    """Spot checks written out by hand from the fixtures' metadata."""
    benv2 = get_adapter("benv2")
    t = Tortilla(fixtures_dir / "benv2.tortilla")
    by_id = {s.id: s for s in t.samples}
    labels = benv2.decode(t, by_id["sample_12798"]).targets["labels"]
    assert labels.tolist() == [0] * 18 + [1]  # ['Marine waters']
    tree = get_adapter("treesatai")
    t = Tortilla(fixtures_dir / "treesatai.tortilla")
    by_id = {s.id: s for s in t.samples}
    labels = tree.decode(t, by_id["sample_1632"]).targets["labels"]  # [Picea, Fagus]
    assert np.flatnonzero(labels).tolist() == [5, 8]


# --------------------------------------------------------------------------- synthetic samples
def _write_synthetic(ds: str, folder: Path, size: int, per_split: tuple[int, int, int] = (4, 2, 2),
                     seed: int = 0) -> Path:
    adapter = get_adapter(ds)
    specs = []
    for split, n in zip(("train", "validation", "test"), per_split, strict=True):
        for i in range(n):
            rng = np.random.default_rng(synth.stable_seed("test", ds, seed, split, i))
            specs.append(adapter.synthesize(i, split, rng, size))
    return write_tortilla(folder / f"{ds}.tortilla", specs)


def _check_shapes(ds: str, d: DecodedSample, size: int) -> None:
    m = load_manifest(ds)
    assert set(d.inputs) == set(m.modality_names)
    for mod in m.modalities:
        x = d.inputs[mod.name]
        assert x.dtype == np.dtype(mod.dtype), (mod.name, x.dtype)
        if mod.time_steps > 1:
            assert x.shape == (mod.time_steps, len(mod.bands), size, size)
            assert d.time_mask[mod.name].shape == (mod.time_steps,)
            assert d.time_mask[mod.name].dtype == bool and d.time_mask[mod.name].any()
        else:
            assert x.shape == (len(mod.bands), size, size)
    assert set(d.targets) == TARGET_NAMES[m.task]
    if m.task == "classification":
        assert d.targets["label"].shape == () and d.targets["label"].dtype == np.int64
        assert 0 <= int(d.targets["label"]) < m.num_classes
    elif m.task == "multilabel_classification":
        assert d.targets["labels"].shape == (m.num_classes,) and d.targets["labels"].dtype == np.uint8
        assert d.targets["labels"].sum() >= 1
    elif m.task == "segmentation":
        mask = d.targets["mask"]
        assert mask.shape == (size, size) and np.issubdtype(mask.dtype, np.integer)
        valid = mask[mask != m.ignore_index] if m.ignore_index is not None else mask
        assert valid.min() >= 0 and valid.max() < m.num_classes
    else:
        assert d.targets["target"].shape == (size, size) and d.targets["target"].dtype == np.float32


@pytest.mark.parametrize("ds", GROUP_A)
def test_synthetic_round_trip(ds: str, tmp_path: Path) -> None:
    import tacoreader

    size = 16
    path = _write_synthetic(ds, tmp_path, size)
    adapter = get_adapter(ds)
    tortilla = Tortilla(path)
    assert [len(tortilla.split(s)) for s in ("train", "validation", "test")] == [4, 2, 2]
    taco = tacoreader.load(str(path))
    assert taco["tortilla:id"].tolist() == [s.id for s in tortilla.samples]
    for i, sample in enumerate(tortilla.samples):
        ours = [a.id for a in tortilla.assets(sample)]
        assert taco.read(i)["tortilla:id"].tolist() == ours
        decoded = adapter.decode(tortilla, sample)
        _check_shapes(ds, decoded, size)
        for name, x in decoded.inputs.items():  # our reader's arrays are GDAL's
            if x.ndim == 3:
                np.testing.assert_array_equal(x, _rio_read(tortilla.asset(sample, name).vsi_path()))


@pytest.mark.parametrize("ds", GROUP_A)
def test_synthesize_is_deterministic(ds: str) -> None:
    adapter = get_adapter(ds)
    a = adapter.synthesize(3, "validation", np.random.default_rng(7), 8)
    b = adapter.synthesize(3, "validation", np.random.default_rng(7), 8)
    c = adapter.synthesize(3, "validation", np.random.default_rng(8), 8)
    assert a == b
    assert [x.data for x in a.assets] != [x.data for x in c.assets]


def test_biomassters_synthetic_missing_months(tmp_path: Path) -> None:
    """Some synthetic chips lack S2 months, like the real files; decode masks them."""
    path = _write_synthetic("biomassters", tmp_path, 8, per_split=(12, 0, 0))
    adapter = get_adapter("biomassters")
    t = Tortilla(path)
    masks = []
    for s in t.samples:
        d = adapter.decode(t, s)
        ids = [a.id for a in t.assets(s)]
        assert sum("_S1_" in i for i in ids) == 12 and ids[-1].endswith("_AGBM")
        assert d.time_mask["s1"].all()
        assert d.time_mask["s2"].sum() == sum("_S2_" in i for i in ids)
        assert not d.inputs["s2"][~d.time_mask["s2"]].any()
        masks.append(d.time_mask["s2"])
    assert any(not mk.all() for mk in masks)


# ------------------------------------------------------------------------------- learnability
def _nearest_signature(ds: str, d: DecodedSample, num_classes: int) -> np.ndarray:
    """Per-pixel class ``(H, W)``: nearest class signature over all single-date modalities."""
    m = load_manifest(ds)
    units, sigs = [], []
    for mod in m.modalities:
        x = d.inputs[mod.name]
        if x.ndim != 3:
            continue
        units.append(synth.unit_from_dtype(x, mod.dtype))
        sigs.append(synth.signatures(ds, mod.name, num_classes, len(mod.bands)))
    unit = np.concatenate(units)  # (C, H, W)
    sig = np.concatenate(sigs, axis=1)  # (K, C)
    dist = ((unit[None] - sig[:, :, None, None]) ** 2).sum(axis=1)
    return dist.argmin(axis=0)


@pytest.mark.parametrize("ds", [d for d in GROUP_A if d != "biomassters"])
def test_synthetic_targets_are_learnable(ds: str, tmp_path: Path) -> None:
    m = load_manifest(ds)
    adapter = get_adapter(ds)
    t = Tortilla(_write_synthetic(ds, tmp_path, 32, per_split=(8, 2, 2), seed=1))
    hits, total = 0, 0
    for s in t.samples:
        d = adapter.decode(t, s)
        pred = _nearest_signature(ds, d, m.num_classes)
        if m.task == "segmentation":
            mask = d.targets["mask"].astype(np.int64)
            valid = mask != m.ignore_index if m.ignore_index is not None else np.ones_like(mask, bool)
            hits += int((pred[valid] == mask[valid]).sum())
            total += int(valid.sum())
        elif m.task == "classification":
            hits += int(np.bincount(pred.ravel(), minlength=m.num_classes).argmax()
                        == int(d.targets["label"]))
            total += 1
        else:  # multi-label: the classes covering at least 2% of the pixels
            share = np.bincount(pred.ravel(), minlength=m.num_classes) / pred.size
            hits += int(np.array_equal((share >= 0.02).astype(np.uint8), d.targets["labels"]))
            total += 1
    assert hits / total >= 0.95, (ds, hits, total)


def test_biomassters_target_is_learnable(tmp_path: Path) -> None:
    """AGB is recovered from the time-mean S2 spectra by a linear fit (R^2 >= 0.95)."""
    adapter = get_adapter("biomassters")
    t = Tortilla(_write_synthetic("biomassters", tmp_path, 16, per_split=(6, 0, 0), seed=2))
    feats, ys = [], []
    for s in t.samples:
        d = adapter.decode(t, s)
        s2 = synth.unit_from_dtype(d.inputs["s2"][d.time_mask["s2"]], "uint16").mean(axis=0)
        feats.append(s2.reshape(s2.shape[0], -1).T)
        ys.append(d.targets["target"].ravel())
    x = np.concatenate(feats)
    y = np.concatenate(ys)
    a = np.c_[x, np.ones(len(x))]
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    r2 = 1 - ((a @ coef - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2 >= 0.95


# --------------------------------------------------------------------------------- bad input
def _one_sample_file(tmp_path: Path, spec: SampleSpec) -> Tortilla:
    return Tortilla(write_tortilla(tmp_path / "bad.tortilla", [spec]))


def test_unknown_class_name_is_a_clear_error(tmp_path: Path) -> None:
    adapter = get_adapter("benv2")
    spec = adapter.synthesize(0, "train", np.random.default_rng(0), 8)
    spec.metadata["labels"] = ["Marine waters", "Lunar regolith"]
    t = _one_sample_file(tmp_path, spec)
    with pytest.raises(CorruptFileError, match=r"bad\.tortilla.*'labels'.*Lunar regolith"):
        adapter.decode(t, t.samples[0])


def test_missing_asset_is_a_clear_error(tmp_path: Path) -> None:
    adapter = get_adapter("flair2")
    spec = adapter.synthesize(0, "train", np.random.default_rng(0), 8)
    spec.assets = [a for a in spec.assets if a.id != "mask"]
    t = _one_sample_file(tmp_path, spec)
    with pytest.raises(CorruptFileError, match=r"bad\.tortilla.*no asset 'mask'"):
        adapter.decode(t, t.samples[0])


def test_disagreeing_label_columns_are_a_clear_error(tmp_path: Path) -> None:
    adapter = get_adapter("so2sat")
    spec = adapter.synthesize(0, "train", np.random.default_rng(0), 8)
    label = spec.assets[0].metadata["labels"]
    spec.metadata["labels"] = adapter.manifest.classes[(label + 1) % adapter.manifest.num_classes]
    t = _one_sample_file(tmp_path, spec)
    with pytest.raises(CorruptFileError, match="label columns disagree"):
        adapter.decode(t, t.samples[0])


def test_biomassters_without_target_is_a_clear_error(tmp_path: Path) -> None:
    adapter = get_adapter("biomassters")
    spec = adapter.synthesize(0, "train", np.random.default_rng(0), 8)
    spec.assets = [a for a in spec.assets if not a.id.endswith("_AGBM")]
    t = _one_sample_file(tmp_path, spec)
    with pytest.raises(CorruptFileError, match="no 'AGBM' asset"):
        adapter.decode(t, t.samples[0])


def test_so2sat_label_from_either_column(tmp_path: Path) -> None:
    """The outer class name alone, or the assets' class index alone, gives the label."""
    adapter = get_adapter("so2sat")
    spec = adapter.synthesize(0, "train", np.random.default_rng(5), 8)
    label = int(spec.assets[0].metadata["labels"])
    only_outer = SampleSpec(spec.id, [AssetSpec(a.id, a.data, a.file_format) for a in spec.assets],
                            spec.split, dict(spec.metadata))
    t = _one_sample_file(tmp_path, only_outer)
    assert int(adapter.decode(t, t.samples[0]).targets["label"]) == label
    spec.metadata = {}
    t = Tortilla(write_tortilla(tmp_path / "inner.tortilla", [spec]))
    assert int(adapter.decode(t, t.samples[0]).targets["label"]) == label
