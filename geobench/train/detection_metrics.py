"""Detection and instance-segmentation evaluation: the official GEO-Bench-2 value and COCO mAP.

The official value
------------------
GEO-Bench-2 trained its detection models with terratorch's ``ObjectDetectionTask``; the leaderboard
columns ``test_test_map`` (Faster R-CNN datasets) and ``test_test_segm_map`` (Mask R-CNN datasets)
are what that task logs in ``test_step`` (validation, hence HPO and checkpoint selection, does the
same in ``validation_step`` under ``val_``). Read from IBM/terratorch 1.2.4,
``terratorch/tasks/object_detection_task.py`` (same code on the GEO-Bench-2 experiment branch
``dino_v3_od_experiments`` @ 20f18654), the procedure is, for every evaluation batch:

1. **Score filter**: per image, keep the detections with ``score > 0.5`` (strictly greater;
   ``apply_nms_sample``, lines 216-245, ``score_threshold=0.5`` from ``__init__``).
2. **Extra NMS**: ``torchvision.ops.nms(boxes, scores, 0.5)`` on the kept detections of each image
   (``iou_threshold=0.5``) — **class-agnostic** (plain ``nms``, not ``batched_nms``), on top of
   the per-class NMS torchvision's RoI heads already ran. Masks follow the kept indices.
3. **Masks** (Mask R-CNN only): for an image with at least one detection left, the ``(N, 1, H, W)``
   probabilities become ``(masks > 0.5).squeeze(1)`` as ``uint8`` (lines 403-407).
4. **Per-batch mAP**: ``metrics = self.test_metrics(y_hat, y)`` (line 410), a ``MetricCollection``
   ``{"mAP": MeanAveragePrecision(iou_type="bbox" | ("bbox", "segm"), average="macro")}`` cloned
   with ``prefix="test_"`` (``configure_metrics``, lines 134-155). All other arguments are
   torchmetrics' defaults: ``box_format="xyxy"``, COCO IoU thresholds 0.50:0.05:0.95, 101 recall
   points, ``max_detection_thresholds=[1, 10, 100]``, ``class_metrics=False``,
   ``backend="pycocotools"``. Calling the collection runs ``Metric.forward``, which returns the
   metric **of this batch alone** (MeanAveragePrecision has ``full_state_update=True``: the
   global state is set aside, the batch is evaluated from an empty state, and the global state is
   restored; torchmetrics 1.x ``Metric._forward_full_state_update``). The dict's keys are the
   flattened result keys with the prefix: ``test_map``, ``test_map_50``, ``test_map_75``,
   ``test_map_{small,medium,large}``, ``test_mar_{1,10,100}``, ``test_mar_{small,medium,large}``,
   ``test_map_per_class``, ``test_mar_100_per_class`` (``-1`` with ``class_metrics=False``) and
   ``test_classes``, which is popped (line 413). With ``iou_type=("bbox", "segm")`` every key but
   ``classes`` carries the IoU type: ``test_bbox_map``, ``test_segm_map``, ... (so terratorch's
   Mask R-CNN box mAP is ``test_bbox_map``; there is no ``test_map`` there).
5. **Epoch value**: ``self.log_dict(metrics, batch_size=batch_size)`` (line 415) with
   ``batch_size = x.shape[0]`` (``get_batch_size``, line 29), the number of images. In
   ``test_step``/``validation_step`` Lightning logs ``on_step=False, on_epoch=True`` with
   ``reduce_fx="mean"``; its ``_ResultMetric`` (lightning 2.x,
   ``pytorch/trainer/connectors/logger_connector/result.py``, ``update``/``compute``) accumulates
   ``value += v_b * n_b`` and ``cumulated_batch_size += n_b`` and returns their ratio: the epoch
   value is the **image-weighted mean of the per-batch mAPs**, ``sum_b n_b v_b / sum_b n_b``.
   Nothing is filtered: a batch without any ground-truth object has mAP ``-1`` (pycocotools'
   "undefined"), and that ``-1`` enters the mean with its weight; a batch with ground truth but no
   detection left has mAP ``0``. (A NaN would propagate; torchmetrics does not return NaN here.)
   terratorch-iterate prefixes the logged ``test_map`` with ``test_`` again: ``test_test_map`` /
   ``test_test_segm_map``.

The official value therefore depends on how the split is cut into evaluation batches (size and
order): pass batches exactly as the evaluation loader yields them.

This module re-implements that procedure (own code; no terratorch import): the filter and NMS in
:func:`official_filter`, one torchmetrics ``MeanAveragePrecision`` with terratorch's
configuration evaluated on each batch (``reset`` + ``update`` + ``compute``), and the weighted
mean accumulated in float64 (Lightning accumulates in float32; the difference is below 1e-6).
Two shortcuts skip pycocotools where its answer is fixed: a batch without ground truth scores
``-1`` and a batch with ground truth but no detection after the filter scores ``0`` (both checked
against torchmetrics in ``tests/test_detection_metrics.py``).

The COCO value
--------------
Besides, ``coco_map`` (and ``coco_segm_map``) is the whole-split COCO mAP@[.50:.95]: every raw
detection (no score filter, no extra NMS, masks at 0.5) of every batch into one
``MeanAveragePrecision`` computed once — the standard COCO evaluation, independent of batching.

==========================  =====================================================================
key                         value
==========================  =====================================================================
``test_test_map``           official box mAP (detection; for instance segmentation the official
                            procedure's box mAP, which terratorch logs as ``test_bbox_map``)
``test_test_segm_map``      official mask mAP (instance segmentation)
``coco_map``                whole-split COCO box mAP
``coco_segm_map``           whole-split COCO mask mAP (instance segmentation)
==========================  =====================================================================
"""

