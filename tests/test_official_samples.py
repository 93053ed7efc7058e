"""geobench's loader against GEO-Bench-2's own dataset classes (GeoBenchV2 0.9, ``geobench_v2``),
sample by sample, on the ten real fixtures; and the manifests' ``protocol:`` blocks against the
official classes and datamodules.

Each fixture is staged and prepared by geobench once (module scope) and read with
``PreparedDataset(normalization="official", image_size=<protocol>, time_steps=<protocol>)``. The
official class reads the same file with its default normaliser (z-score), every band of each
modality in its on-disk order (so official channel i is our stored channel i) and the resize
transform of its own datamodule for the protocol's image size (``setup_image_size_transforms()``,
kornia ``Resize``; DynamicEarthNet's ``TimeSeriesResize``). For every split and sample: ids and
order, input values per band, shapes, time steps, targets.

Where geobench deliberately differs from the official code, the difference is asserted exactly
(each marked ``DIFFERENCE`` below; docs/protocol.md lists them):

- time axis: a series reduced to one step keeps a time axis of length 1 (``(1, C, H, W)``); the
  official class squeezes it to ``(C, H, W)``; several steps: ours ``(T, C, H, W)``, the official
  ``(C, T, H, W)`` (BioMassters, PASTIS with ``temporal_output_format="CTHW"``, DynamicEarthNet);
- padded (missing) steps: geobench fills them with 0 in normalized space, the official class pads
  raw zeros in front and normalises them (-mean / (std + 1e-6)); one ``time_mask`` per sample
  (a step is real if any modality has it);
- targets of a time-series sample: kornia 0.9's ``Resize`` hands the official ``(H, W)`` target
  (PASTIS, BioMassters) or ``(N, H, W)`` instance masks back broadcast to ``(T, ...)``, T identical
  copies; geobench keeps one;
- DynamicEarthNet's target resize: the official ``TimeSeriesResize`` resizes the mask bilinearly
  and truncates to int; geobench uses nearest (identical at the native 512 px);
- PASTIS instance boxes: the official key ``boxes`` is not a kornia key, so the boxes are not
  resized with the image; geobench scales them (identical at the native 128 px).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from geobench.data import PreparedDataset
from geobench.data.transforms import resize_image, select_steps
from geobench.manifest import DATASETS, TimeSelection, load_manifest
from geobench.prepare import prepare_dataset
from tests.conftest import FIXTURES, REAL_FIXTURES
from tests.test_prepare import _stage_fixture

# ours -> (official dataset class, {our modality: official modalities whose default_order covers our
# stored channels, in order; None: the class's single-modality config}). Channel i of our modality
# is the official band at position i of that concatenated order: the official loaders pick a band
# by its index in the default_order (geobench_v2 datasets/data_util.py:143-165, 247).
OFFICIAL: dict[str, tuple[str, dict[str, list[str | None]]]] = {
    "benv2": ("GeoBenchBENV2", {"s1": ["s1"], "s2": ["s2"]}),
    "biomassters": ("GeoBenchBioMassters", {"s1": ["s1"], "s2": ["s2"]}),
    "burn_scars": ("GeoBenchBurnScars", {"image": [None]}),
    "caffe": ("GeoBenchCaFFe", {"img": [None]}),
    "cloudsen12": ("GeoBenchCloudSen12", {"s2l2a": [None]}),
    "dynamic_earthnet": ("GeoBenchDynamicEarthNet", {"planet": ["planet"], "s2": ["s2"]}),
    "everwatch": ("GeoBenchEverWatch", {"image": [None]}),
    "flair2": ("GeoBenchFLAIR2", {"aerial": ["aerial", "elevation"]}),
    "forestnet": ("GeoBenchForestnet", {"image": [None]}),
    "fotw": ("GeoBenchFieldsOfTheWorld", {"win_a": [None], "win_b": [None]}),
    "kuro_siwo": ("GeoBenchKuroSiwo", {"sar": ["sar"], "dem": ["dem"]}),
    "nzcattle": ("GeoBenchNZCattle", {"image": [None]}),
    "pastis": ("GeoBenchPASTIS", {"s2": ["s2"], "s1a": ["s1_asc"], "s1d": ["s1_desc"]}),
    "pastis_r": ("GeoBenchPASTIS", {"s2": ["s2"], "s1a": ["s1_asc"], "s1d": ["s1_desc"]}),
    "so2sat": ("GeoBenchSo2Sat", {"s1": ["s1"], "s2": ["s2"]}),
    "spacenet2": ("GeoBenchSpaceNet2", {"ps-ms": ["worldview"], "pan": ["pan"]}),
    "spacenet7": ("GeoBenchSpaceNet7", {"images": [None]}),
    "substation": ("GeoBenchSubstation", {"image": [None]}),
    "treesatai": ("GeoBenchTreeSatAI", {"aerial": ["aerial"], "s1": ["s1"], "s2": ["s2"]}),
}
DATAMODULE = {
    "benv2": "GeoBenchBENV2DataModule", "biomassters": "GeoBenchBioMasstersDataModule",
    "burn_scars": "GeoBenchBurnScarsDataModule", "caffe": "GeoBenchCaFFeDataModule",
    "cloudsen12": "GeoBenchCloudSen12DataModule", "dynamic_earthnet": "GeoBenchDynamicEarthNetDataModule",
    "everwatch": "GeoBenchEverWatchDataModule", "flair2": "GeoBenchFLAIR2DataModule",
    "forestnet": "GeoBenchForestnetDataModule", "fotw": "GeoBenchFieldsOfTheWorldDataModule",
    "kuro_siwo": "GeoBenchKuroSiwoDataModule", "nzcattle": "GeoBenchNZCattleDataModule",
    "pastis": "GeoBenchPASTISDataModule", "pastis_r": "GeoBenchPASTISPanopticDataModule",
    "so2sat": "GeoBenchSo2SatDataModule", "spacenet2": "GeoBenchSpaceNet2DataModule",
    "spacenet7": "GeoBenchSpaceNet7DataModule", "substation": "GeoBenchSubstationDataModule",
    "treesatai": "GeoBenchTreeSatAIDataModule",
}
# The detection datasets follow terratorch's GEO-Bench-2 detection configs (branch
# dino_v3_od_experiments, examples/confs/geobenchv2_detection/*), not the datamodule defaults.
DETECTION_CONFIGS = {"everwatch": (512, 64, True), "nzcattle": (512, 64, True), "substation": (224, 64, True),
                     "pastis_r": (128, 8, False)}
# Extra official constructor arguments: pastis_r is PASTIS read as instances with the configs'
# num_time_steps: 12 (the manifests' protocol time_steps).
OFFICIAL_KWARGS: dict[str, dict[str, Any]] = {"pastis_r": {"label_type": "instance_seg", "num_time_steps": 12}}
SEGMENTATION_ISH = ("segmentation", "regression")


def _official_modules() -> tuple[Any, Any]:
    import geobench_v2.datamodules as datamodules  # the reference (dev extra), imported lazily
    import geobench_v2.datasets as datasets

    return datasets, datamodules


def _positional_names(cls: Any, keys: list[str | None]) -> list[str]:
    """The official band names of our stored channels, by position."""
    names: list[str] = []
    for k in keys:
        cfg = cls.dataset_band_config if k is None else cls.dataset_band_config.modalities[k]
        names += list(cfg.default_order)
    return names


# ---------------------------------------------------------------------------------------------
# the manifests' protocol blocks against the official code


@pytest.mark.parametrize("ds", DATASETS)
def test_manifest_normalization_equals_official_stats(ds: str) -> None:
    """Every band of ours with an official statistic carries exactly that statistic (matched by
    stored-channel position), and no band without one is listed."""
    datasets, _ = _official_modules()
    cname, mods = OFFICIAL[ds]
    cls = getattr(datasets, cname)
    stats = cls.normalization_stats
    m = load_manifest(ds)
    proto = m.protocol.normalization
    assert set(proto) == set(mods) == set(m.modality_names)
    for mod, keys in mods.items():
        names = _positional_names(cls, keys)
        ours = m.modality(mod).band_names
        expected = {b: (stats["means"][names[i]], stats["stds"][names[i]])
                    for i, b in enumerate(ours) if i < len(names) and names[i] in stats["means"]}
        assert proto[mod] == expected, (ds, mod)
        assert list(proto[mod]) == [b for b in ours if b in expected]  # in stored order


def test_manifest_positional_band_mapping_special_cases() -> None:
    """The positional mapping where our names differ from the official ones (see 'source')."""
    tree = load_manifest("treesatai").protocol.normalization["aerial"]
    assert tree["nir"] == (79.30790710449219, 33.36391830444336)  # official 'red' = stored channel 0
    assert tree["red"] == (154.289794921875, 49.029109954833984)  # official 'nir' = stored channel 3
    so2 = load_manifest("so2sat").protocol.normalization["s1"]
    assert so2["VH"] == (-0.000029148337489459664, 0.5443007946014404)  # official 'VV' = channel 0
    assert load_manifest("spacenet7").protocol.normalization["images"]["alpha"] == (0.0, 255.0)  # 'nir'
    assert "CLP" not in load_manifest("biomassters").protocol.normalization["s2"]
    assert {"AOT", "WVP"}.isdisjoint(load_manifest("cloudsen12").protocol.normalization["s2l2a"])


@pytest.mark.parametrize("ds", DATASETS)
def test_manifest_protocol_matches_official_datamodule(ds: str) -> None:
    """image_size and eval_batch_size: the official datamodule's defaults (detection: the
    configs'); flips everywhere but pastis_r; the special cases of the protocol."""
    import inspect

    _, datamodules = _official_modules()
    params = inspect.signature(getattr(datamodules, DATAMODULE[ds]).__init__).parameters
    p = load_manifest(ds).protocol
    if ds in DETECTION_CONFIGS:
        assert (p.image_size, p.eval_batch_size, p.flips) == DETECTION_CONFIGS[ds]
    else:
        assert p.image_size == params["img_size"].default
        assert p.eval_batch_size == params["eval_batch_size"].default == 64
        assert p.flips is True
    assert p.normalize is (ds != "cloudsen12")
    assert p.nodata_from == ("s1" if ds == "biomassters" else None)
    assert p.source.strip()


