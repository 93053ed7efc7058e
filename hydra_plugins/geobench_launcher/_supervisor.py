"""The parent's side of ``geobench_local``: one forked child process per job, watched until each
has returned its :class:`~hydra.core.utils.JobReturn` or exited.

* A child killed by a signal (SIGKILL, the OOM killer) is logged as one line and, while the job
  has respawns left, started again for the same job (same config, same ``worker=``).
* SIGTERM or SIGINT to the parent terminates every child (SIGTERM, then SIGKILL after
  ``stop_timeout``) and exits 128 + the signal.
* A child dies with its parent: on Linux the kernel sends it SIGKILL when the parent dies
  (``prctl(PR_SET_PDEATHSIG)``), elsewhere a thread polls ``os.getppid()``; no worker outlives the
  command, even when the command itself is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from hydra.core.utils import JobReturn
from omegaconf import DictConfig

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Job:
    """One job of the sweep and what became of it."""

    idx: int
    overrides: list[str]
    config: DictConfig            # the job's composed config (with its hydra node)
    respawns_left: int
    process: Any = None           # multiprocessing.Process while it runs
    conn: Connection | None = None
    result: JobReturn | None = None
    exitcode: int | None = None   # how its last process exited (without a result)
    signal: int | None = None     # the signal that killed its last process


class Stopped(BaseException):
    """The parent received SIGTERM or SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


class Supervisor:
    """Runs ``run_job(job)`` for every job in a child process, ``n_jobs`` at a time."""

    def __init__(self, run_job: Callable[[Job], JobReturn], n_jobs: int, respawn: int,
                 stop_timeout: float) -> None:
        self.run_job, self.n_jobs, self.respawn = run_job, max(1, n_jobs), respawn
        self.stop_timeout = stop_timeout
        self.ctx = multiprocessing.get_context("fork")
        self.running: list[Job] = []

    def run_all(self, jobs: list[Job]) -> None:
        """Return once every job has a result or has exited for good (deaths respawned)."""
        pending = deque(jobs)
        with _stop_on_signals():
            try:
                while pending or self.running:
                    while pending and len(self.running) < self.n_jobs:
                        self._start(pending.popleft())
                    for job in self._wait():
                        if self._ended(job):
                            pending.appendleft(job)
            except Stopped as stop:
                log.warning("%s: stopping %d worker(s)", signal_name(stop.signum), len(self.running))
                self.stop()
                raise SystemExit(128 + stop.signum) from None
            finally:
                self.stop()  # none left unless something failed here

    def _start(self, job: Job) -> None:
        reader, writer = self.ctx.Pipe(duplex=False)
        job.result, job.exitcode, job.signal = None, None, None
        job.process = self.ctx.Process(target=_child, args=(self.run_job, job, writer, os.getpid()),
                                       name=f"worker {job.idx}")
        with _signals_blocked():  # the child resets its handlers before it takes a signal
            job.process.start()
            writer.close()
            job.conn = reader
            self.running.append(job)

    def _wait(self) -> list[Job]:
        """Block until a child sends its result or exits; the jobs whose process exited."""
        owner: dict[Any, Job] = {}
        for job in self.running:
            owner[job.process.sentinel] = job
            if job.conn is not None:
                owner[job.conn] = job
        exited = []
        for obj in wait(list(owner)):
            job = owner[obj]
            if obj is job.conn:
                _receive(job)
            else:
                exited.append(job)
        for job in exited:
            job.process.join()
            if job.conn is not None and job.conn.poll():
                _receive(job)
            if job.conn is not None:
                job.conn.close()
                job.conn = None
            self.running.remove(job)
        return exited

    def _ended(self, job: Job) -> bool:
        """Record how ``job``'s process ended; True when it is to be started again."""
        code = job.process.exitcode
        pid = job.process.pid
        job.process = None
        if job.result is not None:
            return False
        if code is None or code >= 0:
            job.exitcode = code
            return False
        job.signal = -code
        again = job.respawns_left > 0
        tail = (f"; restarting it (respawn {self.respawn - job.respawns_left + 1} of {self.respawn})"
                if again else "")
        log.warning("worker %d died (signal %s, pid %d); its unit will be redone%s", job.idx,
                    signal_name(job.signal), pid, tail)
        if again:
            job.respawns_left -= 1
        return again

    def stop(self) -> None:
        """Terminate every running child: SIGTERM, SIGKILL after ``stop_timeout`` seconds."""
        procs = [j.process for j in self.running if j.process is not None]
        for p in procs:
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
        for job in self.running:
            if job.conn is not None:
                job.conn.close()
            job.conn, job.process = None, None
        self.running.clear()


def _receive(job: Job) -> None:
    assert job.conn is not None
    try:
        job.result = job.conn.recv()
    except (EOFError, OSError):  # the child exited without a result
        pass
    job.conn.close()
    job.conn = None


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        for s in _STOP_SIGNALS:  # a second signal must not interrupt the clean-up
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)

    old = {s: signal.signal(s, handler) for s in _STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# -- the child's side ----------------------------------------------------------------------------
def _child(run_job: Callable[[Job], JobReturn], job: Job, conn: Connection, parent_pid: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _die_with_parent(parent_pid)
    ret = run_job(job)  # a SystemExit of the task ends the child with its code
    try:
        conn.send(ret)
    except Exception as exc:  # an unpicklable return value or exception: send what it says
        value = ret._return_value
        ret.return_value = RuntimeError(f"{type(value).__name__}: {value} ({exc})")
        conn.send(ret)
    conn.close()


def _die_with_parent(parent_pid: int) -> None:
    """Have this process SIGKILLed when the parent dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        ok = False
    if not ok:
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGKILL)
