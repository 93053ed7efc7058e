"""Task models, fine-tuning modes and the training loop of the GEO-Bench-2 protocol.

Public names are imported lazily (this package pulls in torch):

* :func:`build_task_model`, :func:`task_model_from_manifest`, :class:`TaskSpec` — encoder + head;
* :class:`FinetuneConfig`, :func:`apply_finetune` — full / frozen / LoRA;
* :class:`TrainConfig`, :func:`fit`, :class:`RunResult`, :func:`evaluate` — the loop;
* :class:`TaskMetrics`, :func:`leaderboard_value` — official metrics;
* :class:`DetectionMetrics` — the official (per-batch) detection mAP and whole-split COCO mAP;
* :func:`seed_everything` — deterministic seeding.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TaskSpec": "task_model", "build_task_model": "task_model",
    "task_model_from_manifest": "task_model", "TaskModel": "task_model", "task_loss": "task_model",
    "DetectionTaskModel": "detection",
    "FinetuneConfig": "finetune", "apply_finetune": "finetune", "count_parameters": "finetune",
    "TrainConfig": "loop", "RunResult": "loop", "fit": "loop", "evaluate": "loop", "Stepper": "stepper",
    "TaskMetrics": "metrics", "leaderboard_value": "metrics",
    "DetectionMetrics": "detection_metrics",
    "seed_everything": "seeding",
    "collate_samples": "loaders", "make_loader": "loaders",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"geobench.train.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'geobench.train' has no attribute {name!r}")
