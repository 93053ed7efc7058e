"""The official GEO-Bench-2 detection metric against terratorch 1.2.4's own procedure.

terratorch's ``ObjectDetectionTask.test_step`` runs here, unmodified, inside a real Lightning test
loop: a subclass only replaces the model's forward by fixed predictions (and, for Mask R-CNN,
``reformat_batch``, whose ``torch.cat`` of an empty mask list fails on images without objects),
so the score filter, the NMS, the mask thresholding, the ``MetricCollection`` and Lightning's
``log_dict(batch_size=...)`` epoch mean are all terratorch's and Lightning's own code.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import torch

from geobench.torch_state import preserved_torch_state
from geobench.train.detection_metrics import DetectionMetrics, official_filter

SIZE = 32
K = 3
BATCH_SIZES = (3, 1, 4, 2, 5, 2, 3)


def _rand_box(g: torch.Generator) -> torch.Tensor:
    x1, y1 = torch.randint(0, SIZE - 8, (2,), generator=g).tolist()
    w, h = torch.randint(4, 12, (2,), generator=g).tolist()
    return torch.tensor([x1, y1, min(x1 + w, SIZE), min(y1 + h, SIZE)], dtype=torch.float32)


def _box_mask(box: torch.Tensor) -> torch.Tensor:
    m = torch.zeros(SIZE, SIZE, dtype=torch.uint8)
    x1, y1, x2, y2 = (int(v) for v in box.round())
    m[y1:y2, x1:x2] = 1
    return m


def make_batches(masks: bool, seed: int = 0) -> list[tuple[list[dict], list[dict]]]:
    """Seeded batches: images without objects, a batch without any object, a batch whose
    detections all score <= 0.5, and overlapping detections (jittered copies of each object with
    other labels and scores), so that the score filter and the class-agnostic NMS both matter."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for b, n in enumerate(BATCH_SIZES):
        preds, targets = [], []
        for _ in range(n):
            m = 0 if b == 3 else int(torch.randint(0, 4, (1,), generator=g))  # batch 3: no objects
            gt_boxes = [_rand_box(g) for _ in range(m)]
            t: dict[str, torch.Tensor] = {
                "boxes": torch.stack(gt_boxes) if m else torch.zeros(0, 4),
                "labels": torch.randint(1, K + 1, (m,), generator=g)}
            if masks:
                t["masks"] = (torch.stack([_box_mask(bx) for bx in gt_boxes]) if m
                              else torch.zeros(0, SIZE, SIZE, dtype=torch.uint8))
            boxes, labels = [], []
            for bx, lab in zip(gt_boxes, t["labels"].tolist(), strict=True):
                for _ in range(int(torch.randint(1, 5, (1,), generator=g))):
                    jitter = torch.randn(4, generator=g)
                    boxes.append((bx + jitter).clamp(0, SIZE))
                    hit = bool(torch.rand(1, generator=g) < 0.7)
                    labels.append(lab if hit else int(torch.randint(1, K + 1, (1,), generator=g)))
            for _ in range(int(torch.randint(0, 3, (1,), generator=g))):  # false positives
                boxes.append(_rand_box(g))
                labels.append(int(torch.randint(1, K + 1, (1,), generator=g)))
            q = len(boxes)
            scores = torch.rand(q, generator=g)
            if b == 5:
                scores = scores * 0.5  # batch 5: nothing above the score threshold
            bt = torch.stack(boxes) if q else torch.zeros(0, 4)
            bt[:, 2:] = torch.maximum(bt[:, 2:], bt[:, :2] + 1)
            p = {"boxes": bt, "scores": scores, "labels": torch.tensor(labels, dtype=torch.long)}
            if masks:
                prob = torch.stack([_box_mask(bx).float() * 0.8 for bx in bt]) if q else \
                    torch.zeros(0, SIZE, SIZE)
                prob = (prob + 0.4 * torch.rand(prob.shape, generator=g)).clamp(0, 1)
                p["masks"] = prob[:, None]
            preds.append(p)
            targets.append(t)
        batches.append((preds, targets))
    return batches


@pytest.fixture(scope="module")
def terratorch_task(quiet_import: Callable[[str], ModuleType]) -> Iterator[Any]:
    """terratorch's ObjectDetectionTask class (imported lazily, torch settings kept)."""
    with preserved_torch_state():
        yield quiet_import("terratorch.tasks").ObjectDetectionTask


