"""Task models: output shapes of every head for every task type, the ViT pyramid, and temporal
averaging (the mean of per-step features, over real steps only)."""

from __future__ import annotations

import pytest
import torch

from geobench.errors import ConfigError, ModelError
from geobench.manifest import TASK_TYPES, Band
from geobench.train import TaskSpec, build_task_model
from geobench.train.loaders import collate_samples
from geobench.train.synthetic import SyntheticTaskDataset, TinyConvEncoder, TinyViTEncoder
from geobench.train.temporal import encode_over_time
from geobench.train.unet import PyramidNeck, pyramid_reductions

BANDS = 4
SIZE = 32
K = 3


pytestmark = pytest.mark.usefixtures("one_thread")


def make_encoder(kind: str, bands: int = BANDS) -> torch.nn.Module:
    if kind == "tiny_cnn":
        return TinyConvEncoder({"s2": bands})
    if kind == "tiny_vit":
        return TinyViTEncoder({"s2": bands})
    from geobench.models.registry import build_encoder

    return build_encoder("smoke", dataset_modalities={
        "s2": [Band(f"B{i}", 450.0 + 100 * i) for i in range(bands)]})


def batch_for(task: str, n: int = 2, **kw: object) -> dict:
    ds = SyntheticTaskDataset(task, n=n, bands=BANDS, size=SIZE, num_classes=K, **kw)  # type: ignore[arg-type]
    return collate_samples([ds[i] for i in range(n)])


@pytest.mark.parametrize("encoder", ["smoke", "tiny_cnn", "tiny_vit"])
@pytest.mark.parametrize("task", TASK_TYPES)
def test_output_shapes_for_every_task(encoder: str, task: str) -> None:
    torch.manual_seed(0)
    model = build_task_model(make_encoder(encoder), TaskSpec(task, num_classes=K,
                                                             image_size=(SIZE, SIZE), ignore_index=-1))
    batch = batch_for(task)
    if task in ("detection", "instance_segmentation"):
        model.train()
        losses = model(batch["inputs"], batch["target"])
        expected = {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
        if task == "instance_segmentation":
            expected.add("loss_mask")
        assert set(losses) == expected
        assert all(torch.isfinite(v) for v in losses.values())
        sum(losses.values()).backward()
        model.eval()
        model.detector.roi_heads.detections_per_img = 10  # mask pasting on a CPU is slow
        with torch.no_grad():
            preds = model(batch["inputs"])
        assert len(preds) == 2
        for p in preds:
            n = p["boxes"].shape[0]
            assert p["boxes"].shape == (n, 4) and p["scores"].shape == (n,)
            assert p["labels"].shape == (n,)
            if n:
                assert int(p["labels"].min()) >= 1 and int(p["labels"].max()) <= K
                assert float(p["boxes"].max()) <= SIZE
            if task == "instance_segmentation":
                assert p["masks"].shape == (n, 1, SIZE, SIZE)
        return
    out = model(batch["inputs"])
    expected_shape = {"classification": (2, K), "multilabel_classification": (2, K),
                      "segmentation": (2, K, SIZE, SIZE), "regression": (2, SIZE, SIZE)}[task]
    assert tuple(out.shape) == expected_shape
    assert torch.isfinite(out).all()
    out.float().sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_segmentation_output_matches_odd_input_size() -> None:
    model = build_task_model(TinyConvEncoder({"s2": BANDS}), TaskSpec("segmentation", num_classes=K))
    out = model({"s2": torch.randn(1, BANDS, 27, 35)})
    assert tuple(out.shape) == (1, K, 27, 35)


def test_vit_levels_become_a_pyramid() -> None:
    assert pyramid_reductions(16, 4) == [4, 8, 16, 32]
    assert pyramid_reductions(16, 3) == [8, 16, 32]
    assert pyramid_reductions(2, 4) == [1, 2, 4, 8]
    neck = PyramidNeck([32, 32, 32, 32], [16, 16, 16, 16])
    feats = neck([torch.randn(2, 32, 4, 4) for _ in range(4)])
    assert [tuple(f.shape[-2:]) for f in feats] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    assert [f.shape[1] for f in feats] == neck.out_channels
    ident = PyramidNeck([8, 16], [4, 8])
    xs = [torch.randn(1, 8, 8, 8), torch.randn(1, 16, 4, 4)]
    assert ident(xs) is xs
    with pytest.raises(ModelError, match="neither increasing"):
        PyramidNeck([8, 8, 8], [8, 4, 8])


def test_temporal_average_is_mean_of_per_step_features() -> None:
    torch.manual_seed(0)
    enc = TinyConvEncoder({"s2": BANDS}).eval()
    x = torch.randn(3, 5, BANDS, 16, 16)
    with torch.no_grad():
        got = encode_over_time(enc, {"s2": x})
        per_step = [enc({"s2": x[:, t]}) for t in range(5)]
    for level, g in enumerate(got):
        ref = torch.stack([s[level] for s in per_step], dim=1).mean(dim=1)
        torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6)


