"""Benchmark your own model: the three doors (by name, by config, by package) resolve to specs,
build behind the encoder interface, compose through Hydra, and explain every mistake in one line;
``python -m geobench.models check`` reports band plan, shapes, parameters and images/s."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from geobench.config import register, to_run_config
from geobench.errors import ModelError, UnknownNameError
from geobench.manifest import Band
from geobench.models import ModelEntry, build_encoder, get_spec
from geobench.models.band_sets import S2_NM, parse_bands
from geobench.models.sources import ModelRequest
from geobench.models.spec import BandSpec
from geobench.paths import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "custom_model"
S2 = {"s2": [Band(n, S2_NM[n], 10.0) for n in ("B02", "B03", "B04", "B08", "B11", "B12")]}
register()


def _features(enc: Any, side: int = 64) -> list[Tensor]:
    with torch.no_grad():
        return list(enc({"s2": torch.randn(2, 6, side, side)}))


def _entry_points(monkeypatch: pytest.MonkeyPatch, **entries: str) -> None:
    """Pretend installed packages declare these ``geobench.models`` entry points."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    eps = importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name, value, "geobench.models") for name, value in entries.items())
    real = importlib.metadata.entry_points

    def fake(**kw: Any) -> Any:
        return eps if kw.get("group") == "geobench.models" else real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)


# ---- declared bands --------------------------------------------------------------------------


def test_bands_are_names_wavelengths_or_name_at_wavelength() -> None:
    bands = parse_bands(["B4", "red", "NIR_NARROW", "VV", 700, "pan@650"])
    assert bands == (BandSpec("B4", 664.6), BandSpec("red", 664.6), BandSpec("NIR_NARROW", 865.0),
                     BandSpec("VV", None), BandSpec("700nm", 700.0), BandSpec("pan", 650.0))
    for bad, fragment in ((["nope"], "unknown band name 'nope'"), (["B04", "b4"], "twice"),
                          (["x@y"], "NAME@NM"), ([], "empty")):
        with pytest.raises(ModelError, match=fragment):
            parse_bands(bad)


# ---- door 1: by name ---------------------------------------------------------------------------


def test_timm_models_resolve_to_specs_read_from_the_model() -> None:
    cnn = get_spec(ModelRequest("timm:resnet18", bands=("B04", "B03", "B02", "B08")))
    assert (cnn.key, cnn.family, cnn.out_indices, cnn.patch_size) == ("timm-resnet18", "timm", (1, 2, 3, 4), None)
    assert [b.name for b in cnn.input_bands["optical"]] == ["B04", "B03", "B02", "B08"]
    assert cnn.backbone_params == 11_179_648 and cnn.source.startswith("timm ")
    assert get_spec("timm-resnet18").input_bands["optical"][0].name == "red"  # RGB by default
    vit = get_spec("timm:vit_tiny_patch16_224")
    assert (vit.patch_size, vit.out_indices) == (16, (2, 5, 8, 11))  # 4 of 12 blocks, equally spaced
    with pytest.raises(ModelError, match="timm has no model 'resnet1800'"):
        get_spec("timm:resnet1800")
    with pytest.raises(ModelError, match="catalogue model"):
        get_spec(ModelRequest("resnet50", bands=("B04",)))


