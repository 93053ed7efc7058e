"""The dataset catalogue: all 19 manifests load, the strict loader rejects broken files with an error
naming the file and the field, and the recorded facts agree with the real GEO-Bench-2 fixtures and the
official leaderboard results."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from geobench import paths
from geobench.capabilities import check_consistency, load_capability, official_capabilities
from geobench.errors import ManifestError, UnknownNameError
from geobench.manifest import (
    DATASETS,
    METRIC_FOR_TASK,
    TASK_TYPES,
    available_datasets,
    load_all,
    load_manifest,
    load_manifest_file,
)

# Official GEO-Bench-2 class counts: the class lists of the GEO-Bench-2 dataset classes
# (geobench_v2/datasets/<ds>.py, newest versions) and the class counts in its published target
# statistics (dataset_stats_*/<ds>_stats.json, num_classes).
OFFICIAL_NUM_CLASSES = {
    "benv2": 19, "treesatai": 15, "so2sat": 17, "forestnet": 12, "caffe": 4, "cloudsen12": 4,
    "burn_scars": 2, "dynamic_earthnet": 7, "flair2": 13, "fotw": 3, "kuro_siwo": 4, "pastis": 20,
    "spacenet2": 3, "spacenet7": 3, "everwatch": 9, "nzcattle": 2, "pastis_r": 20, "substation": 2,
    "biomassters": 0,
}  # fmt: skip

# Assets of each real fixture that are targets or not a GEO-Bench-2 input (all others are modalities).
NON_INPUT_ASSETS = {
    "benv2": set(), "treesatai": set(), "biomassters": {"agbm"}, "caffe": {"mask"},
    "dynamic_earthnet": {"label", "s1"}, "everwatch": {"annotations"}, "flair2": {"mask"},
    "nzcattle": {"annotations"}, "pastis": {"semantic", "instance"}, "spacenet7": {"mask"},
}  # fmt: skip


def _manifest_data(name: str) -> dict[str, Any]:
    return yaml.safe_load((paths.MANIFEST_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# the catalogue as shipped


def test_all_19_manifests_load() -> None:
    assert available_datasets() == sorted(DATASETS)
    manifests = load_all()
    assert sorted(manifests) == sorted(DATASETS)
    for name, m in manifests.items():
        assert m.name == name
        assert m.source == paths.MANIFEST_DIR / f"{name}.yaml"
        assert m.task in TASK_TYPES
        assert m.metric == METRIC_FOR_TASK[m.task]
        assert m.hub.repo.startswith("aialliance/") and m.hub.files
        assert all(f.name.endswith(".tortilla") for f in m.hub.files)
        assert (
            m.license and m.homepage.startswith("https://") and m.citation.lstrip().startswith("@")
        )
        assert set(m.splits) == set(paths.SPLITS) and all(n > 0 for n in m.splits.values())
        assert m.image_size[0] > 0 and m.image_size[1] > 0
        for mod in m.modalities:
            assert len(set(mod.band_names)) == len(mod.band_names), (
                f"{name}.{mod.name}: duplicate band"
            )
            assert mod.dtype in {"uint8", "uint16", "int16", "float16", "float32"}, (
                f"{name}.{mod.name}"
            )


def test_capabilities_agree_with_conf() -> None:
    assert check_consistency() == []
    # every official capability lists only catalogued datasets, and each dataset is in at least one
    covered = {ds for cap in official_capabilities() for ds in cap.datasets}
    assert covered == set(DATASETS)


def test_task_specific_facts() -> None:
    tasks = {n: m.task for n, m in load_all().items()}
    assert tasks["substation"] == tasks["pastis_r"] == "instance_segmentation"
    assert tasks["everwatch"] == tasks["nzcattle"] == "detection"
    assert tasks["biomassters"] == "regression"
    bio = load_manifest("biomassters")
    assert bio.metric == "RMSE" and bio.higher_is_better is False
    assert bio.metric_transform is not None
    assert bio.metric_transform.kind == "one_minus_scaled"
    assert bio.metric_transform.scale == pytest.approx(0.2537951171398163, abs=0)
    others = [m for n, m in load_all().items() if n != "biomassters"]
    assert all(m.higher_is_better and m.metric_transform is None for m in others)


def test_class_counts_match_official_geobench2() -> None:
    for name, m in load_all().items():
        assert m.num_classes == OFFICIAL_NUM_CLASSES[name], name
        assert len(set(m.classes)) == len(m.classes), f"{name}: duplicate class names"
        if m.ignore_index is not None and m.ignore_index >= 0:
            # a class index, or the one unlabelled value just past the classes (fotw: 3)
            assert m.ignore_index <= m.num_classes, name
    assert load_manifest("fotw").ignore_index == 3 and load_manifest("pastis").ignore_index is None


def test_pastis_r_reads_the_pastis_files() -> None:
    pastis, pastis_r = load_manifest("pastis"), load_manifest("pastis_r")
    assert pastis_r.hub == pastis.hub
    assert [f.name for f in pastis.hub.files] == [
        f"geobench_pastis.000{i}.part.tortilla" for i in range(3)
    ]
    assert pastis_r.modalities == pastis.modalities and pastis_r.classes == pastis.classes


def test_multi_part_files_are_listed_in_order() -> None:
    for m in load_all().values():
        names = [f.name for f in m.hub.files]
        assert len(set(names)) == len(names)
        parts = [int(x) for n in names for x in re.findall(r"\.(\d{4})\.part\.tortilla$", n)]
        if parts:
            assert parts == list(range(len(names))), m.name


def test_multi_temporal_datasets_have_time_series() -> None:
    temporal = set(load_capability("multi_temporal").datasets)
    for name, m in load_all().items():
        if name in temporal:
            assert m.is_multi_temporal, name


def test_dataset_conf_group(tmp_path: Path) -> None:
    """conf/dataset/<ds>.yaml names the dataset and drops the capability; the published
    protocol's budgets per task come from the geobench2 preset."""
    from geobench.protocol import official_settings
    from geobench.train.task_spec import TaskSpec

    conf_dir = paths.CONF_DIR / "dataset"
    assert sorted(p.stem for p in conf_dir.glob("*.yaml")) == sorted(DATASETS)
    for name in DATASETS:
        cfg = yaml.safe_load((conf_dir / f"{name}.yaml").read_text(encoding="utf-8"))
        assert cfg["dataset"] == {"name": name}
        assert cfg["defaults"] == [{"override /capability": None}]
        assert "protocol" not in cfg  # the protocol's defaults apply (detection: *_detection values)
        settings = official_settings(name, "resnet50")
        m = load_manifest(name)
        if m.task in ("detection", "instance_segmentation"):
            assert (settings.n_trials, settings.batch_sizes) == (10, (8,))
            assert m.classes[0].lower() == "background"  # as the official class lists
            assert TaskSpec.from_manifest(m).num_classes == m.num_classes - 1  # objects only
        else:
            assert (settings.n_trials, settings.batch_sizes) == (16, (8, 16, 32))
        assert settings.seeds == (205, 913, 1829, 2007, 2254)