# ---------------------------------------------------------------------------------------------
# sample-by-sample comparison on the real fixtures


class _Roots:
    def __init__(self, base: Path) -> None:
        self.ours, self.official = base / "ours", base / "official"
        self.prepared: set[str] = set()


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> _Roots:
    if not FIXTURES.is_dir():
        pytest.skip(f"real GEO-Bench-2 fixtures not found at {FIXTURES} (../shared absent)")
    r = _Roots(tmp_path_factory.mktemp("official_samples"))
    r.official.mkdir()
    for ds in REAL_FIXTURES:  # the file names the official classes expect (one file, not parts)
        os.symlink(FIXTURES / f"{ds}.tortilla", r.official / f"geobench_{ds}.tortilla")
    return r


def _ours(roots: _Roots, ds: str, split: str, time_steps: TimeSelection | None = None,
          **kw: Any) -> PreparedDataset:
    """geobench's loader; the fixture is staged and prepared once per module."""
    if ds not in roots.prepared:
        _stage_fixture(FIXTURES, "pastis" if ds == "pastis_r" else ds, roots.ours)
        prepare_dataset(ds, roots.ours, progress=False, workers=1)
        roots.prepared.add(ds)
    p = load_manifest(ds).protocol
    kw = {"normalization": "official", "image_size": p.image_size, **kw}
    return PreparedDataset(roots.ours, ds, split, time_steps=time_steps or p.time_steps, **kw)


