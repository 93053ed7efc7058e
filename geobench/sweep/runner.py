"""The sweep: for every dataset, Optuna HPO on validation, then the best config over seeds on test.

Each unit of work (an HPO trial, a seed run) is one ``study.optimize(..., n_trials=1)`` call, so
Optuna claims it in the shared storage, keeps its heartbeat while it trains and fails it if the
worker dies; the results row is written (atomically) before the trial is told finished, and a unit
whose row already exists is never trained again. Re-running the same command resumes.
"""

from __future__ import annotations

import json
import logging
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geobench import results_store
from geobench.errors import GeoBenchError
from geobench.sweep import study as st
from geobench.sweep.plan import DatasetPlan, make_plan
from geobench.sweep.progress import Progress
from geobench.sweep.rows import make_row, now
from geobench.sweep.trainer import train_unit

log = logging.getLogger("geobench.run")


class _Skip(Exception):
    """A claimed trial that is not a unit of work (surplus or duplicate): failed, never counted."""


class _TrainingFailed(Exception):
    """A training run raised: the trial is failed with the error and not counted."""


@dataclass
class Sweep:
    run_dir: Path
    opts: dict[str, Any]
    datasets: list[str]
    exclusive: bool
    storage: Any = None
    plans: list[DatasetPlan] = field(default_factory=list)
    studies: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    progress: Progress | None = None
    max_failures: int = 3

    # ------------------------------------------------------------------------------------
    def setup(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self.exclusive:  # temp files of rows whose writer was killed (the rows are redone)
            for tmp in results_store.results_dir(self.run_dir).glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
        proto = self.opts["protocol"]
        storage_cfg = self.opts["storage"]
        self.storage = st.open_storage(storage_cfg.get("url"), self.run_dir, int(storage_cfg["heartbeat_interval"]),
                                       int(storage_cfg["grace_period"]))
        model_options = {k: self.opts.get(k) for k in ("pretrained", "modalities", "weights_path")}
        for ds in self.datasets:
            plan = make_plan(ds, self.opts["model_key"], proto, model_options)
            hs = st.hpo_study(self.storage, plan, int(proto["sampler_seed"]), str(proto["pruner"]))
            rs = st.repeat_study(self.storage, plan)
            for s in (hs, rs):
                n = st.recover(s, self.exclusive)
                if n:
                    log.info("%s: %d interrupted unit(s) of an earlier run will be redone", s.study_name, n)
            self.plans.append(plan)
            self.studies[ds] = (hs, rs)
        total = sum(p.n_trials + len(p.seeds) for p in self.plans)
        self.progress = Progress(total, mode=self.opts.get("progress", "auto"))
        self.progress.done_units = sum(min(st.hpo_completed_count(h), p.n_trials) + self._seeds_done(r)
                                       for p, (h, r) in zip(self.plans, self.studies.values(), strict=True))

    @staticmethod
    def _seeds_done(rs: Any) -> int:
        from optuna.trial import TrialState

        return len({t.user_attrs.get(st.KEY) for t in rs.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))})

    # ------------------------------------------------------------------------------------
    def run(self) -> None:
        assert self.progress is not None
        idle_rounds = 0
        while True:
            progressed, all_done = False, True
            for i, plan in enumerate(self.plans):
                hs, rs = self.studies[plan.dataset]
                if not st.hpo_finished(hs, plan):
                    all_done = False
                    if st.failed_with_error(hs) >= self.max_failures:
                        raise GeoBenchError(f"{plan.dataset}: {self.max_failures} HPO trials failed; see "
                                            f"{self.run_dir / 'run.log'} for their errors")
                    progressed |= self._hpo_unit(i, plan, hs)
                    continue
                if not st.seeds_finished(rs, plan):
                    all_done = False
                    progressed |= self._seed_unit(i, plan, hs, rs)
            if all_done:
                break
            if not progressed:
                idle_rounds += 1
                if self.exclusive and idle_rounds > 3:
                    raise GeoBenchError("no unit could be claimed although work remains; is another worker "
                                        "using this run directory? Run with exclusive=false to share it")
                for hs, rs in self.studies.values():
                    st.recover(hs, False)
                    st.recover(rs, False)
                time.sleep(float(self.opts.get("poll_seconds", 5.0)))
            else:
                idle_rounds = 0
        self.progress.close()

    def _label(self, i: int, plan: DatasetPlan, what: str) -> str:
        return f"dataset {i + 1}/{len(self.plans)} {plan.dataset} | {what}"

    def _train(self, plan: DatasetPlan, lr: float, bs: int, seed: int, score_test: bool, trial: Any) -> tuple[Any, bool]:
        assert self.progress is not None
        best: list[float] = []
        pruned = [False]
        higher = plan.direction == "maximize"

        def on_epoch_end(epoch: int, value: float) -> bool:
            if not math.isnan(value):
                best.append(value if not best else (max if higher else min)(best[-1], value))
            self.progress.epoch(epoch, value, best[-1] if best else None)  # type: ignore[union-attr]
            if trial is not None and not score_test and not math.isnan(value):
                trial.report(value, epoch)
                if trial.should_prune():
                    pruned[0] = True
                    return True
            return False

        try:
            result = train_unit(self.opts, plan, lr, bs, seed, score_test=score_test, on_epoch_end=on_epoch_end)
        except GeoBenchError:
            raise
        except Exception as exc:
            log.error("training failed: %s\n%s", exc, traceback.format_exc())
            trial.set_user_attr(st.ERROR, f"{type(exc).__name__}: {exc}"[:2000])
            raise _TrainingFailed(str(exc)) from exc
        return result, pruned[0]

    def _hpo_unit(self, i: int, plan: DatasetPlan, hs: Any) -> bool:
        import optuna

        if not st.hpo_has_work(hs, plan.n_trials):
            return False
        proto = self.opts["protocol"]
        ran = [False]

        def objective(trial: optuna.Trial) -> float:
            key = st.hpo_key(hs, trial, plan.n_trials)
            if key is None:
                raise _Skip()
            lr = trial.suggest_float("lr", float(proto["lr_low"]), float(proto["lr_high"]), log=True)
            bs = trial.suggest_categorical("batch_size", list(plan.batch_sizes))
            run_id = plan.hpo_run_id(key)
            ran[0] = True
            existing = _existing_row(self.run_dir, run_id)
            if existing is not None:
                return float(existing["val_metric"])
            label = self._label(i, plan, f"trial {key + 1}/{plan.n_trials} lr={lr:.2e} bs={bs}")
            self.progress.begin(label)  # type: ignore[union-attr]
            started, t0 = now(), time.monotonic()
            result, pruned = self._train(plan, lr, bs, int(proto["seeds"][0]), False, trial)
            row = make_row(plan=plan, run_id=run_id, phase="hpo", trial=key, seed=int(proto["seeds"][0]), lr=lr,
                           batch_size=bs, proto=proto, model_key=self.opts["model_key"],
                           run_name=self.opts["run_name"], result=result, started_at=started)
            results_store.write_row(self.run_dir, row)
            self.progress.end(time.monotonic() - t0, f"{label} -> val {result.best_val_metric:.4f}"  # type: ignore[union-attr]
                              + (" (pruned)" if pruned else ""))
            if pruned:
                raise optuna.TrialPruned()
            if math.isnan(result.best_val_metric):
                trial.set_user_attr(st.ERROR, "validation metric is NaN in every epoch")
                raise _TrainingFailed("NaN validation metric")
            return float(result.best_val_metric)

        hs.optimize(objective, n_trials=1, catch=(_Skip, _TrainingFailed), gc_after_trial=True)
        return ran[0]

    def _seed_unit(self, i: int, plan: DatasetPlan, hs: Any, rs: Any) -> bool:
        from optuna.trial import TrialState

        st.ensure_seeds(rs, plan)
        if not rs.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            return False
        proto = self.opts["protocol"]
        best = st.best_params(hs)
        ran = [False]

        def objective(trial: Any) -> float:
            if st.seed_key(rs, trial) is None:
                raise _Skip()
            seed = int(trial.suggest_categorical("seed", list(plan.seeds)))
            run_id = plan.repeat_run_id(seed)
            ran[0] = True
            existing = _existing_row(self.run_dir, run_id)
            if existing is not None:
                return float(existing["val_metric"] or 0.0)
            lr, bs = float(best["lr"]), int(best["batch_size"])
            label = self._label(i, plan, f"seed {plan.seeds.index(seed) + 1}/{len(plan.seeds)} ({seed}) lr={lr:.2e} bs={bs}")
            self.progress.begin(label)  # type: ignore[union-attr]
            started, t0 = now(), time.monotonic()
            result, _ = self._train(plan, lr, bs, seed, True, trial)
            row = make_row(plan=plan, run_id=run_id, phase="repeat", trial=None, seed=seed, lr=lr, batch_size=bs,
                           proto=proto, model_key=self.opts["model_key"], run_name=self.opts["run_name"],
                           result=result, started_at=started)
            results_store.write_row(self.run_dir, row)
            self.progress.end(time.monotonic() - t0, f"{label} -> test {row['test metric']}")  # type: ignore[union-attr]
            v = result.best_val_metric
            return float(v) if not math.isnan(v) else 0.0

        rs.optimize(objective, n_trials=1, catch=(_Skip, _TrainingFailed), gc_after_trial=True)
        return ran[0]


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