def test_temporal_average_respects_time_mask() -> None:
    torch.manual_seed(0)
    enc = TinyConvEncoder({"s2": BANDS}).eval()
    x = torch.randn(3, 4, BANDS, 16, 16)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False],
                         [True, False, False, False]])
    x[~mask] = float("nan")  # padded steps must never be looked at
    with torch.no_grad():
        got = encode_over_time(enc, {"s2": x}, mask)
    for b in range(3):
        real = int(mask[b].sum())
        with torch.no_grad():
            steps = [enc({"s2": x[b:b + 1, t]}) for t in range(real)]
        for level, g in enumerate(got):
            ref = torch.stack([s[level][0] for s in steps]).mean(dim=0)
            torch.testing.assert_close(g[b], ref, rtol=1e-5, atol=1e-6)
            assert torch.isfinite(g[b]).all()


def test_task_model_averages_time_series_before_the_head() -> None:
    torch.manual_seed(0)
    model = build_task_model(TinyConvEncoder({"s2": BANDS}), TaskSpec("classification", num_classes=K))
    model.eval()
    x = torch.randn(2, 3, BANDS, 16, 16)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    with torch.no_grad():
        got = model({"s2": x}, mask)
        first = model.head(encode_over_time(model.encoder, {"s2": x[:1, :2]}))
    torch.testing.assert_close(got[:1], first, rtol=1e-5, atol=1e-6)


def test_static_modality_is_repeated_beside_a_time_series() -> None:
    enc = TinyConvEncoder({"s1": 2, "s2": BANDS}).eval()
    s1 = torch.randn(2, 2, 16, 16)
    s2 = torch.randn(2, 3, BANDS, 16, 16)
    with torch.no_grad():
        got = encode_over_time(enc, {"s1": s1, "s2": s2})
        ref = torch.stack([enc({"s1": s1, "s2": s2[:, t]})[0] for t in range(3)], 1).mean(1)
    torch.testing.assert_close(got[0], ref, rtol=1e-5, atol=1e-6)


def test_temporal_errors_are_clear() -> None:
    enc = TinyConvEncoder({"a": 1, "b": 1})
    with pytest.raises(ModelError, match="different numbers of time steps"):
        encode_over_time(enc, {"a": torch.randn(1, 2, 1, 8, 8), "b": torch.randn(1, 3, 1, 8, 8)})
    with pytest.raises(ModelError, match="time_mask has shape"):
        encode_over_time(enc, {"a": torch.randn(1, 2, 1, 8, 8), "b": torch.randn(1, 2, 1, 8, 8)},
                         torch.ones(1, 3, dtype=torch.bool))


def test_missing_modality_and_bad_task_are_clear_errors() -> None:
    model = build_task_model(TinyConvEncoder({"s2": BANDS}), TaskSpec("classification", num_classes=K))
    with pytest.raises(ModelError, match="needs modalities"):
        model({"s1": torch.randn(1, BANDS, 8, 8)})
    with pytest.raises(ConfigError, match="not one of"):
        TaskSpec("counting")
    with pytest.raises(ConfigError, match="image_size"):
        build_task_model(TinyConvEncoder({"s2": BANDS}), TaskSpec("detection", num_classes=K))


def test_detection_on_a_time_series() -> None:
    torch.manual_seed(0)
    model = build_task_model(TinyConvEncoder({"s2": BANDS}),
                             TaskSpec("detection", num_classes=K, image_size=(SIZE, SIZE)))
    batch = batch_for("detection", time_steps=3, variable_length=True)
    assert batch["inputs"]["s2"].shape == (2, 3, BANDS, SIZE, SIZE)
    losses = model(batch["inputs"], batch["target"], batch["time_mask"])
    assert all(torch.isfinite(v) for v in losses.values())


def test_losses_ignore_pixels_and_never_give_nan() -> None:
    from geobench.train.task_model import task_loss

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, K, 4, 4, generator=g)
    target = torch.randint(0, K, (2, 4, 4), generator=g)
    target[0, :2] = -1
    keep = target != -1
    ref = torch.nn.functional.cross_entropy(logits.permute(0, 2, 3, 1)[keep], target[keep])
    torch.testing.assert_close(task_loss("segmentation", logits, {"target": target}, -1), ref)
    assert float(task_loss("segmentation", logits, {"target": torch.full((2, 4, 4), -1)}, -1)) == 0.0
    pred, y = torch.randn(2, 4, 4, generator=g), torch.randn(2, 4, 4, generator=g)
    valid = torch.rand(2, 4, 4, generator=g) < 0.5
    got = task_loss("regression", pred, {"target": y, "valid_mask": valid})
    torch.testing.assert_close(got, ((pred - y)[valid] ** 2).mean())
    none = task_loss("regression", pred, {"target": y, "valid_mask": torch.zeros_like(valid)})
    assert float(none) == 0.0
