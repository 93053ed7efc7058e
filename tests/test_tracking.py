"""tracking=mlflow: every HPO trial and seed run of a smoke run is an MLflow run with its params,
per-epoch curves, final scores and results row, read back with MLflow's own client; a resumed run
logs nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geobench.prepare import prepare_dataset
from geobench.results_store import iter_rows
from geobench.synthetic import write_synthetic

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")]


def test_smoke_run_logged_to_mlflow_and_read_back(tmp_path: Path) -> None:
    import mlflow

    root = tmp_path / "data"
    write_synthetic("so2sat", root, samples={"train": 16, "validation": 8, "test": 8}, image_size=16)
    prepare_dataset("so2sat", root, progress=False)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "geobench.run", "capability=smoke", "dataset=so2sat", "prepare=false",
           "protocol.n_trials=2", "protocol.n_startup_trials=2", "protocol.seeds=[205]", "protocol.max_epochs=2",
           "protocol.image_size=16", "leaderboard=false", "progress=log", "num_workers=0", f"data_root={root}",
           f"hydra.run.dir={run}", "tracking=mlflow"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for _ in range(2):  # the second run resumes: nothing new to do or log
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{run / 'mlflow.db'}")
    exp = client.get_experiment_by_name("smoke/so2sat")
    assert exp is not None
    logged = client.search_runs([exp.experiment_id])
    rows = {r["run_id"]: r for r in iter_rows(run)}
    assert sorted(r.data.tags["geobench.run_id"] for r in logged) == sorted(rows)  # 2 trials + 1 seed, once
    for r in logged:
        row = rows[r.data.tags["geobench.run_id"]]
        assert float(r.data.params["lr"]) == pytest.approx(row["lr"]) and r.data.params["protocol"] == "smoke"
        curve = client.get_metric_history(r.info.run_id, "val_metric")
        assert [m.step for m in curve] == list(range(row["epochs"]))
        assert r.data.metrics["best_val_metric"] == pytest.approx(row["val_metric"])
        if row["phase"] == "repeat":
            assert r.data.metrics["test_metric"] == pytest.approx(row["test metric"])
        artifact = client.download_artifacts(r.info.run_id, "results_row.json", str(tmp_path / r.info.run_id))
        assert json.loads(Path(artifact).read_text())["run_id"] == row["run_id"]
