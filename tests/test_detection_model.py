"""Detection heads against terratorch 1.2.4's ObjectDetectionModelFactory (the GEO-Bench-2 builder).

The same encoder goes into terratorch's factory (with the necks of the GEO-Bench-2 configs) and into
geobench's DetectionTaskModel: both models must have the same parameters, name for name after a
fixed renaming, and — with terratorch's weights loaded into geobench's model — the same losses
(same RNG for the RPN/RoI sampling) and the same detections.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import torch

from geobench.errors import ModelError
from geobench.manifest import Band
from geobench.torch_state import preserved_torch_state
from geobench.train import TaskSpec, build_task_model
from geobench.train.loaders import collate_samples
from geobench.train.synthetic import SyntheticTaskDataset, TinyConvEncoder, TinyViTEncoder

BANDS = 3
SIZE = 64
K = 2


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def factory(quiet_import: Callable[[str], ModuleType]) -> Iterator[Any]:
    module = quiet_import("terratorch.models.object_detection_model_factory")
    with preserved_torch_state():  # building terratorch models must not leak settings either
        yield module.ObjectDetectionModelFactory()


def make_encoder(kind: str) -> torch.nn.Module:
    if kind == "smoke":
        from geobench.models.registry import build_encoder

        return build_encoder("smoke", dataset_modalities={
            "s2": [Band(f"B{i}", 450.0 + 100 * i) for i in range(BANDS)]})
    if kind == "vit4":  # four levels at one stride, like the ViT models (patch 8 here)
        return TinyViTEncoder({"s2": BANDS}, dim=32, depth=4, patch=8)
    raise ValueError(kind)


class _Backbone(torch.nn.Module):
    """terratorch's backbone contract (``out_channels``, tensor -> list) around a geobench encoder."""

    def __init__(self, enc: torch.nn.Module) -> None:
        super().__init__()
        self.enc = enc
        self.out_channels = list(enc.channels)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.enc({"s2": x})


def _rename(key: str, vit: bool) -> str:
    """terratorch parameter name -> geobench's."""
    key = key.removeprefix("torchvision_model.")
    if key.startswith("backbone.backbone.enc."):
        return "encoder." + key.removeprefix("backbone.backbone.enc.")
    if key.startswith(("rpn.", "roi_heads.")):
        return "detector." + key
    if vit:  # necks.0 = LearnedInterpolateToPyramidal, necks.1 = FeaturePyramidNetworkNeck
        key = key.replace("backbone.necks.0.fpn1.", "neck.up4.")
        key = key.replace("backbone.necks.0.fpn2.0.", "neck.up2.")
        return key.replace("backbone.necks.1.fpn.", "fpn.")
    return key.replace("backbone.necks.0.fpn.", "fpn.")


