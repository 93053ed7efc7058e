"""``hydra/launcher=geobench_local``: the jobs of a multirun as supervised local child processes.

Made for geobench's workers (``python -m geobench.run -m ... worker=0,1,2``): interchangeable
jobs that share one sweep directory and take units of work from one Optuna study until none is
left. Every job runs in a forked child process, through Hydra's own ``run_job`` with the job's
sweep config, exactly as the basic and joblib launchers run it (:mod:`._supervisor` watches them).

How the command ends:

* every job returned: its :class:`JobReturn` goes back to Hydra as it is (a task exception
  fails the multirun as with any launcher);
* a job's task exited with a non-zero code (geobench prints its error as one line and exits
  2): the command exits with that code once the other jobs have ended;
* a job's process died by a signal, respawns used up: the other workers redo its unit (the study
  re-enqueues a dead worker's trial after the heartbeat's grace period). The parent then asks
  ``completion_check`` (``geobench.run.unfinished``: it opens the sweep's Optuna storage) whether
  every unit is done: if so the dead job is reported COMPLETED (its work was done by the others)
  and the command exits 0; if not it prints one ``error:`` line saying what is left and exits 1.
  Without a check the dead job is a FAILED job (:class:`WorkerDied`).

A geobench worker returns only once every unit of the sweep is done, so a job that completed
already proves the sweep finished; the check matters when workers died (e.g. all of them).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from ._supervisor import Job, Supervisor, signal_name

log = logging.getLogger(__name__)


class WorkerDied(RuntimeError):
    """A job's process was killed by a signal and not restarted."""


class GeobenchLocalLauncher(Launcher):
    def __init__(self, n_jobs: int | None = None, respawn: int = 1, stop_timeout: float = 10.0,
                 completion_check: str | None = None) -> None:
        self.n_jobs, self.respawn, self.stop_timeout = n_jobs, max(0, int(respawn)), float(stop_timeout)
        self.completion_check = completion_check
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        n = len(job_overrides)
        at_once = n if not self.n_jobs or self.n_jobs <= 0 else min(n, self.n_jobs)
        log.info("geobench_local is launching %d jobs (%d at once, respawn %d), sweep output dir : %s",
                 n, at_once, self.respawn, sweep_dir)
        jobs = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            jobs.append(Job(idx, list(overrides), self._job_config(idx, overrides), self.respawn))
        Supervisor(self._run_job, at_once, self.respawn, self.stop_timeout).run_all(jobs)
        return self._returns(jobs)

    def _job_config(self, idx: int, overrides: Sequence[str]) -> DictConfig:
        assert self.config is not None and self.hydra_context is not None
        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(config):
            config.hydra.job.id = f"{config.hydra.job.name}_{idx}"
            config.hydra.job.num = idx
        return config

    def _run_job(self, job: Job) -> JobReturn:
        """In the child process: the task, as Hydra's launchers run it."""
        assert self.hydra_context is not None and self.task_function is not None
        return run_job(hydra_context=self.hydra_context, task_function=self.task_function,
                       config=job.config, job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")

    # -- the outcome --------------------------------------------------------------------------
    def _returns(self, jobs: list[Job]) -> list[JobReturn]:
        for job in jobs:
            if job.result is None and job.exitcode:  # the task exited with an error of its own
                log.error("worker %d exited with code %d", job.idx, job.exitcode)
                raise SystemExit(job.exitcode)
        dead = [j for j in jobs if j.result is None and j.signal]
        redone = bool(dead) and self._sweep_done(dead[0])
        out = []
        for job in jobs:
            if job.result is not None:
                out.append(job.result)
            elif job.signal and not redone:
                out.append(_return(job, JobStatus.FAILED,
                                   WorkerDied(f"worker {job.idx} died (signal {signal_name(job.signal)})")))
            else:  # exited 0 without a result, or died with its unit redone by the others
                out.append(_return(job, JobStatus.COMPLETED, None))
        return out

    def _sweep_done(self, job: Job) -> bool:
        """Ask the completion check; exit 1 with one line when units remain undone."""
        if not self.completion_check:
            return False
        from hydra.utils import get_method

        try:
            left: Any = get_method(self.completion_check)(job.config)
        except Exception as exc:
            left = f"cannot tell whether the sweep finished ({type(exc).__name__}: {exc})"
        if left:
            print(f"error: {left}", file=sys.stderr, flush=True)
            raise SystemExit(1)
        log.info("every unit of the sweep is done")
        return True


def _return(job: Job, status: JobStatus, value: Any) -> JobReturn:
    ret = JobReturn(overrides=job.overrides, status=status)
    ret.return_value = value
    return ret
