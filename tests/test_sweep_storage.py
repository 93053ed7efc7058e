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


def _start(study: optuna.Study, key: int | None = None) -> optuna.Trial:
    trial = study.ask()
    if key is not None:
        trial.set_user_attr(st.KEY, key)
    trial.suggest_float("lr", 1e-6, 1e-3, log=True)
    return trial


def _killed(study: optuna.Study) -> optuna.Trial:
    """The worker dies; the next run fails its trial, re-enqueues it and claims the retry."""
    assert st.recover(study, exclusive=True) == 1
    return _start(study)


def _finished(study: optuna.Study) -> list[tuple]:
    return [(t.state.name, t.value, t.params, t.intermediate_values) for t in study.get_trials()
            if t.state.name in ("COMPLETE", "PRUNED")]


@pytest.mark.parametrize("pruned", [True, False])
def test_a_unit_killed_after_its_row_finishes_as_it_would_have(tmp_path: Path, pruned: bool) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    storage = st.open_storage(url, tmp_path, 10, 30)
    curve = {0: 0.25, 1: 0.5, 2: 0.375}
    end = {"state": optuna.trial.TrialState.PRUNED} if pruned else {"values": 0.5}

    ref = optuna.create_study(storage=storage, study_name="ref", direction="maximize",
                              sampler=optuna.samplers.RandomSampler(seed=1))
    trial = _start(ref, key=0)
    for step, value in curve.items():
        trial.report(value, step)
    ref.tell(trial, **end)  # uninterrupted

    study = optuna.create_study(storage=storage, study_name="killed", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    first = _start(study, key=0)
    first.report(0.125, 0)  # killed in training: no row; its values are not the unit's
    second = _killed(study)
    for step, value in curve.items():
        second.report(value, step)
    if pruned:
        second.set_user_attr(st.PRUNED, True)
    second.set_user_attr(st.ROW_WRITTEN, True)  # ... then killed after writing its row
    third = _killed(study)
    assert st.replay_written(study, third) is pruned  # ... and killed again before it is told:
    fourth = _killed(study)  # the chain is followed past it, to the trial that wrote the row
    assert st.replay_written(study, fourth) is pruned
    study.tell(fourth, **end)
    assert _finished(study) == _finished(ref)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL", "FAIL", end["state"].name if pruned else "COMPLETE"]


def test_a_unit_with_no_writing_trial_replays_nothing(tmp_path: Path) -> None:
    study = optuna.create_study(storage=st.open_storage(f"sqlite:///{tmp_path / 'o.db'}", tmp_path, 10, 30))
    trial = _start(study, key=3)  # a row found by a fresh study (its Optuna storage was deleted)
    assert st.replay_written(study, trial) is False and study.trials[0].intermediate_values == {}
