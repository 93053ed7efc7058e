"""Workers that die under the geobench_local launcher (``hydra/launcher=geobench_local``).

A worker SIGKILLed while it trains a unit is logged as one line and restarted; its unit is redone
and the sweep's rows are those of one uninterrupted worker. Stopping or killing the command
leaves no worker behind; when every worker died the command exits 1 with one ``error:`` line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from test_run_workers import (
    N_TRIALS,
    SEEDS,
    _check_exactly_once,
    _command,
    _env,
    make_data,
    single_values,
)

pytestmark = pytest.mark.slow

LOCAL = ["hydra/launcher=geobench_local"]
# a dead worker's trial is re-enqueued once its heartbeat is this stale (seconds)
FAST_RECOVERY = ["storage.heartbeat_interval=2", "storage.grace_period=10"]
BEGIN = re.compile(r"\| worker (\d+) pid (\d+) \|")  # the runner's line as a worker begins a unit


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def single(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    return single_values(data_root, tmp_path_factory.mktemp("single") / "run")


class Command:
    """The multirun as a child of the test, its merged stdout and stderr collected line by line."""

    def __init__(self, run_dir: Path, data_root: Path, extra: list[str]) -> None:
        self.run_dir = run_dir
        self.proc = subprocess.Popen(_command(run_dir, data_root, LOCAL, extra), env=_env(), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def first_begin(self, timeout: float = 300) -> tuple[int, int]:
        """(worker, pid) of the first unit a worker begins."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = BEGIN.search(line)
                if m:
                    return int(m.group(1)), int(m.group(2))
            assert self.proc.poll() is None, self.output()
            time.sleep(0.05)
        raise AssertionError("no worker began a unit:\n" + self.output())

    def wait(self, timeout: float = 900) -> int:
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.5)  # the reader takes the last lines
        return code

    def output(self) -> str:
        return "\n".join(self.lines)[-6000:]

    def matching(self, pattern: str) -> list[str]:
        return [line for line in self.lines if re.search(pattern, line)]


def _processes(run_dir: Path) -> list[int]:
    """Live processes of this sweep's command (the command and its forked workers share its argv)."""
    needle = f"hydra.sweep.dir={run_dir}".encode()
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and needle in (d / "cmdline").read_bytes().split(b"\0"):
                pids.append(int(d.name))
        except OSError:  # gone meanwhile
            continue
    return pids


def _assert_none_left(run_dir: Path, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while _processes(run_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes(run_dir) == []


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _wait_for_heartbeats(db: Path, timeout: float = 120) -> None:
    """Until every claimed (RUNNING) trial has its first heartbeat in the storage. Optuna finds
    stale only a trial that has a heartbeat: a worker killed between claiming a trial and its
    heartbeat thread's first write would leave that trial RUNNING for good."""
    import sqlite3
    from contextlib import closing

    query = ("SELECT COUNT(*) FROM trials t WHERE t.state = 'RUNNING' AND NOT EXISTS "
             "(SELECT 1 FROM trial_heartbeats h WHERE h.trial_id = t.trial_id)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(db, timeout=30)) as con:
            if con.execute(query).fetchone()[0] == 0:
                return
        time.sleep(0.05)
    raise AssertionError("a claimed trial has no heartbeat")


def _retried_trials(storage_url: str) -> list[tuple[str, str]]:
    """(state of the retry, state of the trial it redoes) for every re-enqueued trial."""
    import optuna

    out = []
    for name in optuna.get_all_study_names(storage_url):
        trials = optuna.load_study(study_name=name, storage=storage_url).get_trials()
        by_number = {t.number: t for t in trials}
        out += [(t.state.name, by_number[t.user_attrs["retry_of"]].state.name) for t in trials
                if "retry_of" in t.user_attrs]
    return out


def test_killed_worker_is_restarted_and_its_unit_redone(data_root: Path, tmp_path: Path,
                                                        single: list[tuple]) -> None:
    run = tmp_path / "run"
    cmd = Command(run, data_root, FAST_RECOVERY)
    worker, pid = cmd.first_begin()
    _wait_for_heartbeats(run / "optuna.db")
    os.kill(pid, signal.SIGKILL)  # while it trains its first unit (seconds: the model's imports)
    assert cmd.wait() == 0, cmd.output()
    assert cmd.matching(r"died") == [line for line in cmd.lines if line.endswith(
        f"worker {worker} died (signal SIGKILL, pid {pid}); its unit will be redone; restarting it (respawn 1 of 1)")]
    assert len(cmd.matching(r"died")) == 1
    assert not cmd.matching(r"error|Traceback")
    url = f"sqlite:///{run / 'optuna.db'}"
    _check_exactly_once(run, url, single)  # every unit once, the rows of one uninterrupted worker
    assert _retried_trials(url) == [("COMPLETE", "FAIL")]  # the killed unit, redone once
    _assert_none_left(run, within=0.0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopped_command_leaves_no_worker(data_root: Path, tmp_path: Path, sig: signal.Signals) -> None:
    run = tmp_path / "run"
    cmd = Command(run, data_root, [])
    cmd.first_begin()
    workers = _children(cmd.proc.pid)
    assert len(workers) == 3
    os.kill(cmd.proc.pid, sig)
    code = cmd.wait(timeout=120)
    if sig == signal.SIGTERM:  # the command stops its workers, then exits 128 + 15
        assert code == 128 + signal.SIGTERM, cmd.output()
        assert len(cmd.matching(r"SIGTERM: stopping 3 worker\(s\)$")) == 1
        _assert_none_left(run, within=0.0)
    else:  # killed outright: the kernel kills its workers (PR_SET_PDEATHSIG)
        assert code == -signal.SIGKILL
        _assert_none_left(run)
    assert not cmd.matching(r"died")


def test_every_worker_dead_exits_1_with_one_line(data_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = Command(run, data_root, ["hydra.launcher.respawn=0"])
    cmd.first_begin()
    workers = _children(cmd.proc.pid)
    assert len(workers) == 3
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    assert cmd.wait(timeout=120) == 1, cmd.output()
    died = cmd.matching(r"worker \d died \(signal SIGKILL, pid \d+\); its unit will be redone$")
    assert len(died) == 3
    total = N_TRIALS + len(SEEDS)
    assert cmd.matching(r"^error:") == [
        f"error: the sweep is unfinished: {total} of {total} units not done (its workers died); "
        f"run the same command again to finish it ({run})"]
    assert cmd.lines[-1].startswith("error:")
    assert not cmd.matching(r"Traceback")
    _assert_none_left(run, within=0.0)