class _DatesAsLists:
    """``data_df`` proxy for the official PASTIS class on the 3-step fixture with 12 steps: its
    ``dates`` bookkeeping adds a list to a numpy array when padding (``ValueError``, datasets/
    pastis.py:226-228). The dates are not returned (metadata=None); giving them as a list is the
    only change."""

    def __init__(self, df: Any) -> None:
        self._df = df

    def read(self, i: int) -> Any:
        row = self._df.read(i)
        row["dates"] = row["dates"].apply(list)
        return row

    def __len__(self) -> int:
        return len(self._df)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._df, name)

    def __getitem__(self, key: Any) -> Any:
        return self._df[key]


def _official(roots: _Roots, ds: str, split: str, size: int, **kwargs: Any) -> Any:
    """The official dataset class on the fixture, every band, resized by its datamodule's transform."""
    datasets, datamodules = _official_modules()
    cname, mods = OFFICIAL[ds]
    raw = "pastis" if ds == "pastis_r" else ds
    # multi-part classes name three part files; the fixture is one (the only attribute changed)
    cls: Any = type(f"{cname}Fixture", (getattr(datasets, cname),), {"paths": [f"geobench_{raw}.tortilla"]})
    band_order: Any = {}
    for keys in mods.values():
        for k in keys:
            cfg = cls.dataset_band_config if k is None else cls.dataset_band_config.modalities[k]
            if k is None:
                band_order = list(cfg.default_order)
            else:
                band_order[k] = list(cfg.default_order)
    dm = getattr(datamodules, DATAMODULE[ds])(root=str(roots.official), img_size=size)
    transform = dm.setup_image_size_transforms()[0]  # train/val/test transforms are the same
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = cls(root=str(roots.official), split=split, band_order=band_order, transforms=transform,
                **{**OFFICIAL_KWARGS.get(ds, {}), **kwargs})
    if "pastis" in ds:
        d.data_df = _DatesAsLists(d.data_df)
    return d


