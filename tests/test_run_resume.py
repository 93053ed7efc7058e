"""The sweep runner end to end: SIGKILL at every chosen moment and resume; the final rows equal an
uninterrupted run's value for value (parameters, metrics, epochs). Runs the real smoke model on
synthetic data in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from geobench.prepare import prepare_dataset
from geobench.results_store import iter_rows
from geobench.synthetic import write_synthetic

pytestmark = pytest.mark.slow

DATASET = "so2sat"
N_TRIALS = 4
BASE = ["model=smoke", f"dataset={DATASET}", "protocol=smoke", "prepare=false", f"protocol.n_trials={N_TRIALS}",
        "protocol.n_startup_trials=2", "protocol.seeds=[205,913]", "protocol.max_epochs=2",
        "protocol.early_stop_patience=2", "protocol.image_size=16", "leaderboard=false", "progress=log",
        "num_workers=0", "storage.heartbeat_interval=1", "storage.grace_period=3"]
# What must be identical between runs (timings and timestamps are not).
VALUE_COLUMNS = ("dataset", "phase", "trial", "Seed", "lr", "batch_size", "val_metric", "test metric",
                 "epochs", "run_id", "config_hash", "protocol", "protocol_hash", "backbone")

# A row held between its temp file and the rename, injected from the test side: the runner is
# started through this wrapper, which slows the results store's atomic rename down.
_SLOW_ROW_WRITES = (
    "import sys, time, geobench.fileio as f\n"
    "real = f.os.replace\n"
    "def slow(a, b, real=real):\n"
    "    if str(b).endswith('.json') and '/results/' in str(b):\n"
    "        time.sleep(3)\n"
    "    real(a, b)\n"
    "f.os = type('os', (), {'replace': staticmethod(slow), **{k: getattr(f.os, k) for k in dir(f.os) if not k.startswith('__') and k != 'replace'}})\n"
    "sys.argv = ['geobench.run'] + sys.argv[1:]\n"
    "from geobench.run import main\n"
    "main()\n"
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_synthetic(DATASET, root, samples={"train": 24, "validation": 8, "test": 8}, image_size=16)
    prepare_dataset(DATASET, root, progress=False)
    return root


def _cmd(run_dir: Path, data_root: Path, extra: list[str] | tuple[str, ...] = (), *,
         slow_rows: bool = False) -> list[str]:
    entry = ["-c", _SLOW_ROW_WRITES] if slow_rows else ["-m", "geobench.run"]
    return [sys.executable, *entry, *BASE, f"data_root={data_root}", f"hydra.run.dir={run_dir}", *extra]


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def _values(run_dir: Path) -> dict[tuple, dict]:
    out = {}
    for r in iter_rows(run_dir):
        # a seed run is keyed by its slot (in the run id): a zero score on this tiny data is redrawn
        key = (r["dataset"], r["phase"], r["trial"] if r["phase"] == "hpo" else int(r["run_id"].split("-")[2]))
        out[key] = {c: r[c] for c in VALUE_COLUMNS}
    return out


def _histories(run_dir: Path) -> dict[tuple[str, int], tuple]:
    """Each study's finished trial per key: what pruners and TPE read (state, value, parameters,
    the intermediate values reported epoch by epoch)."""
    import optuna

    url = f"sqlite:///{run_dir / 'optuna.db'}"
    out: dict[tuple[str, int], tuple] = {}
    for name in optuna.get_all_study_names(url):
        for t in optuna.load_study(study_name=name, storage=url).get_trials():
            if t.state.name in ("COMPLETE", "PRUNED"):
                kind = "repeat" if name.endswith(".repeat") else "hpo"
                entry = (t.state.name, t.value, t.params, sorted(t.intermediate_values.items()))
                assert out.setdefault((kind, int(t.user_attrs["key"])), entry) == entry
    return out


def _run_until(cmd: list[str], run_dir: Path, condition: Callable[[Path], bool], timeout: float = 300) -> bool:
    """Start the command; SIGKILL it as soon as ``condition(run_dir)`` holds. True if killed."""
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if condition(run_dir):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.02)
        raise AssertionError("the run neither finished nor reached the kill point in time")
    finally:
        if proc.poll() is None:
            proc.kill()


def _log(run_dir: Path) -> str:
    p = run_dir / "run.log"
    return p.read_text() if p.exists() else ""


def _rows(run_dir: Path) -> int:
    return len(list((run_dir / "results").glob("*.json"))) if (run_dir / "results").is_dir() else 0


def _discarded(run_dir: Path) -> int:
    return len(list((run_dir / "results" / "discarded").glob("*.json")))


def test_kill_at_every_point_and_resume_equals_uninterrupted(data_root: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    done = subprocess.run(_cmd(ref, data_root), env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = _values(ref)
    assert set(expected) == ({(DATASET, "hpo", t) for t in range(N_TRIALS)}
                             | {(DATASET, "repeat", s) for s in (205, 913)})

    redraws = "redrawn seed" in _log(ref)  # on this tiny data the first seed slot scores 0.0
    run = tmp_path / "killed"
    kill_points = {
        "inside the second HPO trial": (lambda d: _log(d).count("| trial ") >= 2 and _rows(d) == 1, False),
        "while an HPO row is written": (lambda d: _rows(d) == 2 and any((d / "results").glob(".*.tmp")), True),
        "between trials, right after a row": (lambda d: _rows(d) >= 3 and "-> val" in _log(d), False),
        "inside a seed run": (lambda d: "| seed " in _log(d) and _rows(d) == N_TRIALS, False),
        # the first seed slot's zero score was set aside and a redrawn seed is training
        "inside a redrawn seed run": (lambda d: _rows(d) == N_TRIALS and _discarded(d) >= 1
                                      and "redrawn seed" in _log(d).rstrip().rsplit("\n", 1)[-1], False),
        "while a seed row is written": (lambda d: _rows(d) == N_TRIALS + 1 and any((d / "results").glob(".*.tmp")),
                                        True),
    }
    if not redraws:
        del kill_points["inside a redrawn seed run"]
    for name, (point, slow) in kill_points.items():
        assert _run_until(_cmd(run, data_root, slow_rows=slow), run, point), f"kill point not reached: {name}"
        assert not any(json.loads(p.read_text()) is None for p in (run / "results").glob("*.json"))
    final = subprocess.run(_cmd(run, data_root), env=_env(), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]
    assert _values(run) == expected  # same parameters, metrics and epochs, bit for bit on a CPU
    # the studies too: a unit whose row was written before its worker was killed is finished with
    # the intermediate values it reported (pruners and TPE read them), not as a bare value
    assert _histories(run) == _histories(ref)
    assert len(list((run / "results").glob("*.json"))) == len(expected)
    assert not list((run / "results").glob(".*.tmp"))
    # a third run of the same command does no work
    again = subprocess.run(_cmd(run, data_root), env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and _values(run) == expected
    assert "| trial " not in again.stderr and "| seed " not in again.stderr


def test_results_cli_official_columns(data_root: Path, tmp_path: Path) -> None:
    from geobench.results import main as results_main
    from geobench.results_store import OFFICIAL_COLUMNS

    run = tmp_path / "r"
    done = subprocess.run(_cmd(run, data_root, ["protocol.n_trials=1", "protocol.seeds=[205]",
                                                "protocol.zero_score_redraws=0"]), env=_env(),
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
