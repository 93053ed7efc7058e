"""Several workers of the same command cooperate through the Optuna storage (Hydra multirun with
the joblib launcher): every trial and every seed run is done exactly once, by the rows themselves,
and the rows equal those of one uninterrupted worker value for value. The same workers under the
geobench_local launcher, killed one by one: tests/test_run_worker_deaths.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from geobench.prepare import prepare_dataset
from geobench.results_store import read_rows
from geobench.synthetic import write_synthetic

pytestmark = pytest.mark.slow

DATASET = "so2sat"
N_TRIALS, SEEDS = 4, (205, 913, 1829)


def make_data(root: Path) -> Path:
    """The small synthetic dataset the workers train on, prepared under ``root``."""
    write_synthetic(DATASET, root, samples={"train": 16, "validation": 8, "test": 8}, image_size=16)
    prepare_dataset(DATASET, root, progress=False)
    return root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"))


REPO = Path(__file__).resolve().parents[1]
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=3"]


def _command(run_dir: Path, data_root: Path, launcher: list[str], extra: list[str]) -> list[str]:
    """Three workers of one sweep (``worker=0,1,2``) under ``launcher``."""
    return [sys.executable, "-m", "geobench.run", "-m", *_args(data_root), f"hydra.sweep.dir={run_dir}",
            "worker=0,1,2", *launcher, *extra]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # the repository root first on the path: Hydra finds its hydra_plugins/ (the geobench_local
    # launcher) in a checkout as well as in an installed geobench
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path, **(extra or {}))


def _multirun(run_dir: Path, data_root: Path, extra: list[str], env_extra: dict[str, str] | None = None):
    return subprocess.run(_command(run_dir, data_root, JOBLIB, extra), env=_env(env_extra), capture_output=True,
                          text=True, timeout=900)


def _args(data_root: Path) -> list[str]:
    return ["model=smoke", f"dataset={DATASET}", "protocol=smoke", "prepare=false", f"protocol.n_trials={N_TRIALS}",
            "protocol.n_startup_trials=3", f"protocol.seeds=[{','.join(map(str, SEEDS))}]",
            "protocol.max_epochs=2", "protocol.image_size=16", "progress=log", "num_workers=0",
            "poll_seconds=0.5", f"data_root={data_root}"]


VALUES = ("dataset", "phase", "trial", "Seed", "lr", "batch_size", "val_metric", "test metric", "epochs",
          "run_id", "protocol_hash")


def _values(run_dir: Path) -> list[tuple]:
    from geobench.results_store import iter_rows

    return sorted(tuple(r[c] for c in VALUES) for r in iter_rows(run_dir))


def single_values(data_root: Path, run: Path) -> list[tuple]:
    """The rows of one uninterrupted worker (a plain run in ``run``)."""
    out = subprocess.run([sys.executable, "-m", "geobench.run", *_args(data_root), f"hydra.run.dir={run}",
                          "leaderboard=false"], env=dict(os.environ, OMP_NUM_THREADS="1"),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    return _values(run)


@pytest.fixture(scope="module")
def single(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    return single_values(data_root, tmp_path_factory.mktemp("single") / "run")


def _check_exactly_once(run_dir: Path, storage_url: str, single: list[tuple]) -> None:
    import optuna
    from optuna.trial import TrialState

    df = read_rows(run_dir)
    hpo = df[df.phase == "hpo"]
    rep = df[df.phase == "repeat"]
    assert sorted(hpo.trial.astype(int)) == list(range(N_TRIALS))  # each slot once, from the rows
    # each seed slot once (the slot is in the run id; a zero score on this tiny data is redrawn)
    assert sorted(int(run_id.split("-")[2]) for run_id in rep.run_id) == sorted(SEEDS)
    assert len(df) == N_TRIALS + len(SEEDS) and df.run_id.is_unique
    assert _values(run_dir) == single  # the rows of one uninterrupted worker, value for value
    studies = optuna.get_all_study_names(storage_url)
    hpo_name = next(n for n in studies if not n.endswith(".repeat"))
    trials = optuna.load_study(study_name=hpo_name, storage=storage_url).get_trials()
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(done) == N_TRIALS and len({t.user_attrs["key"] for t in done}) == N_TRIALS
    seeds = optuna.load_study(study_name=hpo_name + ".repeat", storage=storage_url).get_trials()
    done = [t.user_attrs["key"] for t in seeds if t.state == TrialState.COMPLETE]
    assert sorted(done) == sorted(SEEDS)


def test_three_local_workers_sqlite(data_root: Path, tmp_path: Path, single: list[tuple]) -> None:
    run = tmp_path / "run"
    out = _multirun(run, data_root, [])
    assert out.returncode == 0, out.stderr[-4000:]
    _check_exactly_once(run, f"sqlite:///{run / 'optuna.db'}", single)


PG_URL = os.environ.get("GEOBENCH_TEST_PG_URL")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="GEOBENCH_TEST_PG_URL not set (.ci/run starts PostgreSQL and sets it)")
def test_three_local_workers_postgres(data_root: Path, tmp_path: Path, single: list[tuple]) -> None:
    import sqlalchemy

    # a fresh database per test run
    name = f"gb_{os.getpid()}"
    admin = sqlalchemy.create_engine(PG_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"  # type: ignore[union-attr]
    run = tmp_path / "run"
    out = _multirun(run, data_root, ["storage=postgres"], {"GEOBENCH_OPTUNA_URL": url})
    assert out.returncode == 0, out.stderr[-4000:]
    assert not (run / "optuna.db").exists()
    _check_exactly_once(run, url, single)
