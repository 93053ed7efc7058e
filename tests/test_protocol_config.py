"""The typed run configuration and the protocol presets: what `--cfg job` shows is what the code
runs; `dataset=` alone gets the published protocol; per-dataset and per-model settings resolve as
the published runs did; the protocol hash sees every setting."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from geobench.config import RunConfig, register, to_run_config
from geobench.errors import ConfigError
from geobench.paths import CONF_DIR
from geobench.protocol import dataset_settings, load_preset, official_settings
from geobench.sweep.plan import make_plan
from geobench.sweep.trainer import task_spec, train_config

register()


def _compose(*overrides: str) -> RunConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=list(overrides))
    cfg = OmegaConf.merge(cfg, {"run_name": cfg.get("run_name")})  # resolve before hydra is gone
    return to_run_config(cfg)


def test_default_is_smoke_and_dataset_alone_gets_the_published_protocol() -> None:
    smoke = _compose()
    assert smoke.capability.name == "smoke" and smoke.protocol.name == "smoke" and smoke.synthetic
    assert smoke.datasets == ["so2sat", "burn_scars", "biomassters"] and smoke.num_workers == 0
    one = _compose("dataset=benv2")
    assert one.protocol.name == "geobench2" and one.capability.name is None and not one.synthetic
    assert one.datasets == ["benv2"] and one.num_workers is None
    assert one.protocol == load_preset("geobench2")  # the Hydra path and the preset loader agree
    core = _compose("capability=core")
    assert core.protocol.name == "geobench2" and len(core.datasets) == 12
    synth = _compose("capability=smoke", "dataset=so2sat")
    assert synth.protocol.name == "smoke" and synth.synthetic and synth.datasets == ["so2sat"]
    assert _compose("capability=smoke", "protocol=geobench2").protocol.name == "geobench2"
    fast = _compose("dataset=benv2", "protocol=fast")
    assert fast.protocol.pruner == "median" and fast.protocol.n_trials == 8


def test_typos_and_bad_values_fail_at_compose_time() -> None:
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        _compose("protocol.n_trial=3")
    with pytest.raises(ConfigError, match=r"protocol.pruner='sometimes'"):
        _compose("protocol.pruner=sometimes")
    with pytest.raises(ConfigError, match="protocol.image_size='big'"):
        _compose("protocol.image_size=big")
    with pytest.raises(ConfigError, match="protocol.seeds"):
        _compose("protocol.seeds=[1,1]")


@pytest.mark.parametrize("overrides", [
    ("dataset=everwatch", "model=prithvi_eo_v2_600_tl"),
    ("dataset=pastis", "protocol.time_steps=4", "protocol.monitor=val_metric", "protocol.augment=none"),
    ("capability=smoke", "dataset=biomassters", "protocol.max_epochs=3", "protocol.eval_batch_size=16"),
    ("dataset=benv2", "model=terramind_v1_base", "protocol.image_size=native", "protocol.drop_last=false"),
])
def test_cfg_job_and_the_objects_reaching_train_unit_agree(overrides: tuple[str, ...]) -> None:
    out = subprocess.run([sys.executable, "-m", "geobench.run", *overrides, "--cfg", "job", "--resolve"],
                         capture_output=True, text=True, timeout=120, check=True)
    shown = yaml.safe_load(out.stdout)
    run = _compose(*overrides)
    assert OmegaConf.to_container(OmegaConf.structured(run), resolve=True) == shown
    ds = run.datasets[0]
    settings = make_plan(run, ds).settings
    proto = shown["protocol"]
    for key in ("lr_low", "lr_high", "weight_decay", "max_epochs", "lr_factor", "lr_patience", "finetune",
                "temporal", "normalization", "drop_last", "pruner", "hpo_seed", "sampler_seed"):
        assert getattr(settings, key) == proto[key], key
    for key in ("image_size", "eval_batch_size"):
        if str(proto[key]).isdigit():
            assert getattr(settings, key) == int(proto[key])
    if str(proto["time_steps"]).isdigit():
        assert settings.time_steps.count == int(proto["time_steps"])
    cfg = train_config(run, make_plan(run, ds), lr=1e-4, batch_size=8, seed=205)
    assert (cfg.max_epochs, cfg.weight_decay, cfg.lr_factor, cfg.lr_patience) == (
        proto["max_epochs"], proto["weight_decay"], proto["lr_factor"], proto["lr_patience"])
    assert cfg.drop_last == proto["drop_last"] and cfg.eval_batch_size == settings.eval_batch_size
    assert cfg.flips == settings.flips and cfg.monitor == settings.monitor
    assert cfg.early_stop_patience == settings.early_stop_patience
    spec = task_spec(make_plan(run, ds))
    assert spec.temporal_pooling == proto["temporal"]


def test_published_per_dataset_and_per_model_settings() -> None:
    ever = official_settings("everwatch", "prithvi_eo_v2_600_tl")
    assert ever.image_size == 504 and ever.batch_sizes == (4,) and ever.n_trials == 10
    assert ever.early_stop_patience is None and ever.monitor == "val_metric"
    assert official_settings("everwatch", "resnet50").batch_sizes == (8,)
    assert official_settings("substation", "convnext_xlarge_fb_in22k").batch_sizes == (4,)
    seg = official_settings("burn_scars", "resnet50")
    assert seg.monitor == "val_loss" and seg.early_stop_patience == 10 and seg.pruner == "none"
    assert seg.batch_sizes == (8, 16, 32) and seg.n_trials == 16 and seg.hpo_seed == 42 and seg.flips
    tm = official_settings("benv2", "terramind_v1_base")
    assert tm.modalities == ("s2", "s1") and official_settings("benv2", "resnet50").modalities is None
    tm_sub = official_settings("substation", "terramind_v1_large")
    assert tm_sub.bands == {"image": ("B04", "B03", "B02")} and tm_sub.model_inputs == {"image": "RGB"}
    assert not official_settings("pastis_r", "resnet50").flips
    assert official_settings("so2sat", "resnet50").time_steps.rule == "all"  # single-date


def test_every_setting_changes_the_protocol_hash() -> None:
    base = load_preset("geobench2")
    ref = dataset_settings(base, "pastis", "resnet50")
    changes = {"n_trials": 8, "lr_low": 1e-5, "batch_sizes": [16], "pruner": "median", "hpo_seed": 1,
               "max_epochs": 20, "monitor": "val_metric", "early_stop_patience": 5, "lr_patience": 3,
               "drop_last": False, "eval_batch_size": "32", "seeds": [1, 2], "zero_score_redraws": 0, "finetune": "frozen",
               "image_size": "64", "time_steps": "all", "temporal": "concat", "augment": "none",
               "normalization": "train_stats", "weight_decay": 0.05}
    for key, value in changes.items():
        other = dataset_settings(dataclasses.replace(base, **{key: value}), "pastis", "resnet50")
        assert other.hash() != ref.hash(), key
        assert other.deviations_from(ref), key
    assert dataset_settings(base, "pastis", "resnet50").hash() == ref.hash()
    assert dataset_settings(base, "pastis", "resnet50", model_modalities=["s1a"]).hash() != ref.hash()


def test_unknown_modality_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="modalities"):
        dataset_settings(load_preset("geobench2"), "benv2", "resnet50", model_modalities=["s3"])


def test_presets_are_complete_yaml() -> None:
    for path in sorted((CONF_DIR / "protocol").glob("*.yaml")):
        preset = load_preset(path.stem)
        assert preset.name == path.stem
        assert Path(path).read_text().startswith("#")


def test_docs_protocol_table_covers_every_setting() -> None:
    """docs/protocol.md keeps one row per preset key, per manifest protocol field, per rule."""
    from geobench.config import ProtocolConfig
    from geobench.manifest import DatasetProtocol
    from geobench.paths import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    sections = text.split("\n## ")
    settings = next(s for s in sections if s.startswith("Protocol settings"))
    rules = next(s for s in sections if s.startswith("Per-(model, dataset) rules"))
    per_dataset = next(s for s in sections if s.startswith("Per-dataset facts"))
    for f in dataclasses.fields(ProtocolConfig):
        if f.name != "name":
            assert f"`protocol.{f.name}`" in settings, f"docs/protocol.md lacks protocol.{f.name}"
    for f in dataclasses.fields(DatasetProtocol):
        if f.name != "source":
            assert f"`protocol.{f.name}`" in per_dataset, f"docs/protocol.md lacks manifest protocol.{f.name}"
    rows = [line for line in rules.splitlines() if line.startswith("| ") and not line.startswith("| rule")]
    assert len(rows) == len(load_preset("geobench2").model_rules)
    for line in settings.splitlines()[4:]:
        if line.startswith("| ") and "`protocol." in line:
            status = line.rstrip(" |").rsplit("|", 1)[-1].strip()
            assert status.split()[0].rstrip(":(") in ("exact", "assumption", "unpublished", "difference",
                                                      "see", "—"), line


@pytest.mark.slow
def test_terramind_on_substation_reads_red_green_blue_through_its_rgb_tokenizer() -> None:
    import torch

    from geobench.sweep.plan import DatasetPlan
    from geobench.sweep.trainer import dataset_modalities
    from geobench.train.task_model import build_task_model

    s = official_settings("substation", "terramind_v1_base")
    plan = DatasetPlan(s, "h", "study")
    mods = dataset_modalities(plan)
    assert [b.name for b in mods["image"].bands] == ["B04", "B03", "B02"]
    model = build_task_model("terramind_v1_base", task_spec(plan), dataset_modalities=mods,
                             model_inputs=s.model_inputs).eval()
    assert list(model.encoder.plan.sources) == ["RGB"]  # type: ignore[union-attr]
    assert [src.index for src in model.encoder.plan.sources["RGB"]] == [0, 1, 2]  # type: ignore[union-attr]
    assert list(model.encoder.backbone.encoder_embeddings) == ["untok_sen2rgb@224"]  # type: ignore[union-attr]
    out = model.predict({"inputs": {"image": torch.randn(1, 3, 224, 224)}})  # type: ignore[operator]
    assert out[0]["boxes"].shape[1] == 4
