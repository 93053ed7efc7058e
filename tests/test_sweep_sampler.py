"""HPO slots: a slot's parameters depend only on (sampler seed, dataset, slot) and the finished
lower slots, never on the process, the worker or the order of asks."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from geobench.protocol import dataset_settings, load_preset
from geobench.sweep import study as st
from geobench.sweep import suggest as sg

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _settings(n_trials: int = 12, startup: int = 8) -> Any:
    import dataclasses

    proto = dataclasses.replace(load_preset("geobench2"), n_trials=n_trials, n_startup_trials=startup)
    return dataset_settings(proto, "so2sat", "resnet50")


def _claim(study: Any, settings: Any) -> tuple[int | None, dict[str, Any]]:
    trial = study.ask()
    key = st.hpo_key(study, trial, settings)
    if key is None:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return None, {}
    lr, bs = sg.suggest_slot(study, trial, settings, key)
    return key, {"trial": trial, "lr": lr, "batch_size": bs}


def _objective(params: dict[str, Any]) -> float:
    return -abs(params["lr"] - 3e-4) * 1e3 + params["batch_size"] / 100  # any fixed function


def _sequential(settings: Any) -> dict[int, tuple[float, int]]:
    study = st.hpo_study(optuna.storages.InMemoryStorage(), settings, "seq")
    out = {}
    while len(out) < settings.n_trials:
        key, got = _claim(study, settings)
        assert key is not None
        out[key] = (got["lr"], got["batch_size"])
        study.tell(got["trial"], _objective(got))
    return out


def test_eight_concurrent_workers_start_from_eight_distinct_points() -> None:
    settings = _settings()
    study = st.hpo_study(optuna.storages.InMemoryStorage(), settings, "par")
    claimed = [_claim(study, settings) for _ in range(8)]  # 8 workers ask before any finishes
    keys = [k for k, _ in claimed]
    assert keys == list(range(8))
    points = {(g["lr"], g["batch_size"]) for _, g in claimed}
    assert len(points) == 8


def test_order_of_workers_does_not_change_any_slot() -> None:
    settings = _settings()
    ref = _sequential(settings)
    study = st.hpo_study(optuna.storages.InMemoryStorage(), settings, "shuffled")
    got: dict[int, tuple[float, int]] = {}
    open_trials = []
    # start-up slots claimed together and finished in reverse order
    for _ in range(settings.n_startup_trials):
        key, g = _claim(study, settings)
        got[key] = (g["lr"], g["batch_size"])
        open_trials.append(g)
    # a TPE slot cannot start while a lower slot is unfinished
    assert _claim(study, settings)[0] is None
    assert not st.hpo_has_work(study, settings)
    for g in reversed(open_trials):
        study.tell(g["trial"], _objective(g))
    while len(got) < settings.n_trials:
        key, g = _claim(study, settings)
        assert key is not None
        got[key] = (g["lr"], g["batch_size"])
        study.tell(g["trial"], _objective(g))
    assert got == ref


def test_datasets_and_seeds_start_from_different_points() -> None:
    a = sg.slot_sampler(_settings(), 0)
    assert sg.slot_seed(0, "so2sat", 0) != sg.slot_seed(0, "benv2", 0) != sg.slot_seed(1, "benv2", 0)
    assert isinstance(a, optuna.samplers.TPESampler)


@pytest.mark.parametrize("startup", [1, 4])
def test_tpe_slots_are_reproducible(startup: int) -> None:
    settings = _settings(n_trials=6, startup=startup)
    assert _sequential(settings) == _sequential(settings)


def _tied(params: dict[str, Any]) -> float:
    return float(params["batch_size"] >= 16)  # many equal scores: TPE's tie-breaking matters


def _race(settings: Any, first: tuple[int, ...], raw_tpe: bool) -> tuple[list[tuple[float, int]], Any]:
    """Three workers claim slots 0, 1, 2 (trials 0, 1, 2); the slots in ``first`` finish, then the
    other workers are killed and their slots redone by retries (so slot k is no longer trial k);
    once all three are finished the next worker claims the TPE slot 3. Returns every slot's
    parameters; ``raw_tpe`` samples slot 3 on the study itself, as geobench did before."""
    study = st.hpo_study(optuna.storages.InMemoryStorage(), settings, "race")
    by_slot: dict[int, Any] = {}
    for _ in range(3):
        trial = study.ask()
        key = st.hpo_key(study, trial, settings)
        by_slot[key] = (trial, *sg.suggest_slot(study, trial, settings, key))
    assert sorted(by_slot) == [0, 1, 2]
    for k in first:
        trial, lr, bs = by_slot[k]
        study.tell(trial, _tied({"lr": lr, "batch_size": bs}))
    st.recover(study, exclusive=True)
    for _ in range(3 - len(first)):
        trial = study.ask()
        key = st.hpo_key(study, trial, settings)
        lr, bs = sg.suggest_slot(study, trial, settings, key)
        assert (lr, bs) == by_slot[key][1:]  # a retry keeps its parameters
        study.tell(trial, _tied({"lr": lr, "batch_size": bs}))
    nxt = study.ask()
    key = st.hpo_key(study, nxt, settings)
    assert key == 3
    if raw_tpe:
        study.sampler = sg.slot_sampler(settings, key)
        lr = nxt.suggest_float("lr", settings.lr_low, settings.lr_high, log=True)
        third = (lr, nxt.suggest_categorical("batch_size", list(settings.batch_sizes)))
    else:
        third = sg.suggest_slot(study, nxt, settings, key)
    return [(lr, bs) for _, lr, bs in (by_slot[k] for k in range(3))] + [third], study


def test_slots_redone_out_of_order_suggest_what_one_worker_does() -> None:
    settings = _settings(n_trials=6, startup=3)
    ref, _ = _race(settings, (0, 1, 2), raw_tpe=False)
    for first in ((1, 2), (2,), (0, 2)):
        assert _race(settings, first, raw_tpe=False)[0] == ref
    # the case is one that matters: TPE on the study as it stands reads the history in trial
    # order and suggests something else for slot 3
    assert _race(settings, (0, 1, 2), raw_tpe=True)[0] == ref
    assert any(_race(settings, first, raw_tpe=True)[0][3] != ref[3] for first in ((1, 2), (2,), (0, 2)))


def _claim_now(study: Any, settings: Any, wait: float = st.CLAIM_WAIT) -> Any:
    trial = study.ask()
    return trial, st.hpo_key(study, trial, settings, wait)


def test_a_higher_trial_waits_for_a_lower_claim_and_only_one_takes_the_slot() -> None:
    import threading

    settings = _settings(n_trials=4, startup=4)
    study = st.hpo_study(optuna.storages.InMemoryStorage(), settings, "claims")
    low, high = study.ask(), study.ask()  # the higher one claims first
    got: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: got.update(high=st.hpo_key(study, high, settings)))
    waiter.start()
    waiter.join(timeout=0.5)
    assert waiter.is_alive()  # waiting for the lower trial's claim
    got["low"] = st.hpo_key(study, low, settings)
    waiter.join(timeout=30)
    assert got == {"high": 0, "low": 1}  # it held slot 0 while it waited: the lower one took slot 1
    # a lower trial whose worker died before claiming: the higher one gives up after the wait
    study.tell(low, 0.5)
    study.tell(high, state=optuna.trial.TrialState.FAIL)  # slot 0 free again
    dead = study.ask()
    trial, key = _claim_now(study, settings, wait=0.2)
    assert key is None and trial.user_attrs[st.SKIPPED] == "a lower trial's claim is undecided"
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    assert st.hpo_key(study, dead, settings) == 0  # the slot is still free for whoever claims next


def test_best_params_ties_go_to_the_lowest_slot(tmp_path: Any) -> None:
    settings = _settings(n_trials=4, startup=4)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'o.db'}")
    study = st.hpo_study(storage, settings, "ties")
    params, trials = {}, {}
    for _ in range(3):
        trial, key = _claim_now(study, settings)
        params[key] = dict(zip(("lr", "batch_size"), sg.suggest_slot(study, trial, settings, key), strict=True))
        trials[key] = trial
    study.tell(trials[1], 0.5)
    study.tell(trials[2], 0.5)
    st.recover(study, exclusive=True)  # slot 0's worker was killed: its retry is the last trial
    retry, key = _claim_now(study, settings)
    assert key == 0 and dict(zip(("lr", "batch_size"), sg.suggest_slot(study, retry, settings, 0),
                                 strict=True)) == params[0]
    study.tell(retry, 0.5)
    assert sg.best_params(study) == params[0]
    assert study.best_trial.params != params[0]  # Optuna's own choice follows the storage's row order
    last = study.ask()
    key = st.hpo_key(study, last, settings)
    lr, bs = sg.suggest_slot(study, last, settings, key)
    study.tell(last, 0.75)  # a better score wins, whatever its slot
    assert key == 3 and sg.best_params(study) == {"lr": lr, "batch_size": bs}


def test_two_trials_that_found_the_same_free_slot_run_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of CI's failure: the lower trial found slot 0 free before the higher one took it,
    and the higher one checked for a duplicate before the lower one had taken it. Without the
    wait both ran slot 0 (5 completed trials for 4 slots)."""
    import threading

    settings = _settings(n_trials=4, startup=4)
    study = st.hpo_study(optuna.storages.InMemoryStorage(), settings, "same-slot")
    low, high = study.ask(), study.ask()
    got: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: got.update(high=st.hpo_key(study, high, settings)))
    waiter.start()
    waiter.join(timeout=0.5)
    assert waiter.is_alive() and high.user_attrs[st.KEY] == 0
    real = st._next_free_slot
    monkeypatch.setattr(st, "_next_free_slot", lambda *a, **k: 0)  # what the lower one had found
    got["low"] = st.hpo_key(study, low, settings)
    monkeypatch.setattr(st, "_next_free_slot", real)
    waiter.join(timeout=30)
    assert got == {"low": 0, "high": None} and high.user_attrs[st.SKIPPED] == "duplicate"
