"""Experiment tracking where the field already looks: ``tracking=mlflow``.

Every finished unit (HPO trial or seed run) becomes one MLflow run in the experiment of the run
directory: its parameters (dataset, phase, trial or seed, lr, batch size, model, protocol and its
hash), its per-epoch curves (validation metric and loss, training loss, learning rate), its final
scores, and its results row as an artifact (``results_row.json``). The tracking URI defaults to
an SQLite file in the run directory (``sqlite:///RUN_DIR/mlflow.db``; MLflow 3 keeps its
file-system store in maintenance mode) with artifacts beside it in ``RUN_DIR/mlartifacts``;
``tracking_uri=`` points at any MLflow server. A unit is logged once: a resumed or concurrent run
finds it by its ``geobench.run_id`` tag. MLflow is optional (``pip install geobench[tracking]``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from geobench.errors import ConfigError

log = logging.getLogger("geobench.run")
RUN_ID_TAG = "geobench.run_id"


class MlflowTracker:
    """Logs finished units to MLflow (see the module docstring)."""

    def __init__(self, run_dir: Path, experiment: str, uri: str | None = None) -> None:
        try:
            import mlflow
        except ImportError:
            raise ConfigError("tracking=mlflow needs MLflow: pip install 'geobench[tracking]' "
                              "(or mlflow-skinny)") from None
        self.mlflow = mlflow
        self.uri = uri or f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.client = mlflow.tracking.MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id = found.experiment_id
        else:
            artifacts = (run_dir / "mlartifacts").resolve().as_uri()
            try:
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifacts)
            except Exception:  # another worker created it first
                again = self.client.get_experiment_by_name(experiment)
                if again is None:
                    raise
                self.experiment_id = again.experiment_id

    def logged(self, run_id: str) -> bool:
        runs = self.client.search_runs([self.experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'",
                                       max_results=1)
        return bool(runs)

    def log_unit(self, row: dict[str, Any], result: Any) -> None:
        """One finished unit: its results ``row`` and the loop's ``RunResult``."""
        if self.logged(str(row["run_id"])):
            return
        from mlflow.entities import Metric, Param, RunTag

        run = self.client.create_run(self.experiment_id, run_name=str(row["run_id"]),
                                     tags={RUN_ID_TAG: str(row["run_id"]), "geobench.phase": str(row["phase"])})
        keys = ("dataset", "phase", "trial", "Seed", "lr", "batch_size", "backbone", "protocol", "protocol_hash",
                "weight_decay", "frozen_or_full_ft", "config_hash", "geobench_version", "device")
        params = [Param(k.replace(" ", "_"), str(row[k])) for k in keys if row.get(k) is not None]
        metrics: list[Metric] = []
        curves = {"val_metric": result.val_metric_per_epoch, "val_loss": result.val_loss_per_epoch,
                  "train_loss": result.train_loss_per_epoch, "lr": result.lr_per_epoch}
        for name, values in curves.items():
            metrics += [Metric(name, float(v), 0, step) for step, v in enumerate(values) if _finite(v)]
        finals = {"best_val_metric": row.get("val_metric"), "test_metric": row.get("test metric"),
                  "test_metric_coco": row.get("test_metric_coco"), "epochs": row.get("epochs"),
                  "train_seconds": row.get("train_seconds"), "images_per_second": row.get("images_per_second")}
        metrics += [Metric(k, float(v), 0, 0) for k, v in finals.items() if v is not None and _finite(v)]
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params,
                              tags=[RunTag("geobench.metric", str(row["Metric"]))])
        self.client.log_dict(run.info.run_id, row, "results_row.json")
        self.client.set_terminated(run.info.run_id)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def make_tracker(kind: str, run_dir: Path, experiment: str, uri: str | None) -> MlflowTracker | None:
    if kind == "none":
        return None
    if kind == "mlflow":
        return MlflowTracker(run_dir, experiment, uri)
    raise ConfigError(f"tracking={kind!r}: expected none or mlflow")