def build_pair(factory: Any, task: str, kind: str) -> tuple[Any, Any]:
    framework = "mask-rcnn" if task == "instance_segmentation" else "faster-rcnn"
    vit = kind == "vit4"
    necks = ([{"name": "LearnedInterpolateToPyramidal"}] if vit else []) + \
        [{"name": "FeaturePyramidNetworkNeck"}]
    torch.manual_seed(0)
    enc = make_encoder(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = factory.build_model("object_detection", backbone=_Backbone(enc), framework=framework,
                                  num_classes=K + 1, necks=necks, in_channels=BANDS,
                                  framework_min_size=SIZE, framework_max_size=SIZE)
    ours = build_task_model(make_encoder(kind), TaskSpec(task, num_classes=K, image_size=(SIZE, SIZE)))
    ref_sd = {_rename(k, vit): v for k, v in ref.state_dict().items()}
    own_sd = ours.state_dict()
    assert sorted(ref_sd) == sorted(own_sd)
    assert {k: tuple(v.shape) for k, v in ref_sd.items()} == {k: tuple(v.shape) for k, v in own_sd.items()}
    ours.load_state_dict(ref_sd, strict=True)
    return ref, ours


def make_batch(task: str, n: int = 2) -> dict:
    ds = SyntheticTaskDataset(task, n=n, bands=BANDS, size=SIZE, num_classes=K)
    return collate_samples([ds[i] for i in range(n)])


@pytest.mark.parametrize("kind", ["smoke", "vit4"])
@pytest.mark.parametrize("task", ["detection", "instance_segmentation"])
def test_same_model_as_terratorch_factory(factory: Any, task: str, kind: str) -> None:
    ref, ours = build_pair(factory, task, kind)
    batch = make_batch(task)
    x = batch["inputs"]["s2"]
    targets = [{k: (v.to(torch.uint8) if k == "masks" else v) for k, v in t.items()}
               for t in batch["target"]]

    ref.train()
    ours.train()
    torch.manual_seed(1)
    ref_losses = ref(x, [dict(t) for t in targets]).output
    torch.manual_seed(1)
    own_losses = ours(batch["inputs"], batch["target"])
    assert set(ref_losses) == set(own_losses)
    for k in ref_losses:
        torch.testing.assert_close(own_losses[k], ref_losses[k], rtol=1e-5, atol=1e-6)

    ref.eval()
    ours.eval()
    with torch.no_grad():
        ref_det = ref(x).output
        own_det = ours.predict(batch)
    assert len(ref_det) == len(own_det) == x.shape[0]
    for r, o in zip(ref_det, own_det, strict=True):
        assert set(r) == set(o)
        assert r["boxes"].shape[0] > 0
        for k in r:
            torch.testing.assert_close(o[k], r[k], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("task", ["detection", "instance_segmentation"])
def test_head_choices(task: str) -> None:
    from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, TwoMLPHead

    model: Any = build_task_model(make_encoder("smoke"), TaskSpec(task, num_classes=K, image_size=(SIZE, SIZE)))
    rpn, roi = model.detector.rpn, model.detector.roi_heads
    assert rpn.anchor_generator.sizes == ((32,), (64,), (128,), (256,))
    assert rpn.anchor_generator.aspect_ratios == ((0.5, 1.0, 2.0),) * 4
    assert model.fpn.extra_blocks is None and model.level_names == ["feat0", "feat1", "feat2", "feat3"]
    masks = task == "instance_segmentation"
    assert len(rpn.head.conv) == (2 if masks else 1)
    assert isinstance(roi.box_head, FastRCNNConvFCHead if masks else TwoMLPHead)
    assert roi.box_roi_pool.output_size == (7, 7) and roi.box_roi_pool.sampling_ratio == 2
    if masks:
        assert roi.mask_roi_pool.output_size == (7, 7)
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in roi.mask_head.modules())
    assert (roi.score_thresh, roi.nms_thresh, roi.detections_per_img) == (0.05, 0.5, 100)
    for name in ("_owner", "_layout", "_time_mask"):
        assert not hasattr(model, name) and not hasattr(model.neck, name)


@pytest.mark.parametrize("task", ["detection", "instance_segmentation"])
def test_loss_and_predict(task: str) -> None:
    torch.manual_seed(0)
    model: Any = build_task_model(TinyConvEncoder({"s2": BANDS}), TaskSpec(task, num_classes=K, image_size=(SIZE, SIZE)))
    batch = make_batch(task)
    model.train()
    torch.manual_seed(2)
    total = model.loss(batch)
    torch.manual_seed(2)
    parts = model(batch["inputs"], batch["target"])
    assert total.ndim == 0 and torch.isfinite(total)
    torch.testing.assert_close(total, sum(parts.values()))
    total.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with pytest.raises(ModelError, match="eval mode"):
        model.predict(batch)
    model.eval()
    model.detector.roi_heads.detections_per_img = 10  # mask pasting on a CPU is slow
    with torch.no_grad():
        preds = model.predict(batch)
    assert len(preds) == 2
    for p in preds:
        n = p["boxes"].shape[0]
        assert p["scores"].shape == (n,) and p["labels"].shape == (n,)
        if task == "instance_segmentation":
            assert p["masks"].shape == (n, 1, SIZE, SIZE)
    with pytest.raises(ModelError, match="training mode"):
        model.loss(batch)


def test_time_mask_is_an_argument() -> None:
    """Predictions on a padded series with its mask equal predictions on the real steps only;
    two interleaved calls with different masks do not interfere (no state kept between calls)."""
    torch.manual_seed(0)
    model: Any = build_task_model(TinyConvEncoder({"s2": BANDS}),
                                  TaskSpec("detection", num_classes=K, image_size=(SIZE, SIZE))).eval()
    x = torch.randn(2, 3, BANDS, SIZE, SIZE)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    with torch.no_grad():
        full = model.predict({"inputs": {"s2": x}, "time_mask": mask})
        first = model.predict({"inputs": {"s2": x[:1, :2]}})
        second = model({"s2": x[1:, :1]}, None, None)
    for got, want in ((full[0], first[0]), (full[1], second[0])):
        for k in want:
            torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-4)


def test_degenerate_target_box_is_a_clear_error() -> None:
    model: Any = build_task_model(TinyConvEncoder({"s2": BANDS}),
                                  TaskSpec("detection", num_classes=K, image_size=(SIZE, SIZE)))
    bad = [{"boxes": torch.tensor([[4.0, 4.0, 4.0, 9.0]]), "labels": torch.tensor([1])}]
    with pytest.raises(ModelError, match="degenerate target box"):
        model.loss({"inputs": {"s2": torch.randn(1, BANDS, SIZE, SIZE)}, "target": bad})


def test_heads_run_in_float32_under_autocast() -> None:
    """bfloat16 anchors and boxes would be quantised (2 px steps between 256 and 512 px)."""
    torch.manual_seed(0)
    model: Any = build_task_model(TinyConvEncoder({"s2": BANDS}),
                                  TaskSpec("detection", num_classes=K, image_size=(SIZE, SIZE)))
    batch = make_batch("detection")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.features(batch["inputs"])["feat0"].dtype == torch.bfloat16
        losses = model(batch["inputs"], batch["target"])
        model.eval()
        with torch.no_grad():
            preds = model.predict(batch)
    assert all(v.dtype == torch.float32 for v in losses.values())
    assert preds[0]["boxes"].shape[0] > 0
    assert all(p["boxes"].dtype == p["scores"].dtype == torch.float32 for p in preds)
