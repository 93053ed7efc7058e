"""Task models: an encoder from the registry plus the protocol's head or decoder.

=============================  ===============================  =================================
task                           head / decoder                   output
=============================  ===============================  =================================
classification                 linear on pooled last level      ``(B, K)`` logits
multilabel_classification      linear on pooled last level      ``(B, K)`` logits
segmentation                   UNet over the pyramid            ``(B, K, H, W)`` logits
regression                     UNet over the pyramid            ``(B, H, W)`` values
detection                      Faster R-CNN on encoder + FPN    torchvision losses / detections
instance_segmentation          Mask R-CNN on encoder + FPN      torchvision losses / detections
=============================  ===============================  =================================

Multi-temporal inputs go through the encoder step by step and the features are averaged over
(real) time steps before the head (:mod:`geobench.train.temporal`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from geobench.errors import ConfigError
from geobench.train.detection import DetectionTaskModel
from geobench.train.heads import LinearClassificationHead
from geobench.train.task_spec import DETECTION_TASKS, EncoderStep, TaskSpec
from geobench.train.unet import DEFAULT_DECODER_CHANNELS, PyramidNeck, UNetDecoder

if TYPE_CHECKING:
    from geobench.manifest import DatasetManifest

__all__ = ["DETECTION_TASKS", "DetectionTaskModel", "TaskModel", "TaskSpec", "build_task_model",
           "task_loss", "task_model_from_manifest"]

class TaskModel(EncoderStep):
    """Encoder + linear head (classification) or pyramid neck + UNet (segmentation, regression)."""

    def __init__(self, encoder: nn.Module, spec: TaskSpec,
                 decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS) -> None:
        super().__init__()
        if spec.task in DETECTION_TASKS:
            raise ConfigError(f"task {spec.task!r} uses DetectionTaskModel (build_task_model)")
        self.encoder = encoder
        self.spec = spec
        self.task = spec.task
        enc: Any = encoder
        channels, reductions = spec.feature_channels(enc.channels), list(enc.reductions)
        if spec.task in ("classification", "multilabel_classification"):
            self.head: nn.Module = LinearClassificationHead(channels[-1], spec.num_classes)
            self.neck: nn.Module | None = None
        else:
            self.neck = PyramidNeck(channels, reductions)
            outputs = spec.num_classes if spec.task == "segmentation" else 1
            self.head = UNetDecoder(self.neck.out_channels, self.neck.out_reductions, outputs,
                                    decoder_channels)

    def forward(self, inputs: Mapping[str, torch.Tensor],
                time_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, K)`` / ``(B, K, H, W)`` or regression values ``(B, H, W)``."""
        feats = self._encode(inputs, time_mask)
        first = next(iter(inputs.values()))
        return self.decode(feats, (int(first.shape[-2]), int(first.shape[-1])))

    def decode(self, feats: list[torch.Tensor], output_size: tuple[int, int]) -> torch.Tensor:
        """Head or decoder on encoder features (the part that trains on a frozen-feature cache)."""
        if self.neck is None:
            return self.head(feats)
        out = self.head(self.neck(feats), output_size=output_size)
        return out[:, 0] if self.task == "regression" else out

    def predict(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """The model's output for a batch (what the task's metric scores); a batch of cached
        encoder ``features`` (:mod:`geobench.train.feature_cache`) skips the encoder."""
        if "features" in batch:
            return self.decode(list(batch["features"]), tuple(batch["output_size"]))
        return self(batch["inputs"], batch.get("time_mask"))

    def loss(self, batch: Mapping[str, Any], output: torch.Tensor | None = None) -> torch.Tensor:
        """The task's training loss on a batch (``output``: a prediction already made)."""
        out = self.predict(batch) if output is None else output
        return task_loss(self.task, out, batch, self.spec.ignore_index)


def task_loss(task: str, output: torch.Tensor, batch: Mapping[str, Any],
              ignore_index: int | None = None) -> torch.Tensor:
    """The protocol's training loss for a dense or classification ``output`` (float32 math).

    classification: cross-entropy; multilabel: binary cross-entropy on logits; segmentation:
    cross-entropy averaged over the pixels not at ``ignore_index`` (0 when none is left);
    regression: mean squared error over ``valid_mask``
    pixels (all pixels without one).
    """
    target = batch["target"]
    out = output.float()
    if task == "classification":
        return F.cross_entropy(out, target)
    if task == "multilabel_classification":
        return F.binary_cross_entropy_with_logits(out, target.to(out.dtype))
    if task == "segmentation":
        ignore = -100 if ignore_index is None else ignore_index
        total = F.cross_entropy(out, target, ignore_index=ignore, reduction="sum")
        return total / (target != ignore).sum().clamp(min=1)  # 0, not NaN, if all is ignored
    if task == "regression":
        err = (out - target.to(out.dtype)) ** 2
        valid = batch.get("valid_mask")
        if valid is None:
            return err.mean()
        valid = valid.to(torch.bool)
        return torch.where(valid, err, torch.zeros_like(err)).sum() / valid.sum().clamp(min=1)
    raise ConfigError(f"task {task!r} has no dense loss (detection models return their losses)")


def build_task_model(encoder: nn.Module | Any, spec: TaskSpec, *,
                     dataset_modalities: Mapping[str, Any] | None = None,
                     modalities: Sequence[str] | None = None, pretrained: bool = False,
                     decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
                     finetune: Any = "full", weights_path: str | None = None,
                     model_inputs: Mapping[str, str] | None = None) -> nn.Module:
    """Build the task model for ``spec`` on ``encoder`` (an encoder module or a registry key).

    Args:
        encoder: a module following the encoder interface (``channels``, ``reductions``,
            ``required_modalities``, ``forward({modality: x}) -> [features]``), or a model the
            registry builds here with ``dataset_modalities``, ``modalities`` and ``pretrained``:
            a key, or a :class:`geobench.models.sources.ModelRequest` (key, declared bands,
            factory, keyword arguments).
        spec: the task (see :class:`TaskSpec`).
        decoder_channels: UNet stage widths (dense tasks).
        finetune: ``"full"``, ``"frozen"``, ``"lora"`` or a
            :class:`geobench.train.finetune.FinetuneConfig`; applied before returning.

    Call :func:`geobench.train.seeding.seed_everything` first so the head's init is seeded.
    """
    from geobench.train.finetune import apply_finetune

    if not isinstance(encoder, nn.Module):
        if dataset_modalities is None:
            raise ConfigError(f"building encoder {encoder!r} by key needs dataset_modalities")
        from geobench.models.registry import build_encoder

        encoder = build_encoder(encoder, dataset_modalities=dict(dataset_modalities),
                                modalities=list(modalities) if modalities else None,
                                pretrained=pretrained, image_size=spec.image_size,
                                weights_path=weights_path, model_inputs=model_inputs)
    model: nn.Module
    if spec.task in DETECTION_TASKS:
        model = DetectionTaskModel(encoder, spec)
    else:
        model = TaskModel(encoder, spec, decoder_channels)
    apply_finetune(model, finetune)
    return model


def task_model_from_manifest(manifest: DatasetManifest, encoder_key: str, *,
                             modalities: Sequence[str] | None = None, pretrained: bool = True,
                             finetune: Any = "full", **kwargs: Any) -> nn.Module:
    """Build the task model of registry model ``encoder_key`` for dataset ``manifest``."""
    spec = TaskSpec.from_manifest(manifest)
    dataset_modalities = {m.name: m for m in manifest.modalities}  # Modality: bands and kind
    return build_task_model(encoder_key, spec, dataset_modalities=dataset_modalities,
                            modalities=modalities, pretrained=pretrained, finetune=finetune,
                            **kwargs)
