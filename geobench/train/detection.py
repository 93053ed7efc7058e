"""Detection and instance segmentation: torchvision Faster R-CNN / Mask R-CNN on encoder + FPN.

The encoder's levels (brought to a pyramid for ViTs by :class:`~geobench.train.unet.PyramidNeck`)
feed a torchvision ``FeaturePyramidNetwork`` (256 channels, plus a max-pooled extra level), whose
maps feed the region proposal network and the RoI heads, as in torchvision's ResNet-50-FPN models.
Inputs arrive z-scored, so the detector's own normalisation is the identity (mean 0, std 1), and
its resize keeps the dataset's image size. Labels follow torchvision: 0 is the background, objects
are 1..K, so the detector has K + 1 classes.

Several modalities (or time steps) travel through torchvision as one channel-stacked image; the
backbone splits them again and averages time steps like every other task model.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from geobench.errors import ConfigError
from geobench.train.task_model import TaskSpec, _FreezableEncoderMixin
from geobench.train.unet import PyramidNeck

FPN_CHANNELS = 256


class _EncoderFPN(nn.Module):
    """torchvision backbone: channel-stacked image -> OrderedDict of FPN maps."""

    def __init__(self, owner: DetectionTaskModel, channels: Sequence[int],
                 reductions: Sequence[int]) -> None:
        super().__init__()
        from torchvision.ops import FeaturePyramidNetwork
        from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

        self._owner = [owner]  # not a submodule (avoids a reference cycle in the module tree)
        self.neck = PyramidNeck(channels, reductions)
        self.fpn = FeaturePyramidNetwork(list(self.neck.out_channels), FPN_CHANNELS,
                                         extra_blocks=LastLevelMaxPool())
        self.out_channels = FPN_CHANNELS
        self.levels = len(self.neck.out_channels)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        owner = self._owner[0]
        inputs: dict[str, torch.Tensor] = {}
        start = 0
        for name, steps, chans in owner._layout:
            width = chans * (steps or 1)
            part = x[:, start:start + width]
            inputs[name] = part if steps is None else part.reshape(
                x.shape[0], steps, chans, *x.shape[-2:])
            start += width
        feats = self.neck(owner._encode(inputs, owner._time_mask))
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))


class DetectionTaskModel(_FreezableEncoderMixin):
    """Faster R-CNN (``detection``) or Mask R-CNN (``instance_segmentation``) on the encoder.

    ``forward(inputs, targets)`` in training mode returns torchvision's loss dict; in eval mode
    it returns one dict per image with ``boxes`` (xyxy pixels), ``labels`` (1..K), ``scores`` and,
    for Mask R-CNN, ``masks`` ``(N, 1, H, W)`` probabilities.
    """

    def __init__(self, encoder: nn.Module, spec: TaskSpec) -> None:
        super().__init__()
        from torchvision.models.detection import FasterRCNN, MaskRCNN
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.ops import MultiScaleRoIAlign

        if spec.task not in ("detection", "instance_segmentation"):
            raise ConfigError(f"DetectionTaskModel does not handle task {spec.task!r}")
        if spec.image_size is None:
            raise ConfigError("detection models need the dataset's image_size (TaskSpec.image_size)")
        self.encoder = encoder
        self.spec = spec
        self.task = spec.task
        self._layout: list[tuple[str, int | None, int]] = []
        self._time_mask: torch.Tensor | None = None
        enc: Any = encoder
        self.backbone = _EncoderFPN(self, list(enc.channels), list(enc.reductions))
        n_maps = self.backbone.levels + 1  # + the max-pooled extra level
        anchors = AnchorGenerator(sizes=tuple((32 * 2**i,) for i in range(n_maps)),
                                  aspect_ratios=((0.5, 1.0, 2.0),) * n_maps)
        names = [str(i) for i in range(self.backbone.levels)]
        size = min(spec.image_size)
        common: dict[str, Any] = dict(
            num_classes=spec.num_classes + 1, min_size=size, max_size=max(spec.image_size),
            image_mean=[0.0], image_std=[1.0], rpn_anchor_generator=anchors,
            box_roi_pool=MultiScaleRoIAlign(names, output_size=7, sampling_ratio=2))
        if spec.task == "detection":
            self.detector: nn.Module = FasterRCNN(self.backbone, **common)
        else:
            self.detector = MaskRCNN(self.backbone, **common,
                                     mask_roi_pool=MultiScaleRoIAlign(names, 14, sampling_ratio=2))

    def forward(self, inputs: Mapping[str, torch.Tensor],
                targets: list[dict[str, torch.Tensor]] | None = None,
                time_mask: torch.Tensor | None = None) -> Any:
        """Losses (training) or per-image detections (eval); see the class docstring."""
        layout: list[tuple[str, int | None, int]] = []
        parts = []
        for name, v in inputs.items():
            if v.ndim == 5:
                layout.append((name, v.shape[1], v.shape[2]))
                parts.append(v.flatten(1, 2))
            else:
                layout.append((name, None, v.shape[1]))
                parts.append(v)
        stacked = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        c = stacked.shape[1]
        transform: Any = self.detector.transform  # identity normalisation for c channels
        transform.image_mean = [0.0] * c
        transform.image_std = [1.0] * c
        self._layout, self._time_mask = layout, time_mask
        try:
            if self.training:
                if targets is None:
                    raise ConfigError("a detection model in training mode needs targets")
                return self.detector(list(stacked), _detector_targets(targets))
            return self.detector(list(stacked))
        finally:
            self._layout, self._time_mask = [], None


def _detector_targets(targets: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
    out = []
    for t in targets:
        d = {"boxes": t["boxes"].float().reshape(-1, 4), "labels": t["labels"].long()}
        if "masks" in t:
            d["masks"] = t["masks"].to(torch.uint8)
        out.append(d)
    return out
