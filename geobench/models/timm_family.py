"""timm backbones: ResNet-50, ConvNeXt-L/XL (ImageNet-22k), DINOv3 ViT-L/16 (SAT-493M) and
DINOv3 ConvNeXt-L.

CNNs are built with ``features_only=True`` (timm's stage outputs, strides 4-32); the ViT with
``forward_intermediates`` (patch tokens as maps, CLS and register tokens dropped), pruned after
its last used block. Pretrained weights go through timm's own loader (``pretrained_cfg_overlay``
pointing at the cached file), which also adapts the first layer when ``in_chans`` differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import torch
from torch import Tensor

from geobench.models.encoder import Encoder, EncoderPlan, pad_to_patch
from geobench.models.spec import OPTICAL, ModelSpec

# Published-checkpoint keys that the feature extractors do not have (classifier, final norm).
_HEAD_PREFIXES = ("fc.", "head.", "head_drop.", "fc_norm.", "norm.")


def _create(spec: ModelSpec, in_chans: int, pretrained_file: Path | None, **kwargs: Any) -> Any:
    extra: dict[str, Any] = {}
    if pretrained_file is not None:
        extra["pretrained_cfg_overlay"] = {"file": str(pretrained_file)}
    return timm.create_model(spec.architecture, pretrained=pretrained_file is not None,
                             in_chans=in_chans, **extra, **kwargs)


class TimmCNNEncoder(Encoder):
    """A timm CNN (ResNet, ConvNeXt) returning its stage outputs."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan, pretrained_file: Path | None) -> None:
        super().__init__(spec, plan)
        self.backbone = _create(spec, plan.in_chans(OPTICAL), pretrained_file,
                                features_only=True, out_indices=spec.out_indices)
        self.channels = list(self.backbone.feature_info.channels())
        self.reductions = list(self.backbone.feature_info.reduction())

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        return list(self.backbone(x[OPTICAL]))


class TimmViTEncoder(Encoder):
    """A timm ViT (DINOv3 with RoPE: any input size) returning patch-token maps of 4 blocks."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan, pretrained_file: Path | None) -> None:
        super().__init__(spec, plan)
        self.backbone = _create(spec, plan.in_chans(OPTICAL), pretrained_file, num_classes=0)
        self.backbone.prune_intermediate_layers(list(spec.out_indices), prune_norm=True,
                                                prune_head=True)
        dim = int(self.backbone.embed_dim)
        self.patch = int(spec.patch_size or 16)
        self.channels = [dim] * len(spec.out_indices)
        self.reductions = [self.patch] * len(spec.out_indices)

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        img, _, _ = pad_to_patch(x[OPTICAL], self.patch)
        out = self.backbone.forward_intermediates(img, indices=list(self.spec.out_indices),
                                                  output_fmt="NCHW", intermediates_only=True,
                                                  norm=False)
        return list(out)


def build(spec: ModelSpec, plan: EncoderPlan, *, image_size: tuple[int, int],
          pretrained_file: Path | None) -> Encoder:
    """Build a timm encoder (random init, or the cached pretrained file)."""
    del image_size  # timm CNNs and the RoPE ViT take any input size
    if spec.is_vit:
        return TimmViTEncoder(spec, plan, pretrained_file)
    return TimmCNNEncoder(spec, plan, pretrained_file)


def convert_checkpoint(encoder: Encoder, raw: Any) -> dict[str, Tensor] | None:
    """A published timm checkpoint (full classifier model) -> the feature extractor's keys."""
    if not isinstance(raw, dict):
        return None
    sd = raw.get("state_dict", raw.get("model", raw))
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        return None
    own = encoder.backbone.state_dict()
    return {k: v for k, v in sd.items() if k in own or not k.startswith(_HEAD_PREFIXES)}
