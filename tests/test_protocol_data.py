"""Protocol steps on data: temporal pooling (mean vs concat) on the real PASTIS fixture, the
official time-step selection, and fotw's unlabelled value 3 ignored by loss and metric."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geobench.data import PreparedDataset, collate
from geobench.manifest import TimeSelection, load_manifest
from geobench.prepare import prepare_dataset
from geobench.train.metrics import TaskMetrics
from geobench.train.task_model import TaskSpec, build_task_model, task_loss
from geobench.train.temporal import encode_over_time
from tests.test_prepare import _stage_fixture


@pytest.fixture(scope="module")
def pastis_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import FIXTURES

    root = tmp_path_factory.mktemp("pastis")
    _stage_fixture(FIXTURES, "pastis", root)
    prepare_dataset("pastis", root, progress=False)
    return root


def test_official_pastis_steps_are_the_first_acquisition(pastis_root: Path) -> None:
    """geobench2 feeds PASTIS one step: index int(0 * T / 1) = 0, the first acquisition."""
    official = load_manifest("pastis").protocol.time_steps
    assert (official.rule, official.count) == ("equally_spaced", 1)
    every = PreparedDataset(pastis_root, "pastis", "train", modalities=["s2"], normalization="official")
    one = PreparedDataset(pastis_root, "pastis", "train", modalities=["s2"], normalization="official",
                          time_steps=official)
    a, b = every[0]["inputs"]["s2"], one[0]["inputs"]["s2"]
    assert int(every[0]["time_mask"].sum()) == 3 and b.shape[0] == 1  # the fixture keeps 3 steps
    assert torch.equal(b[0], a[0])
    two = PreparedDataset(pastis_root, "pastis", "train", modalities=["s2"], normalization="official",
                          time_steps=TimeSelection("equally_spaced", 2))
    c = two[0]["inputs"]["s2"]
    assert torch.equal(c[0], a[0]) and torch.equal(c[1], a[1])  # int(1 * 3 / 2) = 1


def test_temporal_concat_stacks_steps_and_mean_averages_them(pastis_root: Path) -> None:
    ds = PreparedDataset(pastis_root, "pastis", "train", modalities=["s2"], normalization="official",
                         time_steps=TimeSelection("equally_spaced", 2))
    batch = collate([ds[0], ds[1]])
    x = batch["inputs"]["s2"]
    assert x.shape[:2] == (2, 2)
    calls: list[int] = []

    def enc(inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:  # one 2-channel level per step
        v = inputs["s2"]
        calls.append(v.shape[0])
        return [v[:, :2, :4, :4].clone()]

    mean = encode_over_time(enc, batch["inputs"], batch.get("time_mask"), pooling="mean")[0]
    concat = encode_over_time(enc, batch["inputs"], batch.get("time_mask"), pooling="concat")[0]
    assert mean.shape == (2, 2, 4, 4) and concat.shape == (2, 4, 4, 4)
    per_step = x[:, :, :2, :4, :4]
    assert torch.allclose(mean, per_step.mean(dim=1))
    assert torch.equal(concat[:, :2], per_step[:, 0]) and torch.equal(concat[:, 2:], per_step[:, 1])
    # a whole segmentation model on concat: the decoder sees T x C channels and trains
    spec = TaskSpec("segmentation", num_classes=20, temporal_pooling="concat", time_steps=2,
                    image_size=(32, 32))
    mods = {"s2": load_manifest("pastis").modality("s2")}
    model = build_task_model("smoke", spec, dataset_modalities=mods)
    loss = model.loss(batch)  # type: ignore[operator]
    loss.backward()
    assert torch.isfinite(loss)
    with pytest.raises(Exception, match="concat"):
        TaskSpec("segmentation", num_classes=20, temporal_pooling="concat")  # needs a fixed T


def test_fotw_unlabelled_value_3_is_ignored_by_loss_and_metric() -> None:
    m = load_manifest("fotw")
    spec = TaskSpec.from_manifest(m)
    assert spec.num_classes == 3 and spec.ignore_index == 3
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, generator=g)
    target = torch.randint(0, 3, (2, 8, 8), generator=g)
    target[:, :2] = 3  # unlabelled rows
    loss = task_loss("segmentation", logits, {"target": target}, spec.ignore_index)
    keep = target != 3
    expected = torch.nn.functional.cross_entropy(logits.permute(0, 2, 3, 1)[keep], target[keep])
    assert torch.isfinite(loss) and torch.allclose(loss, expected)
    metrics = TaskMetrics(spec)
    metrics.update(logits, {"target": target})
    with_3 = metrics.compute()["Multiclass_Jaccard_Index"]
    metrics = TaskMetrics(spec)
    metrics.update(logits[:, :, 2:], {"target": target[:, 2:]})
    assert with_3 == pytest.approx(metrics.compute()["Multiclass_Jaccard_Index"])  # the 3s change nothing
