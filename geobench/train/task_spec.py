"""What every task model shares: the task's spec and the encoder step (frozen or not, over time).

:class:`TaskSpec` says what the head, the loss and the metric need to know about a dataset's task;
:class:`EncoderStep` runs the encoder on (possibly multi-temporal) inputs for
:class:`~geobench.train.task_model.TaskModel` and :class:`~geobench.train.detection.DetectionTaskModel`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from geobench.errors import ConfigError, ModelError
from geobench.manifest import TASK_TYPES
from geobench.train.temporal import encode_over_time

if TYPE_CHECKING:
    from geobench.manifest import DatasetManifest, MetricTransform

DETECTION_TASKS = ("detection", "instance_segmentation")


@dataclass(frozen=True)
class TaskSpec:
    """What the head, the loss and the metric need to know about a dataset's task.

    ``num_classes``: classes for classification and segmentation; object classes (without the
    background, labels 1..K) for detection; ignored for regression (one output).
    """

    task: str
    num_classes: int = 1
    ignore_index: int | None = None
    image_size: tuple[int, int] | None = None
    metric_transform: MetricTransform | None = None
    temporal_pooling: str = "mean"  # "mean" | "concat" (features of every step side by side)
    time_steps: int | None = None   # steps per sample, needed by "concat"

    def __post_init__(self) -> None:
        if self.task not in TASK_TYPES:
            raise ConfigError(f"task {self.task!r} is not one of {', '.join(TASK_TYPES)}")
        if self.task != "regression" and self.num_classes < 1:
            raise ConfigError(f"task {self.task!r} needs num_classes >= 1, got {self.num_classes}")
        if self.temporal_pooling not in ("mean", "concat"):
            raise ConfigError(f"temporal pooling {self.temporal_pooling!r}: expected mean or concat")
        if self.temporal_pooling == "concat" and not self.time_steps:
            raise ConfigError("temporal pooling 'concat' needs a fixed number of time steps")

    def feature_channels(self, channels: Sequence[int]) -> list[int]:
        """Channels per level after temporal pooling (concat multiplies them by the steps)."""
        k = self.time_steps if self.temporal_pooling == "concat" and self.time_steps else 1
        return [c * k for c in channels]

    @classmethod
    def from_manifest(cls, manifest: DatasetManifest) -> TaskSpec:
        """The spec of a dataset manifest (its task, classes, ignore_index, size, transform)."""
        ignore = manifest.ignore_index
        if manifest.task == "segmentation" and ignore is None:
            ignore = -1  # the loader's padding value
        n = manifest.num_classes
        if manifest.task in DETECTION_TASKS:
            n -= 1  # the manifests list the background first, as the official class lists do
        return cls(task=manifest.task, num_classes=max(n, 1),
                   ignore_index=ignore, image_size=tuple(manifest.image_size),  # type: ignore[arg-type]
                   metric_transform=manifest.metric_transform)


class EncoderStep(nn.Module):
    """``encoder_frozen``: encoder runs without gradients and stays in eval mode (BN stats fixed)."""

    encoder: nn.Module
    encoder_frozen: bool = False

    def train(self, mode: bool = True) -> EncoderStep:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def _encode(self, inputs: Mapping[str, torch.Tensor],
                time_mask: torch.Tensor | None) -> list[torch.Tensor]:
        missing = [m for m in getattr(self.encoder, "required_modalities", []) if m not in inputs]
        if missing:
            raise ModelError(f"the encoder needs modalities {missing}, the batch has "
                             f"{sorted(inputs)}; choose modalities the dataset provides")
        spec: TaskSpec | None = getattr(self, "spec", None)
        pooling = spec.temporal_pooling if spec is not None else "mean"
        if self.encoder_frozen:
            with torch.no_grad():
                return encode_over_time(self.encoder, inputs, time_mask, pooling=pooling)
        return encode_over_time(self.encoder, inputs, time_mask, pooling=pooling)
