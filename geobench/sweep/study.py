"""Optuna studies as the work queue: every HPO trial and every seed run is claimed exactly once.

Workers never coordinate through files of their own: a trial is claimed with ``study.ask()``
(Optuna moves it from WAITING to RUNNING in the storage's transaction), finished with
``study.tell()``. Seed runs are trials of a second study (``<name>.repeat``) whose WAITING trials
hold the seeds. A killed worker's RUNNING trials are failed -- at once when this process is the
only worker (``exclusive``), after the heartbeat's grace period otherwise -- and re-enqueued with
the same parameters and the same key, so the redone unit writes the same results row.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobench.sweep.plan import DatasetPlan

if TYPE_CHECKING:
    from geobench.protocol import DatasetSettings

KEY = "key"            # user attr: the unit's stable key (HPO: its budget slot; repeat: the seed)
RETRY_OF = "retry_of"  # user attr: the trial number this one redoes
SKIPPED = "skipped"    # user attr on FAILed trials that were never run (surplus, duplicate)
ERROR = "error"        # user attr on FAILed trials: the exception
ROW_WRITTEN = "row_written"  # user attr: this trial trained its unit and writes (or wrote) its row
PRUNED = "pruned"      # user attr: the pruner stopped this trial (set before its row is written)


def open_storage(url: str | None, run_dir: Path, heartbeat_interval: int, grace_period: int) -> Any:
    import optuna

    if not url:
        run_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(run_dir / 'optuna.db').resolve()}"
    import random
    import time

    import sqlalchemy.exc

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    import warnings

    for attempt in range(8):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; geobench relies on them
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                                     heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                                                     heartbeat_stale_trial_callback=_retry_callback)
            return _immediate_sqlite_transactions(storage)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as exc:
            # Workers starting together on a new database race to create its schema: the losers
            # find it made by the winner on the next try.
            if attempt == 7:
                from geobench.errors import ConfigError

                raise ConfigError(f"cannot open the Optuna storage {url}: {exc}") from None
            time.sleep(0.2 + random.random() * 0.8)
    raise AssertionError("unreachable")


def _immediate_sqlite_transactions(storage: Any) -> Any:
    """On SQLite, begin every transaction IMMEDIATE (take the write lock at once).

    pysqlite starts a transaction lazily, at the first write, so Optuna's "is this trial still
    WAITING? then mark it RUNNING" is not atomic there: two workers could claim the same waiting
    trial (seen: the second one's tell failed with "Cannot tell a COMPLETE trial"). Installed after
    Optuna has created its schema (installing it before makes that step fail as "locked").
    """
    from sqlalchemy import event

    engine = storage.engine
    if engine.dialect.name != "sqlite":
        return storage

    @event.listens_for(engine, "connect")
    def _autocommit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver's own transaction handling off

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()
    return storage


def _dead_before_first_heartbeat(study: Any) -> list[Any]:
    """RUNNING trials that never recorded a heartbeat and started more than a grace period ago:
    their worker died between claiming and its first heartbeat (Optuna's own stale-trial check
    skips trials without a heartbeat, so they would stay RUNNING for ever)."""
    import datetime as dt

    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    storage = getattr(study._storage, "_backend", study._storage)
    if not hasattr(storage, "scoped_session"):
        return []
    grace = dt.timedelta(seconds=storage.grace_period or 2 * (storage.heartbeat_interval or 30))
    session = storage.scoped_session()
    try:
        with_beat = {tid for (tid,) in session.query(models.TrialHeartbeatModel.trial_id).all()}
    finally:
        session.close()
    now = dt.datetime.now()
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t._trial_id not in with_beat and t.datetime_start is not None and now - t.datetime_start > grace]


def _retry_callback(study: Any, trial: Any) -> None:
    retry_same_params(study, trial)


def retry_same_params(study: Any, trial: Any) -> bool:
    """Re-enqueue a failed-by-heartbeat (killed) trial with its parameters and key. A trial killed
    before it took a key never started its unit: its slot is simply free again."""
    if KEY not in trial.user_attrs or SKIPPED in trial.user_attrs:
        return False
    study.enqueue_trial(dict(trial.params), user_attrs={KEY: trial.user_attrs[KEY], RETRY_OF: trial.number})
    return True


def replay_written(study: Any, trial: Any) -> bool:
    """Finish ``trial`` as the trial that wrote its unit's row would have been finished.

    A worker killed after writing a unit's row and before telling Optuna leaves the row and a
    failed trial; the retry finds the row and does not train again. Its history must still be
    what the uninterrupted run's is, since pruners read every trial's intermediate values and
    TPE scores a pruned trial by them: the values the writing trial reported (the nearest trial
    up the ``retry_of`` chain that trained) are reported again. Returns whether that trial was
    pruned (then ``trial`` must end pruned too).
    """
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    number = trial.user_attrs.get(RETRY_OF)
    while number is not None and number in by_number:
        prev = by_number[number]
        if prev.user_attrs.get(ROW_WRITTEN):
            for step, value in sorted(prev.intermediate_values.items()):
                trial.report(value, step)
            return bool(prev.user_attrs.get(PRUNED))
        number = prev.user_attrs.get(RETRY_OF)
    return False


def _pruner(settings: DatasetSettings) -> Any:
    import optuna

    from geobench.errors import ConfigError

    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=max(2, settings.n_trials // 4), n_warmup_steps=2)
    if settings.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=3)
    if settings.pruner == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"protocol.pruner={settings.pruner!r}: expected median, halving or none")


def study_direction(settings: Any) -> Any:
    from optuna.study import StudyDirection

    return StudyDirection.MAXIMIZE if settings.direction == "maximize" else StudyDirection.MINIMIZE


def hpo_study(storage: Any, settings: DatasetSettings, study_name: str) -> Any:
    import optuna

    # the sampler is replaced at every claim by the slot's own (geobench.sweep.suggest.suggest_slot)
    return optuna.create_study(storage=storage, study_name=study_name, direction=study_direction(settings),
                               sampler=optuna.samplers.RandomSampler(seed=0), pruner=_pruner(settings),
                               load_if_exists=True)


def repeat_study(storage: Any, plan: DatasetPlan) -> Any:
    import optuna

    return optuna.create_study(storage=storage, study_name=plan.study_name + ".repeat",
                               direction=study_direction(plan.settings),
                               sampler=optuna.samplers.RandomSampler(seed=0), load_if_exists=True)


def recover(study: Any, exclusive: bool) -> int:
    """Fail the trials of killed workers and re-enqueue them. Returns how many were redone."""
    import optuna
    from optuna.trial import TrialState

    if not exclusive:
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        import warnings

        with warnings.catch_warnings():  # "experimental" in Optuna; geobench relies on it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        n = len(before - after)
        for t in _dead_before_first_heartbeat(study):
            try:
                study.tell(t.number, state=TrialState.FAIL)
            except (ValueError, RuntimeError):  # finished meanwhile, or another worker failed it first
                continue
            n += retry_same_params(study, t)
        return n
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)
        n += retry_same_params(study, t)
    return n


def _counts(study: Any) -> dict[Any, int]:
    from optuna.trial import TrialState

    counts = dict.fromkeys(TrialState, 0)
    for t in study.get_trials(deepcopy=False):
        counts[t.state] += 1
    return counts


def hpo_finished(study: Any, plan: DatasetPlan) -> bool:
    from optuna.trial import TrialState

    c = _counts(study)
    done = c[TrialState.COMPLETE] + c[TrialState.PRUNED]
    return done >= plan.n_trials and c[TrialState.RUNNING] == 0 and c[TrialState.WAITING] == 0


def hpo_completed_count(study: Any) -> int:
    from optuna.trial import TrialState

    c = _counts(study)
    return c[TrialState.COMPLETE] + c[TrialState.PRUNED]


def failed_with_error(study: Any) -> int:
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if ERROR in t.user_attrs)



_LIVE = ("COMPLETE", "PRUNED", "RUNNING", "WAITING")


def _duplicate(study: Any, trial: Any, key: int) -> bool:
    """Another live trial holds ``key`` and wins: it is finished, or running with a lower number."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False):
        if t.number == trial.number or t.user_attrs.get(KEY) != key:
            continue
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return True
        if t.state == TrialState.RUNNING and t.number < trial.number:
            return True
    return False


def finished_by_slot(study: Any, states: tuple[str, ...] = ("COMPLETE", "PRUNED")) -> dict[int, Any]:
    """Each slot's finished trial (the lowest-numbered one, should a slot have finished twice)."""
    out: dict[int, Any] = {}
    for t in study.get_trials(deepcopy=False):
        if t.state.name in states and KEY in t.user_attrs:
            out.setdefault(int(t.user_attrs[KEY]), t)
    return out


def _slots_finished_below(study: Any, slot: int) -> bool:
    done = finished_by_slot(study)
    return all(k in done for k in range(slot))


def _next_free_slot(study: Any, n_trials: int, exclude: int | None = None) -> int | None:
    held = {int(t.user_attrs[KEY]) for t in study.get_trials(deepcopy=False)
            if t.number != exclude and t.state.name in _LIVE and KEY in t.user_attrs}
    free = [k for k in range(n_trials) if k not in held]
    return free[0] if free else None


CLAIM_WAIT = 30.0  # seconds a claim waits for lower-numbered trials to take their slots


def _lower_claims_decided(study: Any, trial: Any, wait: float) -> bool:
    """Wait until every lower-numbered running trial has taken a slot or been skipped (False if
    one is still undecided after ``wait`` seconds: its worker died between ask and claim).

    Two workers can find the same free slot at once. The lower trial number wins, but only if
    each side sees the other's slot when it checks; otherwise the higher one, having checked
    first, runs, and the lower one, seeing a higher number, runs too. After this wait the higher
    one always sees the lower one's slot. A lower trial never waits for a higher one.
    """
    from optuna.trial import TrialState

    deadline = time.monotonic() + wait
    while True:
        if not any(t.number < trial.number and KEY not in t.user_attrs and SKIPPED not in t.user_attrs
                   for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def hpo_key(study: Any, trial: Any, settings: DatasetSettings, wait: float = CLAIM_WAIT) -> int | None:
    """The budget slot (0 .. n_trials-1) a claimed HPO trial fills, or None if it must not run.

    A retried trial keeps its slot. A new trial takes the lowest slot that no live trial holds
    (a trial failed by an error frees its slot: failures do not count against the budget); with
    no free slot, when a concurrent worker took the same slot first, or when the slot is a TPE
    slot (past the random start-up) whose lower slots are not all finished, it does not run. The
    slot is the unit's stable key: its results row id and the ``trial`` column. A new trial's
    check for a concurrent claim waits for lower trials' claims (:func:`_lower_claims_decided`).
    """
    if RETRY_OF in trial.user_attrs:
        key = int(trial.user_attrs[KEY])
    else:
        free = _next_free_slot(study, settings.n_trials, exclude=trial.number)
        if free is None:
            trial.set_user_attr(SKIPPED, "surplus")
            return None
        if free >= settings.n_startup_trials and not _slots_finished_below(study, free):
            trial.set_user_attr(SKIPPED, "waiting for lower slots")
            return None
        key = free
        trial.set_user_attr(KEY, key)
        if not _lower_claims_decided(study, trial, wait):
            trial.set_user_attr(SKIPPED, "a lower trial's claim is undecided")
            return None
    if _duplicate(study, trial, key):
        trial.set_user_attr(SKIPPED, "duplicate")
        return None
    return key


def hpo_has_work(study: Any, settings: DatasetSettings) -> bool:
    """A retry is waiting, or a budget slot is free and may start now (else asking would only
    make a skipped trial)."""
    if has_waiting(study):
        return True
    free = _next_free_slot(study, settings.n_trials)
    if free is None:
        return False
    return free < settings.n_startup_trials or _slots_finished_below(study, free)


def has_waiting(study: Any) -> bool:
    return any(t.state.name == "WAITING" for t in study.get_trials(deepcopy=False))


def seeds_done(study: Any) -> int:
    """How many distinct seeds have a finished seed run."""
    from optuna.trial import TrialState

    return len({t.user_attrs.get(KEY) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))})


def seed_key(study: Any, trial: Any) -> int | None:
    """The seed a claimed seed-run trial runs, or None if it must not run (nothing was waiting,
    or another worker has or had the same seed)."""
    key = trial.user_attrs.get(KEY)
    if key is None:
        trial.set_user_attr(SKIPPED, "surplus")
        return None
    if _duplicate(study, trial, int(key)):
        trial.set_user_attr(SKIPPED, "duplicate")
        return None
    return int(key)


def ensure_seeds(study: Any, plan: DatasetPlan) -> None:
    if study.get_trials(deepcopy=False):
        return
    for s in plan.seeds:
        study.enqueue_trial({"seed": s}, user_attrs={KEY: s})



def seeds_finished(study: Any, plan: DatasetPlan) -> bool:
    from optuna.trial import TrialState

    done = {t.user_attrs.get(KEY) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    return set(plan.seeds) <= done