def _official_steps(ds: str, mod: str, n_real: int, official_kwargs: dict[str, Any]) -> list[int | None]:
    """The steps the official class picks, by its own code, among a series' ``n_real`` steps
    (None: a padded step)."""
    kw = {**OFFICIAL_KWARGS.get(ds, {}), **official_kwargs}
    if ds in ("pastis", "pastis_r"):  # datasets/pastis.py:325-333
        n = kw.get("num_time_steps", 1)
        return [None] * (n - n_real) + list(range(n_real)) if n_real < n else [int(i * (n_real / n)) for i in range(n)]
    if ds == "biomassters":  # datasets/biomassters.py:179-181, 207-223 (only S2 is padded)
        n = kw.get("num_time_steps", 1)
        if mod == "s2" and n_real < n:
            return [None] * (n - n_real) + list(range(n_real))
        return list(range(min(n, n_real)))
    if ds == "dynamic_earthnet":  # datasets/dynamic_earthnet.py:185-193
        setting = kw.get("temporal_setting", "single")
        return [0] if setting == "single" else [0, 4, 9, 14, 19, 24] if setting == "weekly" else list(range(n_real))
    raise AssertionError(f"{ds}: unexpected series {mod}")


def _native(ours: PreparedDataset, i: int) -> dict[str, Any]:
    """Sample ``i`` as stored in the prepared file: each series with its steps selected as the
    loader does (raw values, no-data fills kept), its real-step count, the time mask."""
    import h5py

    out: dict[str, Any] = {}
    with h5py.File(ours.path, "r") as h5:
        for mod in h5["inputs"]:
            arr = h5["inputs"][mod][i]
            if arr.ndim != 4:
                continue
            mask = h5["time_mask"][mod][i].astype(bool) if "time_mask" in h5 and mod in h5["time_mask"] else None
            n_real = int(mask.sum()) if mask is not None else arr.shape[0]
            picked = select_steps(arr, mask, ours.time_steps) if ours.time_steps is not None else (arr, mask)
            out[mod] = (picked[0], n_real)
    return out