def test_unknown_dataset_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'pastis'"):
        load_manifest("pastsi")


# ---------------------------------------------------------------------------------------------
# the strict loader rejects broken copies, naming the file and the field


def _expect_error(path: Path, *fragments: str) -> None:
    with pytest.raises(ManifestError) as excinfo:
        load_manifest_file(path)
    msg = str(excinfo.value)
    assert str(path) in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_rejects_unknown_top_level_key(tmp_path: Path) -> None:
    data = _manifest_data("so2sat")
    data["num_clases"] = 17
    _expect_error(_write(tmp_path, "so2sat", data), "unknown key(s) num_clases")


def test_rejects_unknown_nested_key(tmp_path: Path) -> None:
    data = _manifest_data("benv2")
    data["modalities"][1]["bands"][3]["wavelength"] = 665
    _expect_error(
        _write(tmp_path, "benv2", data), ".modalities[1].bands[3]", "unknown key(s) wavelength"
    )


def test_rejects_missing_required_field(tmp_path: Path) -> None:
    data = _manifest_data("caffe")
    del data["license"]
    _expect_error(_write(tmp_path, "caffe", data), "missing required field 'license'")
    data = _manifest_data("caffe")
    del data["modalities"][0]["dtype"]
    _expect_error(
        _write(tmp_path, "caffe", data), ".modalities[0]", "missing required field 'dtype'"
    )


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (
            lambda d: d["splits"].__setitem__("train", "many"),
            (".splits.train", "expected an integer"),
        ),
        (lambda d: d.__setitem__("image_size", "512"), (".image_size", "expected a list")),
        (lambda d: d.__setitem__("image_size", [512]), (".image_size", "expected 2 items")),
        (
            lambda d: d.__setitem__("higher_is_better", "yes"),
            (".higher_is_better", "expected true or false"),
        ),
        (lambda d: d.__setitem__("task", "segmentaton"), (".task", "'segmentaton' is not one of")),
        (
            lambda d: d["modalities"][0].__setitem__("kind", "radar"),
            (".modalities[0].kind", "'radar'"),
        ),
        (
            lambda d: d["modalities"][0]["bands"][0].__setitem__("wavelength_nm", "blue"),
            (".modalities[0].bands[0].wavelength_nm", "expected a number"),
        ),
        (
            lambda d: d["modalities"][0].__setitem__("time_steps", 0),
            (".modalities.img.time_steps", ">= 1"),
        ),
    ],
)
def test_rejects_wrong_types(tmp_path: Path, edit: Any, fragments: tuple[str, ...]) -> None:
    data = _manifest_data("caffe")
    edit(data)
    _expect_error(_write(tmp_path, "caffe", data), *fragments)


def test_rejects_bad_sha256(tmp_path: Path) -> None:
    data = _manifest_data("dynamic_earthnet")
    data["hub"]["files"][1]["sha256"] = data["hub"]["files"][1]["sha256"].upper()
    _expect_error(
        _write(tmp_path, "dynamic_earthnet", data),
        ".hub.files.geobench_dynamic_earthnet.0001.part.tortilla.sha256",
        "not a lowercase hex sha256",
    )
    data = _manifest_data("dynamic_earthnet")
    data["hub"]["files"][0]["sha256"] = "abc123"
    _expect_error(_write(tmp_path, "dynamic_earthnet", data), ".0000.part.tortilla.sha256")