def terratorch_official(task_cls: Any, batches: list, masks: bool) -> dict[str, float]:
    """Run terratorch's test_step over ``batches`` in a Lightning test loop; its logged values."""
    import lightning.pytorch as pl
    from terratorch.models.object_detection_model_factory import ModelOutputObjectDetection

    class Backbone(torch.nn.Module):  # only built, never run: predictions are fixed
        def __init__(self) -> None:
            super().__init__()
            self.out_channels = [8, 8]
            self.conv = torch.nn.Conv2d(3, 8, 1)

        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [self.conv(x)] * 2

    class FixedPredictions(task_cls):  # type: ignore[misc, valid-type]
        def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            return ModelOutputObjectDetection(copy.deepcopy(batches[int(x[0, 0, 0, 0])][0]))

        def reformat_batch(self, batch: Any, batch_size: int) -> list[dict]:
            if not masks:
                return super().reformat_batch(batch, batch_size)
            return [{"boxes": batch["boxes"][i], "labels": batch["labels"][i],
                     "masks": batch["masks"][i].to(torch.uint8)} for i in range(batch_size)]

    with preserved_torch_state(), warnings.catch_warnings():  # Lightning's trainer sets them too
        warnings.simplefilter("ignore")
        task = FixedPredictions(model_factory="ObjectDetectionModelFactory", model_args=dict(
            framework="mask-rcnn" if masks else "faster-rcnn", backbone=Backbone(),
            num_classes=K + 1, in_channels=3, necks=[{"name": "FeaturePyramidNetworkNeck"}]))
        loader_items = []
        for i, (preds, targets) in enumerate(batches):
            image = torch.zeros(len(preds), 3, SIZE, SIZE)
            image[0, 0, 0, 0] = i
            item: dict[str, Any] = {"image": image, "boxes": [t["boxes"] for t in targets],
                                    "labels": [t["labels"] for t in targets]}
            if masks:
                item["masks"] = [t["masks"] for t in targets]
            loader_items.append(item)
        loader = torch.utils.data.DataLoader(loader_items, batch_size=None, shuffle=False)
        trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False)
        (logged,) = trainer.test(task, dataloaders=loader, verbose=False)
    return {k: float(v) for k, v in logged.items()}


def ours(task: str, batches: list) -> dict[str, float]:
    metric = DetectionMetrics(task)
    for preds, targets in batches:
        metric.update(preds, targets)
    return metric.compute()


@pytest.mark.parametrize("task", ["detection", "instance_segmentation"])
def test_official_value_equals_terratorch(terratorch_task: Any, task: str) -> None:
    masks = task == "instance_segmentation"
    batches = make_batches(masks)
    # the data exercise every branch: -1 (no objects), 0 (nothing above 0.5), NMS removals
    metric = DetectionMetrics(task)
    per_batch = [metric.batch_values(p, t)["bbox"] for p, t in batches]
    assert per_batch[3] == -1.0 and per_batch[5] == 0.0
    assert any(0.0 < v < 1.0 for v in per_batch)
    removed = sum(len(official_filter(p)["scores"]) < int((p["scores"] > 0.5).sum())
                  for b in batches for p in b[0])
    assert removed >= 3

    ref = terratorch_official(terratorch_task, batches, masks)
    got = ours(task, batches)
    if masks:
        assert abs(got["test_test_map"] - ref["test_bbox_map"]) < 1e-6
        assert abs(got["test_test_segm_map"] - ref["test_segm_map"]) < 1e-6
    else:
        assert abs(got["test_test_map"] - ref["test_map"]) < 1e-6
    # and the value is the image-weighted mean of the per-batch values, -1 included
    weights = [len(p) for p, _ in batches]
    mean = sum(w * v for w, v in zip(weights, per_batch, strict=True)) / sum(weights)
    assert abs(got["test_test_map"] - mean) < 1e-9


def test_filter_equals_terratorch_apply_nms_sample(terratorch_task: Any) -> None:
    for preds, _ in make_batches(masks=True, seed=1):
        for p in preds:
            ref = terratorch_task.apply_nms_sample(None, copy.deepcopy(p), iou_threshold=0.5,
                                                   score_threshold=0.5)
            got = official_filter(p)
            for k in ("boxes", "scores", "labels", "masks"):
                assert torch.equal(got[k], ref[k]), k