def _compare_inputs(ds: str, sg: dict[str, Any], so: dict[str, Any], native: dict[str, Any],
                    official_kwargs: dict[str, Any], size: int) -> int:
    """Inputs of one sample, every band and step; returns the number of nonzero values compared."""
    datasets, _ = _official_modules()
    cname, mods = OFFICIAL[ds]
    stats = getattr(datasets, cname).normalization_stats
    m = load_manifest(ds)
    spread = None  # biomassters: S1 no-data pixels of each picked step (native size)
    if m.protocol.nodata_from and m.protocol.nodata_from in native:
        s1, _ = native[m.protocol.nodata_from]
        spread = torch.from_numpy((s1 == -9999).any(axis=1))
    nonzero = 0
    union: torch.Tensor | None = None
    for mod, keys in mods.items():
        x = sg["inputs"][mod]
        parts = []
        for k in keys:
            o = so["image" if k is None else f"image_{k}"]
            if x.ndim == 4:
                # DIFFERENCE (time axis): ours (T, C, H, W); official (C, H, W) for one step (squeezed),
                # else (C, T, H, W)
                o = o[None] if o.ndim == 3 else o.permute(1, 0, 2, 3)
            parts.append(o)
        o = torch.cat(parts, dim=-3)
        names = _positional_names(getattr(datasets, cname), keys)
        n_off = o.shape[-3]
        assert n_off == len(names)
        extra = m.modality(mod).band_names[n_off:]  # stored bands the official class cannot read
        assert x.shape[-3] == n_off + len(extra)
        assert all(b not in m.protocol.normalization[mod] for b in extra)
        x = x[..., :n_off, :, :]
        assert x.shape == o.shape, (ds, mod, tuple(x.shape), tuple(o.shape))
        if x.ndim == 3:
            torch.testing.assert_close(x, o, rtol=1e-5, atol=1e-4)
            nonzero += int(torch.count_nonzero(x))
            continue
        series, n_real = native[mod]
        picks = _official_steps(ds, mod, n_real, official_kwargs)
        assert len(picks) == x.shape[0]
        real = torch.tensor([p is not None for p in picks])
        union = real if union is None else union | real
        for t, p in enumerate(picks):
            if p is not None:
                torch.testing.assert_close(x[t], o[t], rtol=1e-5, atol=1e-4)
                nonzero += int(torch.count_nonzero(x[t]))
                continue
            # DIFFERENCE (padded step): geobench 0 in normalized space, masked by time_mask; the
            # official class pads raw zeros in front and normalises them: -mean / (std + 1e-6)
            # per band (biomassters: then 0 at the step's S1 no-data pixels), then resizes.
            assert torch.count_nonzero(x[t]) == 0
            mean = torch.tensor([stats["means"][n] for n in names]).view(-1, 1, 1)
            std = torch.tensor([stats["stds"][n] for n in names]).view(-1, 1, 1)
            pad = (-mean / (std + 1e-6)).expand(n_off, *series.shape[-2:]).clone()
            if spread is not None:
                pad[:, spread[t]] = 0.0
            torch.testing.assert_close(o[t], resize_image(pad, size), rtol=1e-5, atol=1e-5)
    if union is not None:
        # one time mask per sample: a step is real if any modality has it (S1 always has the
        # twelve BioMassters months, so padded S2 steps are zeros under a True mask)
        assert sg.get("time_mask", torch.ones(len(union), dtype=torch.bool)).tolist() == union.tolist()
    return nonzero


