"""``python -m geobench.models`` and the ``conf/model`` config group."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from geobench.models.__main__ import main
from geobench.models.registry import aliases, get_spec, list_models

CONF = Path(__file__).resolve().parents[1] / "conf" / "model"


def test_help_and_listing_import_no_torch() -> None:
    code = ("import sys, contextlib, io\n"
            "from geobench.models.__main__ import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['list']) == 0\n"
            "    try:\n"
            "        main(['--help'])\n"
            "    except SystemExit as e:\n"
            "        assert e.code == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_listing_shows_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for key in list_models():
        line = next(x for x in out.splitlines() if x.startswith(key + " "))
        assert get_spec(key).family in line
    assert "303.9M" in out  # prithvi_eo_v2_300_tl's backbone
    assert "optical: B04,B03,B02,B05,B06,B07,B08,B11,B12" in out
    assert "prithvi -> prithvi_eo_v2_300_tl" in out


def test_check_builds_runs_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "smoke: ok" in out and "backbone params 352,800" in out
    assert "(2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 4, 4), (2, 128, 2, 2)" in out
    # one forward pass per task type through the protocol's heads
    assert "classification (2, 3)" in out and "segmentation (2, 3, 64, 64)" in out
    assert "regression (2, 64, 64)" in out
    assert "instance_segmentation 2 images x {boxes,labels,masks,scores}" in out
    assert "all 1 ok" in out


def test_check_fails_with_status_one(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    from geobench.models import catalog, registry

    wrong = dataclasses.replace(get_spec("smoke"), backbone_params=1)
    monkeypatch.setitem(registry._BY_KEY, "smoke", wrong)
    assert catalog  # the stored count differs from the built one: the check must say so
    assert main(["check", "--features-only", "smoke"]) == 1
    captured = capsys.readouterr()
    assert "FAIL: backbone params 352,800 != stored 1" in captured.out
    assert "1 of 1 failed: smoke" in captured.err


def test_unknown_key_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "resnet5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'resnet5'") and "Traceback" not in err


def test_plan_command_shows_the_band_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "prithvi", "aerial=red,green,blue,nir"]) == 0
    out = capsys.readouterr().out
    assert "RED <- aerial/red (name" in out and "SWIR_1 <- zeros" in out


# ---- conf/model ----------------------------------------------------------------------------------


def test_model_group_options_come_from_the_catalogue() -> None:
    """No model is listed twice: the group's options are made from the catalogue, not files."""
    from hydra.core.config_store import ConfigStore

    from geobench.config import register

    register()
    names = {n.removesuffix(".yaml") for n in ConfigStore.instance().list("model")}
    assert names == set(list_models()) | set(aliases())
    assert not list(CONF.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(set(list_models()) | set(aliases())))
def test_config_composes_to_the_registry_key(name: str) -> None:
    from hydra import compose, initialize_config_dir

    from geobench.config import register

    register()
    with initialize_config_dir(config_dir=str(CONF.parent), version_base=None):
        cfg = compose(config_name="config", overrides=[f"model={name}"]).model
    key = get_spec(name).key
    assert cfg.key == key
    assert cfg.pretrained is (get_spec(key).weights is not None)
    assert cfg.modalities is None and cfg.weights_path is None
