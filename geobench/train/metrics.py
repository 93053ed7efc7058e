"""The benchmark's metrics through torchmetrics, under the official GEO-Bench-2 names.

=============================  ============================  ======================================
task                           official name                 torchmetrics
=============================  ============================  ======================================
classification                 ``Overall_Accuracy``          ``MulticlassAccuracy(average="micro")``
multilabel_classification      ``Multilabel_F1_Score``       ``MultilabelF1Score(average="macro",
                                                             threshold=0.5)`` on sigmoid scores
segmentation                   ``Multiclass_Jaccard_Index``  ``MulticlassJaccardIndex(average=
                                                             "macro", ignore_index=...)`` (mIoU)
regression                     ``RMSE``                      ``MeanSquaredError(squared=False)``
                                                             over valid pixels of the whole split
detection                      ``test_test_map``             terratorch's per-batch mAP (score >
                                                             0.5, NMS 0.5, batch-size-weighted
                                                             mean); also ``coco_map`` (whole split)
instance_segmentation          ``test_test_segm_map``        the same on masks; also
                                                             ``coco_segm_map``
=============================  ============================  ======================================


The averages are the ones terratorch's tasks use (GEO-Bench-2 trained with terratorch): its
multi-label task logs ``Multilabel_F1_Score`` as the macro average over labels (terratorch PR
#297), its classification task ``Overall_Accuracy`` as micro accuracy, its segmentation task the
Jaccard index macro-averaged with ``ignore_index``, and its object-detection task
``MeanAveragePrecision`` with the default macro average (``test_`` prefix twice in the official
names). Instance segmentation also reports the box mAP as ``test_test_map``.

The leaderboard value may differ from the raw metric: BioMassters reports
``1 − RMSE × 0.2537951171398163`` (the manifest's ``metric_transform``; :func:`leaderboard_value`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from geobench.errors import ConfigError
from geobench.manifest import METRIC_FOR_TASK

if TYPE_CHECKING:
    from geobench.manifest import MetricTransform
    from geobench.train.task_spec import TaskSpec

HIGHER_IS_BETTER: dict[str, bool] = {
    "Overall_Accuracy": True,
    "Multilabel_F1_Score": True,
    "Multiclass_Jaccard_Index": True,
    "RMSE": False,
    "test_test_map": True,
    "test_test_segm_map": True,
}


def leaderboard_value(value: float, transform: MetricTransform | None) -> float:
    """The value the leaderboard shows for a raw metric (BioMassters: ``1 - RMSE * scale``)."""
    if transform is None:
        return float(value)
    if transform.kind == "one_minus_scaled":
        return 1.0 - float(value) * transform.scale
    raise ConfigError(f"unknown metric_transform kind {transform.kind!r}")


class TaskMetrics:
    """Accumulates a task's official metric over batches; ``compute()`` -> ``{name: value}``.

    Args:
        spec: the task (type, classes, ignore_index).
        device: where the accumulators live (detection accumulates on the CPU for pycocotools).
    """

    def __init__(self, spec: TaskSpec, device: torch.device | str = "cpu") -> None:
        from torchmetrics.classification import (
            MulticlassAccuracy,
            MulticlassJaccardIndex,
            MultilabelF1Score,
        )
        from torchmetrics.regression import MeanSquaredError

        self.spec = spec
        self.task = spec.task
        self.name = METRIC_FOR_TASK[spec.task]
        self.higher_is_better = HIGHER_IS_BETTER[self.name]
        k = spec.num_classes
        metric: Any
        if self.task == "classification":
            metric = MulticlassAccuracy(num_classes=k, average="micro", validate_args=False)
        elif self.task == "multilabel_classification":
            metric = MultilabelF1Score(num_labels=k, average="macro", threshold=0.5,
                                       validate_args=False)
        elif self.task == "segmentation":
            metric = MulticlassJaccardIndex(num_classes=k, average="macro",
                                            ignore_index=spec.ignore_index, validate_args=False)
        elif self.task == "regression":
            metric = MeanSquaredError(squared=False)
        else:
            from geobench.train.detection_metrics import DetectionMetrics

            metric = DetectionMetrics(self.task)
            device = "cpu"
        self.device = torch.device(device)
        self.metric = metric.to(self.device) if hasattr(metric, "to") else metric

    def reset(self) -> None:
        self.metric.reset()

    @torch.no_grad()
    def update(self, output: Any, batch: Mapping[str, Any]) -> None:
        """Add one batch: ``output`` of the task model, ``batch`` with its ``target``."""
        target = batch["target"]
        if self.task == "classification":
            self.metric.update(output.float().argmax(dim=1), target)
        elif self.task == "multilabel_classification":
            self.metric.update(torch.sigmoid(output.float()), target.to(torch.int64))
        elif self.task == "segmentation":
            self.metric.update(output.argmax(dim=1), target)
        elif self.task == "regression":
            out, tgt = output.float(), target.float()
            valid = batch.get("valid_mask")
            if valid is not None:
                valid = valid.to(torch.bool)
                out, tgt = out[valid], tgt[valid]
            self.metric.update(out.reshape(-1), tgt.reshape(-1))
        else:
            self.metric.update(output, target)

    def compute(self) -> dict[str, float]:
        """``{official name: raw value}`` (instance segmentation also gives the box mAP)."""
        value = self.metric.compute()
        if self.task in ("detection", "instance_segmentation"):
            return dict(value)
        return {self.name: float(value)}