def test_rejects_name_file_mismatch(tmp_path: Path) -> None:
    data = _manifest_data("spacenet7")
    _expect_error(
        _write(tmp_path, "spacenet2", data),
        ".name",
        "'spacenet7' differs from the file name 'spacenet2'",
    )


def test_rejects_wrong_metric_for_task(tmp_path: Path) -> None:
    data = _manifest_data("everwatch")
    data["metric"] = "Multiclass_Jaccard_Index"
    _expect_error(_write(tmp_path, "everwatch", data), ".metric", "'test_test_map'")
    data = _manifest_data("pastis_r")
    data["metric"] = "test_test_map"  # detection's metric on an instance-segmentation dataset
    _expect_error(_write(tmp_path, "pastis_r", data), ".metric", "'test_test_segm_map'")


def test_rejects_missing_classes_and_bad_yaml(tmp_path: Path) -> None:
    data = _manifest_data("fotw")
    data["classes"] = []
    _expect_error(_write(tmp_path, "fotw", data), ".classes", "needs its class names")
    bad = tmp_path / "fotw.yaml"
    bad.write_text("name: fotw\nclasses: [a, b\n", encoding="utf-8")
    _expect_error(bad, "not valid YAML")
    _expect_error(tmp_path / "nowhere.yaml", "manifest file not found")


def test_roundtrip_of_every_manifest_is_lossless(tmp_path: Path) -> None:
    # A YAML dump of the parsed file loads to an equal manifest: nothing depends on formatting.
    for name in DATASETS:
        copy = load_manifest_file(_write(tmp_path, name, _manifest_data(name)))
        assert copy == load_manifest(name)


# ---------------------------------------------------------------------------------------------
# facts checked against the real GEO-Bench-2 fixtures and the official results


def _asset_key(row: Any) -> str:
    """How an asset maps to a modality: the GEO-Bench-2 'modality' column when present (biomassters,
    dynamic_earthnet), else the asset id with a time index suffix ('planet_7') removed."""
    modality = row.get("modality")
    if isinstance(modality, str) and modality:
        return modality.lower()
    return re.sub(r"_\d+$", "", str(row["tortilla:id"]))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # everwatch tiles
@pytest.mark.parametrize("name", sorted(NON_INPUT_ASSETS))
def test_modalities_match_real_fixture(fixtures_dir: Path, name: str) -> None:
    tacoreader = pytest.importorskip("tacoreader")
    rasterio = pytest.importorskip("rasterio")
    h5py = pytest.importorskip("h5py")
    import io

    m = load_manifest(name)
    mods = {mod.name: mod for mod in m.modalities}
    df = tacoreader.load(str(fixtures_dir / f"{name}.tortilla"))
    assert set(df["tortilla:data_split"]) == set(paths.SPLITS)
    for i in range(len(df)):
        sample = df.read(i)
        keys = [_asset_key(sample.iloc[j]) for j in range(len(sample))]
        assert set(keys) == set(mods) | NON_INPUT_ASSETS[name], (name, i, sorted(set(keys)))
        for mod in m.modalities:
            steps = keys.count(mod.name)
            # one asset per time step (GeoTIFF series), or one HDF5 asset holding a variable series
            if mod.variable_time_steps:
                assert 1 <= steps <= mod.time_steps, (name, mod.name, steps)
            else:
                assert steps == mod.time_steps, (name, mod.name, steps)
        for j, key in enumerate(keys):
            if key not in mods:
                continue
            mod, fmt = mods[key], sample.iloc[j]["tortilla:file_format"]
            if fmt == "GTiff":
                with rasterio.open(sample.read(j)) as src:
                    assert src.count == len(mod.bands), (name, key, src.count)
                    assert src.dtypes[0] == mod.dtype, (name, key, src.dtypes[0])
            else:
                assert fmt == "HDF5", (name, key, fmt)
                match = re.match(r"/vsisubfile/(\d+)_(\d+),(.+)", sample.read(j))
                assert match is not None
                with open(match[3], "rb") as fh:
                    fh.seek(int(match[1]))
                    blob = fh.read(int(match[2]))
                with h5py.File(io.BytesIO(blob), "r") as h5:
                    data = h5["data"]
                    assert data.ndim == 4 and data.shape[1] == len(mod.bands), (
                        name,
                        key,
                        data.shape,
                    )
                    assert 1 <= data.shape[0] <= mod.time_steps
                    assert str(data.dtype) == mod.dtype, (name, key, data.dtype)


def test_metrics_match_official_results(official_dir: Path) -> None:
    import csv

    seen: dict[str, set[str]] = {}
    for path in sorted(official_dir.glob("*/results_and_parameters.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                seen.setdefault(row["dataset"], set()).add(row["Metric"])
    assert set(seen) == set(DATASETS)
    for name, metrics in seen.items():
        assert metrics == {load_manifest(name).metric}, name
