"""Results rows of the sweep (DESIGN.md's fixed results row, plus the protocol columns)."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import geobench

if TYPE_CHECKING:
    from geobench.config import RunConfig
    from geobench.sweep.plan import DatasetPlan
    from geobench.sweep.runner import Unit

# The leaderboard's decoder labels: the published rows say "UNet" for the classification datasets
# too (an artefact of the results table; the paper and geobench use one linear layer there).
DECODER = {"classification": "UNet", "multilabel_classification": "UNet", "segmentation": "UNet",
           "regression": "UNet", "detection": "faster-rcnn", "instance_segmentation": "mask-rcnn"}
FT_COLUMN = {"full": "full_ft", "frozen": "frozen", "lora": "lora"}
# the whole-split COCO mAP of a detection run's test split (the official number is "test metric")
COCO_KEYS = {"detection": "coco_map", "instance_segmentation": "coco_segm_map"}


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _finite(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def make_row(*, plan: DatasetPlan, unit: Unit, run: RunConfig, result: Any, started_at: str) -> dict[str, Any]:
    s = plan.settings
    test = result.test_metrics.get(plan.metric) if unit.score_test else None
    coco = result.test_metrics.get(COCO_KEYS.get(s.task, ""), None) if unit.score_test else None
    return {
        "dataset": plan.dataset,
        "Metric": plan.metric,
        "test metric": test,
        "Seed": unit.seed if unit.score_test else s.hpo_seed,
        "backbone": run.model.key,
        "decoder": DECODER[plan.task],
        "experiment_name": f"geobench_{s.protocol}_{run.model.key}_{run.run_name}",
        "partition name": f"{s.data_percentage}%",
        "early_stop_patience": s.early_stop_patience,
        "n_trials": plan.n_trials,
        "data_percentages": s.data_percentage,
        "batch_size_selection": "Fixed" if len(plan.batch_sizes) == 1 else "HPO",
        "frozen_or_full_ft": FT_COLUMN.get(s.finetune, s.finetune),
        "batch_size": int(unit.batch_size),
        "lr": float(unit.lr),
        "weight_decay": s.weight_decay,
        "run_id": unit.run_id,
        "phase": unit.phase,
        "trial": unit.key if unit.phase == "hpo" else None,
        "val_metric": _finite(result.best_val_metric),
        "test_metric_coco": _finite(coco),
        "protocol": s.protocol,
        "protocol_hash": s.hash(),
        "epochs": int(result.epochs),
        "train_seconds": float(result.train_seconds),
        "images_per_second": float(result.images_per_second),
        "device": result.device,
        "geobench_version": geobench.__version__,
        "config_hash": plan.config_hash,
        "started_at": started_at,
        "finished_at": now(),
    }
