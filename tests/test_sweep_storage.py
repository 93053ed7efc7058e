"""The Optuna storage as a work queue: on SQLite two workers never claim the same waiting trial,
and a worker killed before its first heartbeat does not leave its trial running for ever."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import optuna
import pytest

from geobench.sweep import study as st

optuna.logging.set_verbosity(optuna.logging.ERROR)
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")


def _claim(url: str, run_dir: str, barrier: object, queue: object) -> None:
    storage = st.open_storage(url, Path(run_dir), 10, 30)
    study = optuna.load_study(study_name="s", storage=storage)
    barrier.wait()  # type: ignore[attr-defined]
    queue.put([study.ask().number for _ in range(4)])  # type: ignore[attr-defined]


def test_three_workers_never_claim_the_same_waiting_trial(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    for rep in range(4):
        url = f"sqlite:///{tmp_path / f'r{rep}.db'}"
        study = optuna.create_study(storage=st.open_storage(url, tmp_path, 10, 30), study_name="s")
        for i in range(12):
            study.enqueue_trial({"x": i})
        barrier, queue = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_claim, args=(url, str(tmp_path), barrier, queue)) for _ in range(3)]
        for p in procs:
            p.start()
        claimed = [n for _ in procs for n in queue.get(timeout=120)]
        for p in procs:
            p.join(timeout=120)
        assert sorted(claimed) == list(range(12)), f"round {rep}: a trial was claimed twice: {sorted(claimed)}"


def test_trial_of_a_worker_killed_before_its_first_heartbeat_is_redone(tmp_path: Path) -> None:
    storage = st.open_storage(None, tmp_path, heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="s")
    study.enqueue_trial({"lr": 0.1}, user_attrs={st.KEY: 3})
    dead = study.ask()  # claimed, then its worker "dies": no heartbeat is ever recorded
    assert dead.suggest_float("lr", 0.0, 1.0) == 0.1
    assert st.recover(study, exclusive=False) == 0  # within the grace period: maybe alive
    time.sleep(1.5)
    assert st.recover(study, exclusive=False) == 1
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states[dead.number] == "FAIL"
    retry = [t for t in study.get_trials() if t.state.name == "WAITING"]
    assert len(retry) == 1 and retry[0].system_attrs["fixed_params"] == {"lr": 0.1}
    assert retry[0].user_attrs[st.KEY] == 3
    assert retry[0].user_attrs[st.RETRY_OF] == dead.number
