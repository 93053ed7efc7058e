"""Results rows of the sweep (DESIGN.md's fixed results row)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import geobench
from geobench.sweep.plan import DatasetPlan

DECODER = {"classification": "Linear", "multilabel_classification": "Linear", "segmentation": "UNet",
           "regression": "UNet", "detection": "faster-rcnn", "instance_segmentation": "mask-rcnn"}
FT_COLUMN = {"full": "full_ft", "frozen": "frozen", "lora": "lora"}


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def make_row(*, plan: DatasetPlan, run_id: str, phase: str, trial: int | None, seed: int, lr: float,
             batch_size: int, proto: dict[str, Any], model_key: str, run_name: str, result: Any,
             started_at: str) -> dict[str, Any]:
    test = result.test_metrics.get(plan.metric) if phase == "repeat" else None
    val = result.best_val_metric
    detection = plan.task in ("detection", "instance_segmentation")
    return {
        "dataset": plan.dataset,
        "Metric": plan.metric,
        "test metric": test,
        "Seed": seed,
        "backbone": model_key,
        "decoder": DECODER[plan.task],
        "experiment_name": f"geobench_{proto['name']}_{model_key}_{run_name}",
        "partition name": f"{proto.get('data_percentage', 100)}%",
        "early_stop_patience": int(proto["early_stop_patience"]),
        "n_trials": plan.n_trials,
        "data_percentages": int(proto.get("data_percentage", 100)),
        "batch_size_selection": "Fixed" if detection and len(plan.batch_sizes) == 1 else "HPO",
        "frozen_or_full_ft": FT_COLUMN.get(proto["finetune"], proto["finetune"]),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "weight_decay": float(proto["weight_decay"]),
        "run_id": run_id,
        "phase": phase,
        "trial": trial,
        "val_metric": None if val is None or (isinstance(val, float) and math.isnan(val)) else float(val),
        "epochs": int(result.epochs),
        "train_seconds": float(result.train_seconds),
        "images_per_second": float(result.images_per_second),
        "device": result.device,
        "geobench_version": geobench.__version__,
        "config_hash": plan.config_hash,
        "started_at": started_at,
        "finished_at": now(),
    }
