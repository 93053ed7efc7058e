"""What an HPO budget slot runs: its sampler, its parameters, and the best configuration.

A slot's parameters depend only on (``sampler_seed``, dataset, slot) and the results of the
finished lower slots, never on the process, the worker, the order of asks or trial numbers; the
best configuration's ties go to the lowest slot. So a resumed run and any number of workers
make the rows of one uninterrupted worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geobench.sweep import study as st

if TYPE_CHECKING:
    from geobench.protocol import DatasetSettings


def slot_seed(sampler_seed: int, dataset: str, slot: int) -> int:
    """The sampler seed of one HPO budget slot of a dataset (independent of process, worker and
    time; different datasets start from different points)."""
    import hashlib

    return int(hashlib.sha256(f"geobench-hpo:{sampler_seed}:{dataset}:{slot}".encode()).hexdigest()[:8], 16)


def slot_sampler(settings: DatasetSettings, slot: int) -> Any:
    """The TPE sampler that suggests slot ``slot``'s parameters.

    Seeded from (``sampler_seed``, dataset, slot): the first ``n_startup_trials`` slots are random points
    that depend on nothing else (so concurrent workers explore distinct points); later slots are
    TPE suggestions from the finished slots before them (see :func:`suggest_slot`).
    """
    import optuna

    return optuna.samplers.TPESampler(seed=slot_seed(settings.sampler_seed, settings.dataset, slot),
                                      n_startup_trials=settings.n_startup_trials)


def _fixed_sampler(params: dict[str, Any]) -> Any:
    """A sampler that gives a trial parameters chosen beforehand (those of :func:`slot_params`)."""
    import optuna

    class FixedParams(optuna.samplers.BaseSampler):
        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return {}

        def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
            return {}

        def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
            return params[name]

    return FixedParams()


def _suggest(trial: Any, settings: DatasetSettings) -> tuple[float, int]:
    lr = trial.suggest_float("lr", settings.lr_low, settings.lr_high, log=True)
    return lr, int(trial.suggest_categorical("batch_size", list(settings.batch_sizes)))


def slot_params(study: Any, settings: DatasetSettings, slot: int) -> tuple[float, int]:
    """Slot ``slot``'s (lr, batch size): the slot's sampler on a replay of the finished lower slots.

    TPE reads its history in trial-number order (it breaks ties between equal scores by it and
    draws from its mixture components in it), and trial numbers are handed out in the order
    workers ask, which is a race. The replay holds the finished slots below ``slot`` in slot
    order, so the suggestion depends only on the slot and their results: a resumed run and any
    number of workers suggest exactly what one uninterrupted worker does (:func:`.study.hpo_key` runs a
    TPE slot only once every lower slot is finished).
    """
    import optuna

    replay = optuna.create_study(direction=st.study_direction(settings), sampler=slot_sampler(settings, slot))
    finished = st.finished_by_slot(study)
    replay.add_trials(finished[k] for k in sorted(finished) if k < slot)
    return _suggest(replay.ask(), settings)


def suggest_slot(study: Any, trial: Any, settings: DatasetSettings, slot: int) -> tuple[float, int]:
    """Give the claimed ``trial`` slot ``slot``'s parameters (:func:`slot_params`); a retried trial
    keeps the parameters it was enqueued with."""
    if st.RETRY_OF not in trial.user_attrs:  # (a retry's enqueued parameters win over any sampler)
        lr, bs = slot_params(study, settings, slot)
        study.sampler = _fixed_sampler({"lr": lr, "batch_size": bs})
    return _suggest(trial, settings)


def best_params(study: Any) -> dict[str, Any]:
    """The parameters of the best finished slot; equal scores go to the lowest slot (Optuna's own
    ``best_trial`` breaks ties by the storage's row order, which depends on the workers' race)."""
    complete = st.finished_by_slot(study, ("COMPLETE",))
    if not complete:
        from geobench.errors import GeoBenchError

        raise GeoBenchError(f"study {study.study_name}: no completed trial to take the best parameters from")
    sign = 1.0 if study.direction.name == "MAXIMIZE" else -1.0
    best = max(sorted(complete), key=lambda k: sign * complete[k].value)
    return dict(complete[best].params)
