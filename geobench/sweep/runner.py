"""The sweep: for every dataset, Optuna HPO on validation, then the best config over seeds on test.

Each unit of work (an HPO trial, a seed run) is one ``study.optimize(..., n_trials=1)`` call, so
Optuna claims it in the shared storage, keeps its heartbeat while it trains and fails it if the
worker dies; the results row is written (atomically) before the trial is told finished, and a unit
whose row already exists is never trained again. Re-running the same command resumes.

Both phases run through :meth:`Sweep._run_unit`; they differ only in how a unit is claimed
(:meth:`Sweep._claim_hpo` takes a budget slot and samples its parameters, :meth:`Sweep._claim_seed`
takes a waiting seed). An HPO slot's parameters depend only on the study's stored history and the
slot (:mod:`geobench.sweep.suggest`), so a resumed run and several workers make the
rows of one uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geobench import results_store
from geobench.config import RunConfig
from geobench.errors import GeoBenchError
from geobench.sweep import study as st
from geobench.sweep import suggest
from geobench.sweep.plan import DatasetPlan, make_plan, redraw_seed
from geobench.sweep.progress import Progress
from geobench.sweep.rows import make_row, now
from geobench.sweep.trainer import train_unit

log = logging.getLogger("geobench.run")
MAX_FAILURES = 3


class _Skip(Exception):
    """A claimed trial that is not a unit of work (surplus, duplicate, or waiting on history)."""


class _TrainingFailed(Exception):
    """A training run raised: the trial is failed with the error and not counted."""


@dataclass(frozen=True)
class Unit:
    """A claimed unit of work: one training run and the row it writes."""

    phase: str                  # "hpo" | "repeat"
    key: int                    # HPO budget slot or seed
    lr: float
    batch_size: int
    seed: int
    run_id: str
    label: str

    @property
    def score_test(self) -> bool:
        return self.phase == "repeat"


@dataclass
class DatasetWork:
    index: int
    plan: DatasetPlan
    hpo: Any                    # optuna Study of the HPO trials
    repeat: Any                 # optuna Study of the seed runs


class Sweep:
    """Every dataset's HPO and seed runs for one run configuration, in one run directory."""

    def __init__(self, run_dir: Path, run: RunConfig, *, exclusive: bool) -> None:
        import optuna

        # Optuna's own warnings (a failed trial, with its traceback) would repeat on the console
        # what run.log already records in geobench's words.
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.run_dir, self.run, self.exclusive = run_dir, run, exclusive
        if exclusive:  # temp files of rows whose writer was killed (the rows are redone)
            results = results_store.results_dir(run_dir)
            for tmp in [*results.glob(".*.tmp"), *(results / results_store.DISCARDED_SUBDIR).glob(".*.tmp")]:
                tmp.unlink(missing_ok=True)
        storage = run.storage
        self.storage = st.open_storage(storage.url, run_dir, storage.heartbeat_interval, storage.grace_period)
        self.work: list[DatasetWork] = []
        for i, ds in enumerate(run.datasets):
            plan = make_plan(run, ds)
            hs, rs = st.hpo_study(self.storage, plan.settings, plan.study_name), st.repeat_study(self.storage, plan)
            for s in (hs, rs):
                n = st.recover(s, exclusive)
                if n:
                    log.info("%s: %d interrupted unit(s) of an earlier run will be redone", s.study_name, n)
            self.work.append(DatasetWork(i, plan, hs, rs))
        from geobench.sweep.tracking import make_tracker

        self.tracker = make_tracker(run.tracking, run_dir, f"{run.model.key}/{run.run_name}", run.tracking_uri)
        self.progress = Progress(sum(w.plan.n_trials + len(w.plan.seeds) for w in self.work), mode=run.progress)
        self.progress.done_units = sum(min(st.hpo_completed_count(w.hpo), w.plan.n_trials) + st.seeds_done(w.repeat)
                                       for w in self.work)

    @property
    def plans(self) -> list[DatasetPlan]:
        return [w.plan for w in self.work]

    def write_settings(self) -> None:
        """``RUN_DIR/protocol/<dataset>.json``: every resolved setting of each dataset (what the
        rows' ``protocol_hash`` hashes), so a submission can name a setting that differs."""
        from geobench.fileio import atomic_write_text

        for w in self.work:
            payload = {"protocol_hash": w.plan.settings.hash(), "config_hash": w.plan.config_hash,
                       "settings": w.plan.settings.payload()}
            atomic_write_text(self.run_dir / "protocol" / f"{w.plan.dataset}.json",
                              json.dumps(payload, indent=1, sort_keys=True) + "\n")

    # ------------------------------------------------------------------------------------
    def run_all(self) -> None:
        """Claim and run units until every dataset's HPO and seed runs are done."""
        idle_rounds = 0
        while True:
            progressed, all_done = False, True
            for w in self.work:
                if not st.hpo_finished(w.hpo, w.plan):
                    all_done = False
                    if st.failed_with_error(w.hpo) >= MAX_FAILURES:
                        raise GeoBenchError(f"{w.plan.dataset}: {MAX_FAILURES} HPO trials failed; see "
                                            f"{self.run_dir / 'run.log'} for their errors")
                    if st.hpo_has_work(w.hpo, w.plan.settings):
                        progressed |= self._run_unit(w, w.hpo, self._claim_hpo)
                    continue
                if not st.seeds_finished(w.repeat, w.plan):
                    all_done = False
                    st.ensure_seeds(w.repeat, w.plan)
                    if st.has_waiting(w.repeat):
                        progressed |= self._run_unit(w, w.repeat, self._claim_seed)
            if all_done:
                break
            idle_rounds = 0 if progressed else idle_rounds + 1
            if not progressed:
                self._idle(idle_rounds)
        self.progress.close()

    def _idle(self, rounds: int) -> None:
        if self.exclusive and rounds > 3:
            raise GeoBenchError("no unit could be claimed although work remains; is another worker "
                                "using this run directory? Run with exclusive=false to share it")
        for w in self.work:
            st.recover(w.hpo, False)
            st.recover(w.repeat, False)
        time.sleep(self.run.poll_seconds)

    # -- claiming ---------------------------------------------------------------------------
    def _claim_hpo(self, w: DatasetWork, trial: Any) -> Unit | None:
        s = w.plan.settings
        key = st.hpo_key(w.hpo, trial, s)
        if key is None:
            return None
        lr, bs = suggest.suggest_slot(w.hpo, trial, s, key)  # the slot's seed + the finished lower slots
        label = f"trial {key + 1}/{s.n_trials} lr={lr:.2e} bs={bs}"
        return Unit("hpo", key, lr, bs, s.hpo_seed, w.plan.hpo_run_id(key), label)

    def _claim_seed(self, w: DatasetWork, trial: Any) -> Unit | None:
        if st.seed_key(w.repeat, trial) is None:
            return None
        seed = int(trial.suggest_categorical("seed", list(w.plan.seeds)))
        best = suggest.best_params(w.hpo)
        lr, bs = float(best["lr"]), int(best["batch_size"])
        label = f"seed {w.plan.seeds.index(seed) + 1}/{len(w.plan.seeds)} ({seed}) lr={lr:.2e} bs={bs}"
        return Unit("repeat", seed, lr, bs, seed, w.plan.repeat_run_id(seed), label)

    # -- running ----------------------------------------------------------------------------
    def _run_unit(self, w: DatasetWork, study: Any, claim: Callable[[DatasetWork, Any], Unit | None]) -> bool:
        """Ask ``study`` for one trial, claim it as a unit, train it and write its row."""
        import optuna

        ran = [False]

        def objective(trial: Any) -> float:
            unit = claim(w, trial)
            if unit is None:
                raise _Skip()
            ran[0] = True
            existing = _existing_row(self.run_dir, unit.run_id)
            if existing is not None:
                if st.replay_written(study, trial):
                    raise optuna.TrialPruned()
                return float(existing["val_metric"] or 0.0)
            label = f"dataset {w.index + 1}/{len(self.work)} {w.plan.dataset} | {unit.label}"
            # workers sharing the directory say which process runs the unit
            self.progress.begin(label if self.exclusive else f"{label} | worker {self.run.worker} pid {os.getpid()}")
            started, t0 = now(), time.monotonic()
            result, pruned = self._train(w.plan, unit, trial)
            if unit.score_test:
                unit, result = self._redraw_zero_scores(w, unit, trial, result, started, label)
                label = f"dataset {w.index + 1}/{len(self.work)} {w.plan.dataset} | {unit.label}"
            row = make_row(plan=w.plan, unit=unit, run=self.run, result=result, started_at=started)
            trial.set_user_attr(st.ROW_WRITTEN, True)  # (before the row: see st.replay_written)
            results_store.write_row(self.run_dir, row)
            self._track(row, result)
            end = f"-> test {row['test metric']}" if unit.score_test else f"-> val {result.best_val_metric:.4f}"
            self.progress.end(time.monotonic() - t0, f"{label} {end}" + (" (pruned)" if pruned else ""))
            if pruned:
                raise optuna.TrialPruned()
            if math.isnan(result.best_val_metric):
                if unit.score_test:
                    return 0.0
                trial.set_user_attr(st.ERROR, "validation metric is NaN in every epoch")
                raise _TrainingFailed("NaN validation metric")
            return float(result.best_val_metric)

        study.optimize(objective, n_trials=1, catch=(_Skip, _TrainingFailed), gc_after_trial=True)
        return ran[0]

    def _redraw_zero_scores(self, w: DatasetWork, unit: Unit, trial: Any, result: Any, started: str,
                            label: str) -> tuple[Unit, Any]:
        """Replace a seed run whose test metric is exactly 0.0 by a run with a redrawn seed.

        terratorch-iterate keeps only the seed runs whose test metric is not 0.0 and runs other
        seeds in their place (``utils.py``, ``repeat_best_experiment.py``); the leaderboard CSVs
        hold such replacement seeds. The row keeps the slot's run id (so a resumed run finds it)
        and records the seed that made it; each zero run's row goes to ``results/discarded/``.
        After ``protocol.zero_score_redraws`` redraws the last zero score is kept, with a warning.
        """
        tried = [unit.seed]
        for attempt in range(w.plan.settings.zero_score_redraws):
            if not _zero_score(result, w.plan.metric):
                break
            zero = make_row(plan=w.plan, unit=unit, run=self.run, result=result, started_at=started)
            results_store.write_row(self.run_dir, {**zero, "run_id": f"{unit.run_id}-zero-{unit.seed}"},
                                    discarded=True)
            seed = redraw_seed(w.plan.dataset, unit.key, attempt, exclude={*w.plan.seeds, *tried})
            tried.append(seed)
            log.warning("%s: seed %d scored 0.0 on test; its row is kept in results/discarded/ and seed %d "
                        "runs in its place (redraw %d of %d)", w.plan.dataset, unit.seed, seed, attempt + 1,
                        w.plan.settings.zero_score_redraws)
            unit = dataclasses.replace(unit, seed=seed, label=f"{unit.label} redrawn seed {seed}")
            self.progress.begin(f"{label} | redrawn seed {seed}")
            result, _ = self._train(w.plan, unit, trial)
        else:
            if tried[1:] and _zero_score(result, w.plan.metric):
                log.warning("%s: seed slot %d scored 0.0 with every redrawn seed %s; the zero is kept",
                            w.plan.dataset, unit.key, tried[1:])
        return unit, result

    def _track(self, row: dict[str, Any], result: Any) -> None:
        if self.tracker is None:
            return
        try:
            self.tracker.log_unit(row, result)
        except Exception as exc:  # tracking never stops the benchmark
            log.warning("tracking: %s was not logged (%s: %s)", row["run_id"], type(exc).__name__, exc)

    def _train(self, plan: DatasetPlan, unit: Unit, trial: Any) -> tuple[Any, bool]:
        best: list[float] = []
        pruned = [False]
        higher = plan.direction == "maximize"

        def on_epoch_end(epoch: int, value: float) -> bool:
            if not math.isnan(value):
                best.append(value if not best else (max if higher else min)(best[-1], value))
            self.progress.epoch(epoch, value, best[-1] if best else None)
            if not unit.score_test and not math.isnan(value):
                trial.report(value, epoch)
                if trial.should_prune():
                    trial.set_user_attr(st.PRUNED, True)
                    pruned[0] = True
                    return True
            return False

        try:
            result = train_unit(self.run, plan, unit.lr, unit.batch_size, unit.seed, score_test=unit.score_test,
                                on_epoch_end=on_epoch_end)
        except GeoBenchError:
            raise
        except Exception as exc:
            log.error("training failed: %s\n%s", exc, traceback.format_exc())
            trial.set_user_attr(st.ERROR, f"{type(exc).__name__}: {exc}"[:2000])
            raise _TrainingFailed(str(exc)) from exc
        return result, pruned[0]


def _zero_score(result: Any, metric: str) -> bool:
    score = result.test_metrics.get(metric)
    return score is not None and float(score) == 0.0


def _existing_row(run_dir: Path, run_id: str) -> dict[str, Any] | None:
    path = results_store.results_dir(run_dir) / f"{run_id}.json"
    if not path.exists():
        return None
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)  # cannot happen with atomic writes; redo the unit if it does
        return None
    return row if row.get("val_metric") is not None else None
