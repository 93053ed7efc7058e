"""Metrics: the official names, values equal to torchmetrics' functional references (and to
numpy re-implementations), over several batches, and the exact BioMassters rescaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_jaccard_index,
    multilabel_f1_score,
)

from geobench.manifest import METRIC_FOR_TASK, MetricTransform
from geobench.train import TaskMetrics, TaskSpec, leaderboard_value

BIOMASSTERS = MetricTransform(kind="one_minus_scaled", scale=0.2537951171398163)


def _run(spec: TaskSpec, outputs: list, batches: list) -> dict[str, float]:
    m = TaskMetrics(spec)
    for o, b in zip(outputs, batches, strict=True):
        m.update(o, b)
    return m.compute()


def test_official_names() -> None:
    for task, name in METRIC_FOR_TASK.items():
        assert TaskMetrics(TaskSpec(task, num_classes=3, image_size=(8, 8))).name == name


def test_overall_accuracy_is_micro_accuracy() -> None:
    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(17, 5, generator=g) for _ in range(3)]
    target = [torch.randint(0, 5, (17,), generator=g) for _ in range(3)]
    got = _run(TaskSpec("classification", num_classes=5), logits, [{"target": t} for t in target])
    ref = multiclass_accuracy(torch.cat(logits), torch.cat(target), num_classes=5, average="micro")
    assert got == {"Overall_Accuracy": pytest.approx(float(ref), abs=1e-7)}
    manual = float((torch.cat(logits).argmax(1) == torch.cat(target)).float().mean())
    assert got["Overall_Accuracy"] == pytest.approx(manual, abs=1e-7)


def test_multilabel_f1_is_macro_over_labels_at_threshold_half() -> None:
    g = torch.Generator().manual_seed(1)
    # logits mostly inside [0, 1]: torchmetrics would not apply the sigmoid itself
    logits = [torch.rand(13, 6, generator=g) * 1.2 - 0.1 for _ in range(3)]
    target = [(torch.rand(13, 6, generator=g) < 0.4).float() for _ in range(3)]
    got = _run(TaskSpec("multilabel_classification", num_classes=6), logits,
               [{"target": t} for t in target])
    probs, y = torch.sigmoid(torch.cat(logits)), torch.cat(target).long()
    ref = multilabel_f1_score(probs, y, num_labels=6, average="macro", threshold=0.5)
    assert got["Multilabel_F1_Score"] == pytest.approx(float(ref), abs=1e-6)
    pred = (probs > 0.5).numpy()
    yt = y.numpy().astype(bool)
    f1 = []
    for k in range(6):
        tp = np.sum(pred[:, k] & yt[:, k])
        denom = pred[:, k].sum() + yt[:, k].sum()
        f1.append(0.0 if denom == 0 else 2 * tp / denom)
    assert got["Multilabel_F1_Score"] == pytest.approx(float(np.mean(f1)), abs=1e-6)


def test_jaccard_index_is_macro_miou_with_ignore_index() -> None:
    g = torch.Generator().manual_seed(2)
    k = 4
    logits = [torch.randn(2, k, 9, 11, generator=g) for _ in range(3)]
    target = [torch.randint(-1, k, (2, 9, 11), generator=g) for _ in range(3)]  # -1 = ignore
    got = _run(TaskSpec("segmentation", num_classes=k, ignore_index=-1), logits,
               [{"target": t} for t in target])
    pred, y = torch.cat(logits).argmax(1), torch.cat(target)
    ref = multiclass_jaccard_index(pred, y, num_classes=k, average="macro", ignore_index=-1)
    assert got["Multiclass_Jaccard_Index"] == pytest.approx(float(ref), abs=1e-6)
    keep = (y != -1).numpy()
    p, t = pred.numpy()[keep], y.numpy()[keep]
    ious = [np.sum((p == c) & (t == c)) / np.sum((p == c) | (t == c)) for c in range(k)]
    assert got["Multiclass_Jaccard_Index"] == pytest.approx(float(np.mean(ious)), abs=1e-6)


def test_rmse_over_valid_pixels_of_the_whole_split() -> None:
    g = torch.Generator().manual_seed(3)
    preds = [torch.randn(2, 8, 8, generator=g) for _ in range(3)]
    target = [torch.randn(2, 8, 8, generator=g) for _ in range(3)]
    valid = [torch.rand(2, 8, 8, generator=g) < 0.7 for _ in range(3)]
    got = _run(TaskSpec("regression"), preds,
               [{"target": t, "valid_mask": v} for t, v in zip(target, valid, strict=True)])
    p, t, v = torch.cat(preds), torch.cat(target), torch.cat(valid)
    ref = torch.sqrt(((p - t)[v] ** 2).mean())
    assert got["RMSE"] == pytest.approx(float(ref), rel=1e-6)
    # without a mask every pixel counts
    got_all = _run(TaskSpec("regression"), preds, [{"target": t} for t in target])
    assert got_all["RMSE"] == pytest.approx(float(torch.sqrt(((p - t) ** 2).mean())), rel=1e-6)


def test_biomassters_rescaling_is_exact() -> None:
    for rmse in (0.0, 0.2, 1.7, 31.25):
        assert leaderboard_value(rmse, BIOMASSTERS) == 1.0 - rmse * 0.2537951171398163
    assert leaderboard_value(0.42, None) == 0.42


def _boxes(n: int, g: torch.Generator) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=g) * 40
    wh = torch.rand(n, 2, generator=g) * 20 + 4
    return torch.cat([xy, xy + wh], dim=1)


def test_detection_coco_map_matches_torchmetrics_and_official_is_one_when_perfect() -> None:
    """The whole-split number is ``coco_map``; the official per-batch number is tested against
    terratorch itself in test_detection_metrics.py."""
    from torchmetrics.detection import MeanAveragePrecision

    g = torch.Generator().manual_seed(4)
    targets = [{"boxes": _boxes(3, g), "labels": torch.randint(1, 3, (3,), generator=g)}
               for _ in range(4)]
    preds = [{"boxes": t["boxes"] + torch.randn(3, 4, generator=g) * 2,
              "scores": torch.rand(3, generator=g), "labels": t["labels"]} for t in targets]
    spec = TaskSpec("detection", num_classes=2, image_size=(64, 64))
    got = _run(spec, [preds[:2], preds[2:]], [{"target": targets[:2]}, {"target": targets[2:]}])
    ref = MeanAveragePrecision(iou_type="bbox")
    ref.update(preds, targets)
    assert got["coco_map"] == pytest.approx(float(ref.compute()["map"]), abs=1e-7)
    assert got["test_test_map"] != pytest.approx(got["coco_map"])  # score filter + per-batch mean
    perfect = [{"boxes": t["boxes"], "scores": torch.ones(3), "labels": t["labels"]} for t in targets]
    out = _run(spec, [perfect], [{"target": targets}])
    assert out["test_test_map"] == pytest.approx(1.0) and out["coco_map"] == pytest.approx(1.0)


def test_instance_segmentation_segm_map() -> None:
    g = torch.Generator().manual_seed(5)
    targets, preds = [], []
    for _ in range(3):
        boxes = _boxes(2, g).round().clamp(0, 63)
        masks = torch.zeros(2, 64, 64, dtype=torch.uint8)
        for i, b in enumerate(boxes.long()):
            masks[i, b[1]:b[3], b[0]:b[2]] = 1
        labels = torch.tensor([1, 2])
        targets.append({"boxes": boxes, "labels": labels, "masks": masks})
        preds.append({"boxes": boxes, "labels": labels, "scores": torch.tensor([0.9, 0.8]),
                      "masks": masks[:, None].float() * 0.9})  # Mask R-CNN gives (N, 1, H, W) probs
    spec = TaskSpec("instance_segmentation", num_classes=2, image_size=(64, 64))
    got = _run(spec, [preds], [{"target": targets}])
    assert got["test_test_segm_map"] == pytest.approx(1.0)
    assert got["test_test_map"] == pytest.approx(1.0)
    # one mask wrong -> lower than perfect, equal to torchmetrics on the binarised masks
    from torchmetrics.detection import MeanAveragePrecision

    preds[0]["masks"] = torch.roll(preds[0]["masks"], shifts=6, dims=-1)
    got = _run(spec, [preds], [{"target": targets}])
    ref = MeanAveragePrecision(iou_type="segm")
    ref.update([{**p, "masks": p["masks"][:, 0] > 0.5} for p in preds],
               [{**t, "masks": t["masks"].bool()} for t in targets])
    assert got["coco_segm_map"] == pytest.approx(float(ref.compute()["map"]), abs=1e-7)
    assert got["test_test_segm_map"] == pytest.approx(got["coco_segm_map"])  # one batch, all scores > 0.5
    assert got["test_test_segm_map"] < 1.0