@pytest.mark.parametrize(("name", "bands", "side"), [
    ("timm:resnet18", ("B04", "B03", "B02", "B08"), 40),
    ("timm:vit_tiny_patch16_224", None, 40),  # tokens, padded to the patch
    ("timm:swin_tiny_patch4_window7_224", None, 64),  # channels-last stage outputs
])
def test_timm_encoders_follow_the_encoder_interface(name: str, bands: tuple[str, ...] | None, side: int) -> None:
    enc = build_encoder(ModelRequest(name, bands=bands), dataset_modalities=S2, image_size=side)
    feats = _features(enc, side)
    assert [f.shape[1] for f in feats] == enc.channels and len(feats) == 4
    assert [tuple(f.shape[-2:]) for f in feats] == [(-(-side // r),) * 2 for r in enc.reductions]
    first = enc.plan.matches["optical"][0]
    assert first.source == "s2/B04"  # the first conv takes the declared bands in their order
    assert enc.plan.in_chans("optical") == (len(bands) if bands else 3)


def test_terratorch_backbones_by_name() -> None:
    spec = get_spec("terratorch:prithvi_eo_tiny")  # its own bands: HLS
    assert spec.family == "terratorch" and spec.patch_size == 16 and len(spec.out_indices) == 4
    assert [b.name for b in spec.input_bands["optical"]][:2] == ["BLUE", "GREEN"]
    enc = build_encoder(ModelRequest("terratorch:prithvi_eo_tiny", bands=("B04", "B03", "B02", "B08")),
                        dataset_modalities=S2, image_size=32)
    feats = _features(enc, 32)
    assert [tuple(f.shape) for f in feats] == [(2, 256, 2, 2)] * 4
    with pytest.raises(ModelError, match="needs its input bands"):
        get_spec("terratorch:ssl4eos12_resnet18_sentinel2_all_moco")


def test_hydra_accepts_model_timm_name_and_declared_bands() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=[
            "model=timm:resnet18", "model.pretrained=false", "model.bands=[B04,B03,B02,664.6]",
            "+model.kwargs.drop_rate=0.1"])
        assert compose(config_name="config", overrides=["model.key=timm:resnet18"]).model.key == "timm:resnet18"
        with pytest.raises(ConfigCompositionException):
            compose(config_name="config", overrides=["model=timm_resnet18"])
    run = to_run_config(OmegaConf.merge(cfg, {"run_name": "x"}))
    assert run.model.key == "timm-resnet18"  # the file-safe key: run directory, rows, submission
    assert run.model.bands == ["B04", "B03", "B02", "664.6"] and run.model.kwargs == {"drop_rate": 0.1}
    assert get_spec(run.model).input_bands["optical"][3] == BandSpec("664.6nm", 664.6)


# ---- door 2: by config -------------------------------------------------------------------------


class _Pyramid(nn.Module):
    """No feature_info: geobench measures its outputs."""

    def __init__(self, in_chans: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(in_chans, 8, 3, 2, 1)
        self.b = nn.Conv2d(8, 16, 3, 2, 1)

    def forward(self, x: Tensor) -> list[Tensor]:
        a = self.a(x)
        return [a, self.b(a)]


def measured_factory(bands: tuple[BandSpec, ...]) -> nn.Module:
    return _Pyramid(len(bands))


def timm_factory(bands: tuple[BandSpec, ...], image_size: tuple[int, int], depth: int = 18) -> nn.Module:
    import timm

    return timm.create_model(f"resnet{depth}", features_only=True, in_chans=len(bands))


def rgb_only_factory(bands: tuple[BandSpec, ...]) -> nn.Module:
    return _Pyramid(3)


def raising_factory(bands: tuple[BandSpec, ...]) -> nn.Module:
    raise ValueError("weights file missing")


def not_a_module(bands: tuple[BandSpec, ...]) -> object:
    return {"not": "a module"}


def test_factories_take_the_dataset_bands_or_the_declared_ones() -> None:
    me = __name__
    plain = build_encoder(ModelRequest("mine", target=f"{me}:measured_factory"), dataset_modalities=S2,
                          image_size=32)
    assert plain.plan.in_chans("optical") == 6  # no bands declared: the dataset's own
    assert (plain.channels, plain.reductions) == ([8, 16], [2, 4])
    assert [tuple(f.shape) for f in _features(plain, 32)] == [(2, 8, 16, 16), (2, 16, 8, 8)]
    timm_like = build_encoder(ModelRequest("mine", target=f"{me}.timm_factory", bands=("B04", "B03", "B02"),
                                           kwargs={"depth": 18}), dataset_modalities=S2, image_size=32)
    assert timm_like.reductions == [4, 8, 16, 32] and timm_like.plan.in_chans("optical") == 3
    assert timm_like.spec.family == "config" and "timm_factory" in timm_like.spec.source


@pytest.mark.parametrize(("target", "kwargs", "bands", "fragment"), [
    ("no_such_module_xyz:build", {}, None, "cannot import 'no_such_module_xyz'"),
    ("{me}:nothing_here", {}, None, "has no attribute 'nothing_here'"),
    ("{me}:raising_factory", {}, None, "raised ValueError: weights file missing"),
    ("{me}:not_a_module", {}, None, "returned a dict"),
    ("{me}:timm_factory", {"width": 3}, None, r"model.kwargs \['width'\] are not parameters"),
    ("{me}:rgb_only_factory", {}, ("B04",), "first convolution takes 3 channels but 1 bands"),
])
def test_a_factory_mistake_is_one_line(target: str, kwargs: dict[str, Any], bands: tuple[str, ...] | None,
                                       fragment: str) -> None:
    req = ModelRequest("mine", target=target.format(me=__name__), kwargs=kwargs, bands=bands)
    with pytest.raises(ModelError, match=fragment) as info:
        build_encoder(req, dataset_modalities=S2, image_size=32)
    assert "\n" not in str(info.value)


def test_own_keys_are_file_safe_and_not_taken() -> None:
    for key, fragment in (("my model", "may hold only"), ("resnet50", "names a registry model"),
                          ("timm-x", "names a registry model")):
        with pytest.raises(ModelError, match=fragment):
            get_spec(ModelRequest(key, target=f"{__name__}:measured_factory"))


def test_a_model_yaml_in_the_users_config_dir_composes(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    monkeypatch.syspath_prepend(str(EXAMPLE))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=[
            f"hydra.searchpath=[file://{EXAMPLE / 'conf'}]", "model=tinygeo_plain"])
    run = to_run_config(OmegaConf.merge(cfg, {"run_name": "x"}))
    assert run.model._target_ == "geobench_example_model.nets:plain_cnn" and run.model.kwargs == {"width": 16}
    enc = build_encoder(run.model, dataset_modalities=S2, image_size=32)  # a ModelConfig is a request
    assert enc.spec.key == "tinygeo_plain" and enc.channels == [16, 32, 64, 128]
    assert [m.source for m in enc.plan.matches["optical"]] == ["s2/B04", "s2/B03", "s2/B02", "s2/B08"]


# ---- door 3: by package ------------------------------------------------------------------------


def test_entry_points_are_models(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hydra import compose, initialize_config_dir

    from geobench.models.__main__ import main

    _entry_points(monkeypatch, tinygeo_cnn="geobench_example_model:tiny_cnn",
                  tinygeo_vit="geobench_example_model:tiny_vit", broken="geobench_example_model:nope")
    spec = get_spec("tinygeo_cnn")
    assert spec.family == "plugin" and spec.display_name == "TinyGeo CNN (example)"
    assert [b.name for b in spec.input_bands["optical"]][:3] == ["B02", "B03", "B04"]
    vit = build_encoder("tinygeo_vit", dataset_modalities=S2, image_size=32)
    assert vit.spec.patch_size == 8 and [tuple(f.shape) for f in _features(vit, 30)] == [(2, 96, 4, 4)] * 4
    with pytest.raises(ModelError, match="cannot import it"):
        get_spec("broken")
    with pytest.raises(UnknownNameError, match="tinygeo_cnn"):
        get_spec("tinygeo_cn")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        assert compose(config_name="config", overrides=["model=tinygeo_vit"]).model.key == "tinygeo_vit"
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("tinygeo_cnn"))
    assert "TinyGeo CNN (example)" in line and "(geobench_example_model:tiny_cnn)" in line
    assert "broken" in out and "error: model 'broken'" in out


def test_entry_point_names_may_not_shadow_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, resnet50="geobench_example_model:tiny_cnn")
    assert get_spec("resnet50").family == "timm"  # the catalogue wins; the listing says why
    from geobench.models.__main__ import list_table

    assert "taken by geobench's registry" in list_table()


def test_model_entry_declares_facts_not_torch() -> None:
    code = (f"import sys; sys.path.insert(0, {str(EXAMPLE)!r})\n"
            "import geobench_example_model as m\n"
            "e = m.tiny_cnn(); assert e.display_name and e.bands\n"
            "assert 'torch' not in sys.modules, 'listing an entry imported torch'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert ModelEntry(build=measured_factory).to_spec("k", family="plugin", source="s").takes_dataset_bands


# ---- check -----------------------------------------------------------------------------------


def test_check_reports_plan_shapes_params_and_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    from geobench.models.__main__ import main

    assert main(["check", "timm:resnet18", "--bands", "B04,B03,B02,B08"]) == 0
    out = capsys.readouterr().out
    assert "timm-resnet18: ok" in out and "backbone params 11,179,648" in out
    assert "0: B04 <- s2/B04 (name, 0 nm)" in out and "unused: s2/B01" in out
    assert "features [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4), (2, 512, 2, 2)]" in out
    assert "images/s (encoder forward, batch 8" in out
    for line in ("classification (2, 3)", "segmentation (2, 3, 64, 64)", "regression (2, 64, 64)",
                 "detection 2 images x {boxes,labels,scores}"):
        assert line in out


def test_check_of_a_broken_factory_is_one_line_and_status_one() -> None:
    proc = subprocess.run([sys.executable, "-m", "geobench.models", "check", "test_custom_models:raising_factory"],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip() == ("raising_factory: FAIL: raising_factory: the factory raising_factory "
                                   "raised ValueError: weights file missing")
    assert "Traceback" not in proc.stderr and "1 of 1 failed" in proc.stderr


class _Lying(nn.Module):
    """Declares stride 2 but downsamples by 4."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, 4)

    def forward(self, x: Tensor) -> list[Tensor]:
        return [self.conv(x)]


def lying_factory(bands: tuple[BandSpec, ...]) -> nn.Module:
    from geobench.models import UserEncoder

    class Lying(UserEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.input_bands = ("red", "green", "blue")
            self.channels, self.reductions = [8], [2]
            self.inner = _Lying()

        def forward(self, x: Tensor) -> list[Tensor]:
            return self.inner(x)

    return Lying()


def test_check_names_a_level_that_breaks_its_declaration() -> None:
    from geobench.models.checking import check_model

    report = check_model(ModelRequest("lying", target=f"{__name__}:lying_factory"), tasks=False)
    assert not report.ok
    assert report.problems == ["level 0: shape (2, 8, 16, 16) != (2, 8, 32, 32) (declared channels 8, reduction 2)"]
    assert "0: red <- s2/B04 (wavelength, 0 nm)" in report.text()  # its own declared bands


def test_weights_path_loads_the_backbones_state_dict(tmp_path: Path) -> None:
    req = ModelRequest("timm:resnet18", bands=("B04", "B03", "B02", "B08"))
    torch.manual_seed(1)
    first = build_encoder(req, dataset_modalities=S2, image_size=32)
    torch.save(first.backbone.state_dict(), tmp_path / "w.pt")
    torch.manual_seed(2)
    second = build_encoder(req, dataset_modalities=S2, image_size=32, weights_path=str(tmp_path / "w.pt"))
    x = {"s2": torch.randn(1, 6, 32, 32)}
    first.eval(), second.eval()
    assert torch.equal(first(x)[-1], second(x)[-1])
    other = ModelRequest("timm:resnet18")  # three bands: the first conv does not fit
    with pytest.raises(ModelError, match="conv1.weight"):
        build_encoder(other, dataset_modalities=S2, image_size=32, weights_path=str(tmp_path / "w.pt"))