from __future__ import annotations

from typing import Any

import torch

from geobench.errors import ConfigError

SCORE_THRESHOLD = 0.5
NMS_IOU_THRESHOLD = 0.5
MASK_THRESHOLD = 0.5

_TASKS = ("detection", "instance_segmentation")


def official_filter(pred: dict[str, torch.Tensor], score_threshold: float = SCORE_THRESHOLD,
                    iou_threshold: float = NMS_IOU_THRESHOLD) -> dict[str, torch.Tensor]:
    """One image's detections after terratorch's evaluation filter (a new dict; input untouched).

    Keeps ``scores > score_threshold``, then class-agnostic NMS at ``iou_threshold`` (kept in
    decreasing score order, as ``torchvision.ops.nms`` returns them). Masks follow the boxes.
    """
    from torchvision.ops import nms

    boxes, scores, labels = pred["boxes"], pred["scores"], pred["labels"]
    keep = (scores > score_threshold).nonzero().squeeze(1)
    boxes, scores = boxes.index_select(0, keep), scores.index_select(0, keep)
    keep = keep.index_select(0, nms(boxes.float(), scores.float(), iou_threshold))
    out = {"boxes": pred["boxes"].index_select(0, keep), "scores": pred["scores"].index_select(0, keep),
           "labels": labels.index_select(0, keep)}
    if "masks" in pred:
        out["masks"] = pred["masks"].index_select(0, keep)
    return out


def _pred_for_map(pred: dict[str, torch.Tensor], masks: bool) -> dict[str, torch.Tensor]:
    d = {"boxes": pred["boxes"].detach().float().reshape(-1, 4).cpu(),
         "scores": pred["scores"].detach().float().cpu(), "labels": pred["labels"].detach().long().cpu()}
    if masks:
        m = pred["masks"].detach()
        if m.ndim == 4:
            m = m[:, 0]
        if m.dtype != torch.bool:
            m = m > MASK_THRESHOLD  # thresholded on the device: a quarter of the bytes to copy
        d["masks"] = m.to(torch.uint8).cpu()
    return d


def _target_for_map(target: dict[str, torch.Tensor], masks: bool) -> dict[str, torch.Tensor]:
    d = {"boxes": target["boxes"].detach().float().reshape(-1, 4).cpu(),
         "labels": target["labels"].detach().long().cpu()}
    if masks:
        m = target["masks"].detach()
        if m.ndim == 2:  # a single (H, W) mask
            m = m[None]
        d["masks"] = m.to(torch.bool).to(torch.uint8).cpu()
    return d


