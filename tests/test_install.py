"""The installed command and an installed wheel: `geobench <stage>` is `python -m geobench.<stage>`,
and a wheel built from the repository runs the smoke benchmark from anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from geobench.__main__ import STAGES, main

REPO = Path(__file__).resolve().parents[1]


def test_geobench_command_dispatches_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0 and "stages: run, download" in capsys.readouterr().out
    assert main(["modles"]) == 2 and "Did you mean 'models'" in capsys.readouterr().err
    assert main(["models"]) == 0 and "prithvi_eo_v2_300_tl" in capsys.readouterr().out
    for stage in STAGES:
        if stage != "run":
            module = __import__(STAGES[stage], fromlist=["main"])
            assert callable(module.main), stage


def test_run_through_the_command_equals_python_m(tmp_path: Path) -> None:
    args = ["dataset=benv2", "model=resnet50", "--cfg", "job"]
    a = subprocess.run([sys.executable, "-m", "geobench", "run", *args], capture_output=True, text=True,
                       timeout=120, check=True, cwd=tmp_path)
    b = subprocess.run([sys.executable, "-m", "geobench.run", *args], capture_output=True, text=True,
                       timeout=120, check=True, cwd=tmp_path)
    assert a.stdout == b.stdout and "name: geobench2" in a.stdout


@pytest.mark.slow
def test_wheel_runs_the_smoke_benchmark_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    """Build the wheel, install it (no dependencies: they come from this environment) into a new
    virtual environment, and run a short smoke benchmark from an empty folder."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(REPO)], check=True, timeout=600, capture_output=True)
    wheel = next(dist.glob("geobench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("geobench/conf/config.yaml", "geobench/conf/protocol/geobench2.yaml",
                   "geobench/datasets_manifest/benv2.yaml", "geobench/aggregate/normalizers/geobench2-official.json",
                   "geobench/__main__.py"):
        assert needed in names, needed
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(py), "-c", "import geobench; print(geobench.__file__)"], cwd=work,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), where  # the wheel, not the repository
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([str(venv / "bin" / "geobench"), "run", "capability=smoke", "protocol.max_epochs=1",
                           "protocol.n_trials=1", "protocol.seeds=[205]", "progress=log", "data_root=data",
                           "hydra.run.dir=run"], cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((work / "run" / "results").glob("*.json"))) == 6  # 3 datasets x (1 trial + 1 seed)
    assert (work / "run" / "leaderboard" / "index.html").is_file()
    shutil.rmtree(venv)
