"""Registry-driven checks of every model: builds offline, features of the declared shapes, stored
parameter counts, band plans, published-checkpoint conversion.

Each model is built once (module-scoped, parametrised fixture: pytest runs all tests of one model,
then frees it before building the next), with random weights, on small inputs.
"""

from __future__ import annotations

import importlib
import math
import subprocess
import sys

import pytest
import torch

from geobench.errors import ModelError, UnknownNameError
from geobench.manifest import Band
from geobench.models import band_sets as bs
from geobench.models.encoder import count_params, equally_spaced
from geobench.models.registry import _FAMILY_MODULES, aliases, build_encoder, get_spec, list_models
from geobench.models.spec import ALL_TASKS

# Clay's wavelength transformer (a torch.nn.TransformerEncoder) warns about nested tensors.
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")

S2 = [Band(n, bs.S2_NM[n], 10.0) for n in
      ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")]
S1 = [Band("VV", None, 10.0), Band("VH", None, 10.0)]
DATASET = {"s2": S2, "s1": S1}
BATCH = 2


def _side(key: str) -> int:
    patch = get_spec(key).patch_size
    return 2 * patch if patch else 32


class Built:
    def __init__(self, key: str) -> None:
        torch.manual_seed(0)
        spec = get_spec(key)
        self.spec = spec
        self.side = _side(key)
        mods = ["s2", "s1"] if spec.multi_modal else None
        self.encoder = build_encoder(key, dataset_modalities=DATASET, modalities=mods,
                                     image_size=self.side).eval()
        g = torch.Generator().manual_seed(1)
        self.inputs = {m: torch.randn(BATCH, len(b), self.side, self.side, generator=g)
                       for m, b in DATASET.items()}
        with torch.no_grad():
            self.features = self.encoder(self.inputs)


# Building the 14 real backbones takes minutes: they are slow tests; the smoke model stays quick.
@pytest.fixture(scope="module", params=[k if k == "smoke" else pytest.param(k, marks=pytest.mark.slow)
                                        for k in list_models()])
def built(request: pytest.FixtureRequest) -> Built:
    return Built(request.param)


# ---- registry (no build) --------------------------------------------------------------------


OFFICIAL = ("resnet50", "convnext_large_fb_in22k", "convnext_xlarge_fb_in22k", "dinov3_vitl16",
            "dinov3_convnext_large", "ssl4eos12_resnet50_sentinel2_all_decur",
            "dofa_large_patch16_224", "clay_v1_base", "satlas_swin_b_sentinel2_si_ms",
            "satlas_swin_b_naip_si_rgb", "prithvi_eo_v2_300_tl", "prithvi_eo_v2_600_tl",
            "terramind_v1_base", "terramind_v1_large")


def test_registry_holds_the_official_keys_and_a_smoke_model() -> None:
    assert set(list_models()) == set(OFFICIAL) | {"smoke"}
    assert list_models("prithvi*") == ["prithvi_eo_v2_300_tl", "prithvi_eo_v2_600_tl"]
    assert list_models("nothing*") == []


def test_unknown_key_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'prithvi_eo_v2_300_tl'"):
        get_spec("prithvi_eo_v2_300")
    with pytest.raises(UnknownNameError, match="unknown model 'resnet5'"):
        build_encoder("resnet5", dataset_modalities=DATASET)


def test_aliases_resolve_to_registry_keys() -> None:
    assert get_spec("prithvi").key == "prithvi_eo_v2_300_tl"
    for alias, key in aliases().items():
        assert get_spec(alias).key == key and alias not in list_models()


@pytest.mark.parametrize("key", list_models())
def test_spec_facts_are_consistent(key: str) -> None:
    s = get_spec(key)
    assert len(s.out_indices) == 4 and list(s.out_indices) == sorted(set(s.out_indices))
    assert set(s.task_types) <= set(ALL_TASKS) and s.task_types
    assert s.backbone_params > 0 and s.license and s.display_name
    assert s.family in _FAMILY_MODULES
    if s.takes_dataset_bands:
        assert s.input_bands == {}
    else:
        assert all(s.input_bands.values())
    for mm, norm in s.normalization.items():
        assert len(norm.mean) == len(norm.std) == len(s.input_bands[mm])
    if s.weights is not None and s.weights.sha256 is not None:
        assert all(c in "0123456789abcdef" for c in s.weights.sha256)
        assert s.weights.sha256 in s.weights.filename  # torchgeo's name-<sha256 prefix>.pth


@pytest.mark.parametrize("key", [k for k in list_models() if get_spec(k).family == "timm"])
def test_timm_specs_match_timm_pretrained_configs(key: str) -> None:
    import timm

    spec = get_spec(key)
    cfg = timm.models.get_pretrained_cfg(spec.architecture)
    assert cfg is not None and cfg.hf_hub_id == spec.weights.repo_id  # type: ignore[union-attr]
    norm = spec.normalization["optical"]
    assert tuple(cfg.mean) == pytest.approx(norm.mean, abs=1e-3)
    assert tuple(cfg.std) == pytest.approx(norm.std, abs=1e-3)


def test_equally_spaced_blocks() -> None:
    assert equally_spaced(24) == (5, 11, 17, 23)
    assert equally_spaced(12) == (2, 5, 8, 11)
    assert equally_spaced(32) == (7, 15, 23, 31)
    for key in list_models():
        s = get_spec(key)
        if s.is_vit:
            assert s.out_indices == equally_spaced(s.out_indices[-1] + 1)


def test_registry_import_does_not_import_torch() -> None:
    code = ("import sys, geobench.models, geobench.models.registry as r; r.get_spec('prithvi'); "
            "assert 'torch' not in sys.modules and 'timm' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- every model, built once ------------------------------------------------------------------


def test_features_have_declared_channels_and_strides(built: Built) -> None:
    enc, feats = built.encoder, built.features
    n = len(built.spec.out_indices)
    assert len(feats) == len(enc.channels) == len(enc.reductions) == n
    for f, c, r in zip(feats, enc.channels, enc.reductions, strict=True):
        side = math.ceil(built.side / r)
        assert tuple(f.shape) == (BATCH, c, side, side)
        assert f.dtype == torch.float32
        assert torch.isfinite(f).all()
    if built.spec.is_vit:
        assert enc.reductions == [built.spec.patch_size] * n
    else:
        assert enc.reductions == [4, 8, 16, 32]


def test_samples_of_a_batch_stay_independent(built: Built) -> None:
    with torch.no_grad():
        single = built.encoder({m: x[:1] for m, x in built.inputs.items()})
    for a, b in zip(single, built.features, strict=True):
        torch.testing.assert_close(a[0], b[0], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(built.features[-1][0], built.features[-1][1])


def test_backbone_parameter_count_matches_the_spec(built: Built) -> None:
    assert count_params(built.encoder.backbone) == built.spec.backbone_params


def test_band_plan_matches_input_channels(built: Built) -> None:
    enc, spec = built.encoder, built.spec
    assert set(enc.band_plan) == set(enc.model_modalities)
    for mm, plan in enc.band_plan.items():
        if not spec.takes_dataset_bands:
            assert [m.target for m in plan] == [b.name for b in spec.input_bands[mm]]
        assert len(plan) == enc.plan.in_chans(mm)
    assert enc.required_modalities == (["s2", "s1"] if spec.multi_modal else ["s2"])


def test_wrong_band_count_is_a_clear_error(built: Built) -> None:
    bad = dict(built.inputs)
    bad["s2"] = bad["s2"][:, :5]
    with pytest.raises(ModelError, match=r"modality 's2' must be \(B, 12, H, W\)"):
        built.encoder(bad)
    with pytest.raises(ModelError, match="input modality 's2' is missing"):
        built.encoder({"s1": built.inputs["s1"]})


def _published_format(spec_key: str, own: dict[str, torch.Tensor]) -> dict:
    """The same weights in the layout the publisher's checkpoint has (extra heads/decoders)."""
    spec = get_spec(spec_key)
    extra = {"decoder_pred.weight": torch.zeros(2, 2)}
    if spec.family == "timm" or spec.key.startswith("ssl4eo"):
        return {**own, "fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)}
    if spec.key.startswith("dofa"):
        return {**own, "head.weight": torch.zeros(45, 8)}
    if spec.key.startswith("satlas"):
        return {"state_dict": {**own, "norm.weight": torch.ones(4), "head.weight": torch.zeros(2, 4)}}
    if spec.key.startswith("prithvi"):
        return {"encoder." + k: v for k, v in own.items()} | {"decoder." + k: v for k, v in extra.items()}
    if spec.key.startswith("terramind"):
        return {**own, "decoder_embeddings.untok_sen2l2a@224.proj.weight": torch.zeros(3, 3)}
    if spec.key.startswith("clay"):
        return {"state_dict": {"model.encoder." + k.removeprefix("clay_encoder."): v
                               for k, v in own.items()} | {"model.decoder.x": torch.zeros(1)},
                "epoch": 10}
    return {}


def test_published_checkpoint_format_converts_to_backbone_keys(built: Built) -> None:
    family = importlib.import_module(f"geobench.models.{_FAMILY_MODULES[built.spec.family]}")
    own = built.encoder.backbone.state_dict()
    converted = family.convert_checkpoint(built.encoder, _published_format(built.spec.key, own))
    if built.spec.weights is None:  # no published format: nothing to convert
        assert converted is None
        return
    assert converted is not None and set(converted) == set(own)
    for k, v in own.items():
        if not k.endswith("pos_embed"):  # Prithvi's fixed sin-cos table is regenerated
            assert torch.equal(converted[k], v), k