class DetectionMetrics:
    """The official GEO-Bench-2 detection metric (per-batch, filtered) and whole-split COCO mAP.

    Args:
        task: ``"detection"`` (boxes) or ``"instance_segmentation"`` (boxes and masks).

    ``update(preds, targets)`` takes one evaluation batch: ``preds`` one torchvision-style dict
    per image (``boxes`` xyxy, ``scores``, ``labels`` and, for instance segmentation, ``masks``
    ``(N, 1, H, W)`` or ``(N, H, W)`` probabilities), ``targets`` one dict per image (``boxes``,
    ``labels``, ``masks`` ``(M, H, W)``). ``compute()`` gives the values described in the module
    docstring; before any update the official values are NaN.
    """

    def __init__(self, task: str) -> None:
        from torchmetrics.detection import MeanAveragePrecision

        if task not in _TASKS:
            raise ConfigError(f"DetectionMetrics handles {_TASKS}, not {task!r}")
        self.task = task
        self.masks = task == "instance_segmentation"
        iou: Any = ("bbox", "segm") if self.masks else "bbox"
        self._types = ("bbox", "segm") if self.masks else ("bbox",)
        # terratorch's configuration (configure_metrics): iou_type and average="macro", the rest
        # torchmetrics' defaults (written out here so that a change of default shows up).
        kwargs: dict[str, Any] = dict(iou_type=iou, box_format="xyxy", average="macro",
                                      class_metrics=False, backend="pycocotools")
        self._batch_metric = MeanAveragePrecision(**kwargs)
        self._coco_metric = MeanAveragePrecision(**kwargs)
        self.reset()

    def reset(self) -> None:
        self._weighted = dict.fromkeys(self._types, 0.0)
        self._images = 0
        self._coco_updated = False
        self._coco_metric.reset()

    def _key(self, iou_type: str, name: str = "map") -> str:
        return f"{iou_type}_{name}" if self.masks else name

    @torch.no_grad()
    def batch_values(self, preds: list[dict[str, torch.Tensor]],
                     targets: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        """The official per-batch mAP of one batch: ``{"bbox": v[, "segm": v]}`` (no accumulation)."""
        return self._official([_pred_for_map(p, self.masks) for p in preds],
                              [_target_for_map(t, self.masks) for t in targets])

    def _official(self, preds: list[dict[str, torch.Tensor]],
                  targets: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        # preds already on the CPU with binary masks: thresholding commutes with the filter
        if not any(t["labels"].numel() for t in targets):
            return dict.fromkeys(self._types, -1.0)  # pycocotools: no ground truth -> -1
        filtered = [official_filter(p) for p in preds]
        if not any(p["labels"].numel() for p in filtered):
            return dict.fromkeys(self._types, 0.0)  # ground truth, nothing detected -> 0
        m = self._batch_metric
        m.reset()
        m.update(filtered, targets)
        res = m.compute()
        m.reset()
        return {t: float(res[self._key(t)]) for t in self._types}

    @torch.no_grad()
    def update(self, preds: list[dict[str, torch.Tensor]],
               targets: list[dict[str, torch.Tensor]]) -> None:
        """Add one evaluation batch (see the class docstring)."""
        if len(preds) != len(targets):
            raise ConfigError(f"{len(preds)} predictions for {len(targets)} targets")
        if not preds:
            return
        n = len(preds)
        cpu_preds = [_pred_for_map(p, self.masks) for p in preds]
        cpu_targets = [_target_for_map(t, self.masks) for t in targets]
        for t, v in self._official(cpu_preds, cpu_targets).items():
            self._weighted[t] += v * n
        self._images += n
        self._coco_metric.update(cpu_preds, cpu_targets)
        self._coco_updated = True

    def compute(self) -> dict[str, float]:
        """``{official name: value, "coco_map": value[, "coco_segm_map": value]}``."""
        nan = float("nan")
        off = {t: (self._weighted[t] / self._images if self._images else nan) for t in self._types}
        out = {"test_test_map": off["bbox"]}
        if self.masks:
            out["test_test_segm_map"] = off["segm"]
        if self._coco_updated:
            res = self._coco_metric.compute()
            out["coco_map"] = float(res[self._key("bbox")])
            if self.masks:
                out["coco_segm_map"] = float(res[self._key("segm")])
        else:
            out["coco_map"] = nan
            if self.masks:
                out["coco_segm_map"] = nan
        return out
