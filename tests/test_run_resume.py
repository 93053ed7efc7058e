"""The sweep runner end to end: kill (SIGKILL) at chosen moments and resume; rows equal an
uninterrupted run's. Runs the real smoke model on synthetic data in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geobench.prepare import prepare_dataset
from geobench.results_store import read_rows
from geobench.synthetic import write_synthetic

pytestmark = pytest.mark.slow

DATASET = "so2sat"
BASE = ["model=smoke", f"dataset={DATASET}", "protocol.n_trials=3", "protocol.seeds=[205,913]",
        "protocol.max_epochs=2", "protocol.early_stop_patience=2", "protocol.pruner=none",
        "protocol.image_size=16", "leaderboard=false", "progress=log", "num_workers=0",
        "storage.heartbeat_interval=1", "storage.grace_period=3"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_synthetic(DATASET, root, samples={"train": 24, "validation": 8, "test": 8}, image_size=16)
    prepare_dataset(DATASET, root, progress=False)
    return root


def _cmd(run_dir: Path, data_root: Path, extra: list[str] = ()) -> list[str]:
    return [sys.executable, "-m", "geobench.run", *BASE, f"data_root={data_root}", f"hydra.run.dir={run_dir}", *extra]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def _keys(run_dir: Path) -> set[tuple]:
    df = read_rows(run_dir)
    return {(r.dataset, r.phase, int(r.trial) if r.phase == "hpo" else int(r.Seed)) for r in df.itertuples()}


def _run_until(cmd: list[str], env: dict[str, str], run_dir: Path, condition, timeout: float = 240) -> bool:
    """Start the command; SIGKILL it as soon as ``condition(run_dir)`` holds. True if killed."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if condition(run_dir):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.05)
        raise AssertionError("the run neither finished nor reached the kill point in time")
    finally:
        if proc.poll() is None:
            proc.kill()


def _log(run_dir: Path) -> str:
    p = run_dir / "run.log"
    return p.read_text() if p.exists() else ""


def test_kill_and_resume_equals_uninterrupted(data_root: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    done = subprocess.run(_cmd(ref, data_root), env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = _keys(ref)
    assert expected == {(DATASET, "hpo", t) for t in range(3)} | {(DATASET, "repeat", s) for s in (205, 913)}

    run = tmp_path / "killed"
    kill_points = [
        # inside the second HPO trial (it has begun, not ended)
        lambda d: _log(d).count("| trial ") >= 2 and _log(d).count("-> val") == 1,
        # between trials: right after a trial's row and end line
        lambda d: _log(d).count("-> val") >= 2,
        # inside a seed run
        lambda d: "| seed " in _log(d) and "-> test" not in _log(d),
    ]
    kills = 0
    for point in kill_points:
        kills += _run_until(_cmd(run, data_root), _env(), run, point)
    # while a row is being written: the row's temp file exists, the rename has not happened
    kills += _run_until(_cmd(run, data_root), _env(GEOBENCH_DEBUG_ROW_PAUSE="3"), run,
                        lambda d: any((d / "results").glob(".*.tmp")))
    assert kills >= 3, "the run finished before the kill points were reached"
    final = subprocess.run(_cmd(run, data_root), env=_env(), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]
    assert _keys(run) == expected
    rows = list((run / "results").glob("*.json"))
    assert len(rows) == len(expected)  # no duplicates, nothing left half-written
    for p in rows:
        json.loads(p.read_text())
    assert not list((run / "results").glob(".*.tmp"))
    # a third run of the same command does no work
    again = subprocess.run(_cmd(run, data_root), env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and _keys(run) == expected
    assert len(list((run / "results").glob("*.json"))) == len(expected)


def test_results_cli_official_columns(data_root: Path, tmp_path: Path) -> None:
    from geobench.results import main as results_main
    from geobench.results_store import OFFICIAL_COLUMNS

    run = tmp_path / "r"
    done = subprocess.run(_cmd(run, data_root, ["protocol.n_trials=1", "protocol.seeds=[205]"]), env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "o.csv"
    assert results_main([str(run), "--out", str(out), "--format", "official"]) == 0
    import pandas as pd

    df = pd.read_csv(out)
    assert list(df.columns) == list(OFFICIAL_COLUMNS)
    assert len(df) == 1 and df["Seed"].tolist() == [205] and df["Metric"].tolist() == ["Overall_Accuracy"]
    assert 0.0 <= float(df["test metric"].iloc[0]) <= 1.0
    assert results_main([str(tmp_path / "nope")]) == 2
