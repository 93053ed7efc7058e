"""Each door for a new model, end to end through ``capability=smoke`` on a tiny budget: by name
(``model=timm:resnet18``), by config (a model YAML in the user's config directory), by package (the
example package installed into a throw-away virtualenv), the last one on to submit --protocol
smoke, validate --protocol smoke and the leaderboard page."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "custom_model"
TINY = ["capability=smoke", "protocol.n_trials=1", "protocol.seeds=[205]", "protocol.max_epochs=1",
        "progress=log"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("smoke_data")  # synthetic data, written by the first run


def _run(python: str, overrides: list[str], run_dir: Path, data: Path, *, cwd: Path,
         pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("GEOBENCH_DATA_ROOT", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run([python, "-m", "geobench.run", *overrides, *TINY, f"hydra.run.dir={run_dir}",
                           f"data_root={data}"], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _rows(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "results").glob("*.json"))]


def test_a_timm_model_by_name(tmp_path: Path, data_root: Path) -> None:
    run = tmp_path / "run"
    _run(sys.executable, ["model=timm:resnet18", "model.pretrained=false", "model.bands=[B04,B03,B02,B08]",
                          "leaderboard=false"], run, data_root, cwd=tmp_path)
    rows = _rows(run)
    assert len(rows) == 6 and {r["backbone"] for r in rows} == {"timm-resnet18"}
    assert {r["protocol"] for r in rows} == {"smoke"}
    info = json.loads((run / "model_info.json").read_text())["timm-resnet18"]
    assert info["parameters"] == 11_179_648 and info["layers"] == [1, 2, 3, 4] and info["patch_size"] is None
    assert info["bands"] == ["B04 (664.6 nm)", "B03 (559.8 nm)", "B02 (492.7 nm)", "B08 (832.8 nm)"]


def test_a_model_yaml_in_the_users_config_dir(tmp_path: Path, data_root: Path) -> None:
    run = tmp_path / "run"
    _run(sys.executable, ["--config-dir", str(EXAMPLE / "conf"), "model=tinygeo_plain", "leaderboard=false"],
         run, data_root, cwd=tmp_path, pythonpath=str(EXAMPLE))
    rows = _rows(run)
    assert len(rows) == 6 and {r["backbone"] for r in rows} == {"tinygeo_plain"}
    info = json.loads((run / "model_info.json").read_text())["tinygeo_plain"]
    assert info["family"] == "config" and info["levels"]["channels"] == [16, 32, 64, 128]
    assert "geobench_example_model.nets:plain_cnn" in info["source"]


def test_an_installed_package_from_run_to_leaderboard(tmp_path: Path, data_root: Path) -> None:
    """Install the example package into a virtualenv (--system-site-packages: geobench and torch
    come from this environment; without pip of its own, so this environment's setuptools builds
    it), then: list, run, submit --protocol smoke, validate --protocol smoke, leaderboard."""
    venv, package = tmp_path / "venv", tmp_path / "custom_model"
    shutil.copytree(EXAMPLE, package)  # the build writes next to the sources: keep the repo clean
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=300)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(package)],
                   check=True, timeout=600, capture_output=True)
    listing = subprocess.run([py, "-m", "geobench.models"], capture_output=True, text=True, check=True,
                             timeout=300).stdout
    line = next(x for x in listing.splitlines() if x.strip().startswith("tinygeo_cnn"))
    assert "geobench-example-model 0.1.0 (geobench_example_model:tiny_cnn)" in line
    run, subs, board = tmp_path / "run", tmp_path / "subs", tmp_path / "board"
    _run(py, ["model=tinygeo_cnn", "leaderboard=false"], run, data_root, cwd=tmp_path)
    assert {r["backbone"] for r in _rows(run)} == {"tinygeo_cnn"}
    for args in (["geobench.submit", str(run), "--out", str(subs), "--id", "trial", "--protocol", "smoke"],
                 ["geobench.validate", str(subs / "trial"), "--protocol", "smoke"],
                 ["geobench.leaderboard", str(subs / "trial"), "--out", str(board), "--name", "trial"]):
        done = subprocess.run([py, "-m", *args], capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, (args[0], done.stdout[-2000:], done.stderr[-2000:])
    model = json.loads((subs / "trial" / "geobench.json").read_text())["models"][0]
    assert model["display_name"] == "TinyGeo CNN (example)" and model["parameters"] == 1_104_864
    assert model["bands"][0] == "B02 (492.7 nm)" and model["source"].startswith("geobench-example-model")
    assert "TinyGeo CNN (example)" in (board / "index.html").read_text(encoding="utf-8")
    # the package went into the virtualenv only
    assert not list(importlib.metadata.entry_points(group="geobench.models"))
    assert not list(EXAMPLE.glob("*.egg-info"))