def test_shortcuts_agree_with_torchmetrics() -> None:
    from torchmetrics.detection import MeanAveragePrecision

    box = torch.tensor([[2.0, 2.0, 10.0, 10.0]])
    empty_t = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    pred = {"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}
    no_pred = {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0),
               "labels": torch.zeros(0, dtype=torch.long)}
    target = {"boxes": box, "labels": torch.tensor([1])}
    for preds, targets, expected in (([pred, no_pred], [empty_t, empty_t], -1.0),
                                     ([no_pred, no_pred], [target, empty_t], 0.0)):
        m = MeanAveragePrecision(iou_type="bbox", average="macro")
        m.update(preds, targets)
        assert float(m.compute()["map"]) == expected
        assert DetectionMetrics("detection").batch_values(preds, targets) == {"bbox": expected}


@pytest.mark.parametrize("task", ["detection", "instance_segmentation"])
def test_coco_value_is_one_map_over_the_split(task: str) -> None:
    from torchmetrics.detection import MeanAveragePrecision

    masks = task == "instance_segmentation"
    batches = make_batches(masks, seed=2)
    ref = MeanAveragePrecision(iou_type=("bbox", "segm") if masks else "bbox", average="macro")
    for preds, targets in batches:
        p = [dict(q) for q in preds]
        if masks:
            for q in p:
                q["masks"] = q["masks"][:, 0] > 0.5
        ref.update(p, [{**t, **({"masks": t["masks"].bool()} if masks else {})} for t in targets])
    want = ref.compute()
    got = ours(task, batches)
    if masks:
        assert got["coco_map"] == pytest.approx(float(want["bbox_map"]), abs=1e-12)
        assert got["coco_segm_map"] == pytest.approx(float(want["segm_map"]), abs=1e-12)
    else:
        assert got["coco_map"] == pytest.approx(float(want["map"]), abs=1e-12)


def test_official_and_coco_differ_by_design() -> None:
    box = torch.tensor([[2.0, 2.0, 12.0, 12.0]])
    one = torch.tensor([1])
    hit = {"boxes": box, "labels": one}
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    # batch 1: a perfect detection (mAP 1); batch 2: an image without objects and one low-score
    # false positive -> its batch mAP is -1 (no ground truth), which the weighted mean keeps
    metric = DetectionMetrics("detection")
    metric.update([{**hit, "scores": torch.tensor([0.9])}], [hit])
    metric.update([{"boxes": torch.tensor([[20.0, 20.0, 30.0, 30.0]]), "scores": torch.tensor([0.3]),
                    "labels": one}], [empty])
    got = metric.compute()
    assert got["test_test_map"] == pytest.approx(0.0, abs=1e-12)  # (1 * 1 + (-1) * 1) / 2
    assert got["coco_map"] == pytest.approx(1.0, abs=1e-12)  # the false positive ranks last
    # a correct detection scoring 0.4: filtered out officially (0), counted by COCO (1)
    metric = DetectionMetrics("detection")
    metric.update([{**hit, "scores": torch.tensor([0.4])}], [hit])
    got = metric.compute()
    assert got["test_test_map"] == 0.0 and got["coco_map"] == pytest.approx(1.0, abs=1e-12)
    # an overlapping second detection of another class: class-agnostic NMS drops it officially
    metric = DetectionMetrics("detection")
    two = {"boxes": torch.cat([box, box + 0.5]), "scores": torch.tensor([0.9, 0.8]),
           "labels": torch.tensor([2, 1])}
    metric.update([two], [hit])
    got = metric.compute()
    assert got["test_test_map"] == 0.0  # the kept box has the wrong class
    assert got["coco_map"] > 0.5


def test_reset_and_empty_compute() -> None:
    metric = DetectionMetrics("instance_segmentation")
    out = metric.compute()
    assert set(out) == {"test_test_map", "test_test_segm_map", "coco_map", "coco_segm_map"}
    assert all(math.isnan(v) for v in out.values())
    with pytest.raises(Exception, match="not 'segmentation'"):
        DetectionMetrics("segmentation")
