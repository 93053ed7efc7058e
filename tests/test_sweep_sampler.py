"""HPO slots: a slot's parameters depend only on (sampler seed, dataset, slot) and the finished
lower slots, never on the process, the worker or the order of asks."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from geobench.protocol import dataset_settings, load_preset
from geobench.sweep import study as st

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
    study.sampler = st.slot_sampler(settings, key)
    params = {"lr": trial.suggest_float("lr", settings.lr_low, settings.lr_high, log=True),
              "batch_size": trial.suggest_categorical("batch_size", list(settings.batch_sizes))}
    return key, {"trial": trial, **params}


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
    a = st.slot_sampler(_settings(), 0)
    assert st.slot_seed(0, "so2sat", 0) != st.slot_seed(0, "benv2", 0) != st.slot_seed(1, "benv2", 0)
    assert isinstance(a, optuna.samplers.TPESampler)


@pytest.mark.parametrize("startup", [1, 4])
def test_tpe_slots_are_reproducible(startup: int) -> None:
    settings = _settings(n_trials=6, startup=startup)
    assert _sequential(settings) == _sequential(settings)