def _compare_target(ds: str, sg: dict[str, Any], so: dict[str, Any], raw: dict[str, Any], size: int) -> None:
    m = load_manifest(ds)
    t = sg["target"]
    if m.task in SEGMENTATION_ISH and so["mask"].ndim == 3:
        # DIFFERENCE (target shape): with a (T, C, H, W) image kornia 0.9's Resize hands the (H, W)
        # target back broadcast to (T, H, W), T identical copies; geobench keeps (H, W).
        assert so["mask"].shape[0] == max(x.shape[0] for x in sg["inputs"].values() if x.ndim == 4)
        assert all(torch.equal(so["mask"][0], step) for step in so["mask"])
        so = {**so, "mask": so["mask"][0]}
    if m.task == "multilabel_classification":
        assert t.dtype == torch.float32 and t.shape == so["label"].shape
        assert torch.equal(t, so["label"].float())
    elif m.task == "segmentation":
        assert t.dtype == torch.int64 and t.shape == so["mask"].shape == (size, size)
        if ds == "dynamic_earthnet" and raw["target"].shape[-1] != size:
            # DIFFERENCE (target resize): the official TimeSeriesResize resizes the mask bilinearly
            # and truncates (datamodules/utils.py:224-227); geobench resizes it nearest-exact.
            r = raw["target"].float()[None, None]
            bilinear = F.interpolate(r, size=(size, size), mode="bilinear", align_corners=True)[0, 0].long()
            nearest = F.interpolate(r, size=(size, size), mode="nearest-exact")[0, 0].long()
            assert torch.equal(so["mask"], bilinear) and torch.equal(t, nearest)
            assert not torch.equal(bilinear, nearest)
        else:
            assert torch.equal(t, so["mask"])
    elif m.task == "regression":  # biomassters: AGB / 289.89 (the official 'AGB' std)
        off = so["mask"]
        assert t.shape == off.shape == (size, size)
        torch.testing.assert_close(t, off, rtol=1e-6, atol=1e-6)
        assert sg["valid_mask"].all()
    elif m.task == "detection":
        assert torch.equal(t["labels"], so["label"])  # 1..K: the official class index
        assert t["boxes"].shape == so["bbox_xyxy"].shape
        torch.testing.assert_close(t["boxes"], so["bbox_xyxy"], rtol=1e-6, atol=1e-4)
    else:  # instance_segmentation (pastis_r)
        assert torch.equal(t["labels"], so["label"])
        assert t["masks"].dtype == so["mask"].dtype == torch.uint8
        # DIFFERENCE (instance mask shape): with a (T, C, H, W) image kornia 0.9's Resize hands the
        # (N, H, W) masks back broadcast to (T, N, H, W), T identical copies; geobench keeps (N, H, W).
        n_steps = sg["inputs"]["s2"].shape[0]
        assert so["mask"].shape == (n_steps, *t["masks"].shape)
        assert all(torch.equal(t["masks"], step) for step in so["mask"])
        in_hw = raw["target"]["masks"].shape[-2:]
        # DIFFERENCE (instance boxes): the official 'boxes' key is not resized (not a kornia data
        # key); geobench scales boxes with the image: x * (W_out - 1) / (W_in - 1).
        scale = torch.tensor([(size - 1) / (in_hw[1] - 1), (size - 1) / (in_hw[0] - 1)] * 2)
        torch.testing.assert_close(t["boxes"], so["boxes"] * scale, rtol=1e-6, atol=1e-4)
        torch.testing.assert_close(raw["target"]["boxes"], so["boxes"])


# (test id, dataset, geobench time selection (None: the protocol's), official constructor kwargs,
# image size (None: the protocol's))
CASES: list[tuple[str, str, TimeSelection | None, dict[str, Any], int | None]] = [
    *[(ds, ds, None, {}, None) for ds in REAL_FIXTURES],
    ("pastis_r", "pastis_r", None, {}, None),
    # beyond the protocol: the time rules with several steps, padding and missing months (at the
    # fixture's native size: the resize is covered above)
    ("biomassters-12-months", "biomassters", TimeSelection("first", 12), {"num_time_steps": 12}, 32),
    ("pastis-2-steps", "pastis", TimeSelection("equally_spaced", 2), {"num_time_steps": 2}, 32),
    ("dynamic_earthnet-weekly", "dynamic_earthnet", TimeSelection("indices", indices=(0, 4, 9, 14, 19, 24)),
     {"temporal_setting": "weekly"}, 16),
]


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize(("ds", "time_steps", "official_kwargs", "size"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_samples_equal_official(ds: str, time_steps: TimeSelection | None, official_kwargs: dict[str, Any],
                                size: int | None, roots: _Roots) -> None:
    size = size or load_manifest(ds).protocol.image_size
    assert size is not None
    n_samples = nonzero = 0
    for split in ("train", "validation", "test"):
        ours = _ours(roots, ds, split, time_steps, image_size=size)
        off = _official(roots, ds, split, size, **official_kwargs)
        native = _ours(roots, ds, split, time_steps, normalization="none", image_size=None)
        assert len(ours) == len(off) > 0
        assert ours.sample_ids == list(off.data_df["tortilla:id"])  # same samples, same order
        for i in range(len(ours)):
            so, sg = off[i], ours[i]
            nonzero += _compare_inputs(ds, sg, so, _native(ours, i), official_kwargs, size)
            _compare_target(ds, sg, so, native[i], size)
            n_samples += 1
    assert n_samples >= 4 and nonzero > 0
