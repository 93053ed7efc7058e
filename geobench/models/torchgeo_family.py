"""torchgeo backbones: SSL4EO-S12 DeCUR ResNet-50 (13 Sentinel-2 bands), DOFA ViT-L/16
(wavelength-conditioned patch embedding) and SatlasPretrain Swin-V2-B (Sentinel-2 MS, NAIP RGB).

Weights are the files torchgeo's weight enums point at (cached by geobench, hash-checked with the
SHA-256 prefix in their names) and loaded strictly after dropping classifier keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geobench.errors import ModelError
from geobench.models import weights as w
from geobench.models.encoder import Encoder, EncoderPlan, pad_to_patch, tokens_to_map
from geobench.models.spec import OPTICAL, ModelSpec

_DROP_PREFIXES = ("fc.", "head.", "fc_norm.", "norm.", "head_drop.")


class DecurEncoder(Encoder):
    """SSL4EO-S12 DeCUR ResNet-50: torchgeo's ``resnet50`` (timm) with 13 input bands."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan) -> None:
        super().__init__(spec, plan)
        from torchgeo.models import resnet50

        self.backbone = resnet50(weights=None, in_chans=plan.in_chans(OPTICAL),
                                 features_only=True, out_indices=spec.out_indices)
        self.channels = list(self.backbone.feature_info.channels())
        self.reductions = list(self.backbone.feature_info.reduction())

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        return list(self.backbone(x[OPTICAL]))


class DofaEncoder(Encoder):
    """DOFA ViT-L/16: the patch embedding is generated from the input bands' wavelengths (µm).

    Its fixed 224² position embedding is resized (bicubic) to other token grids, as DOFA's
    segmentation setups do; CLS token dropped from the returned maps.
    """

    def __init__(self, spec: ModelSpec, plan: EncoderPlan) -> None:
        super().__init__(spec, plan)
        from torchgeo.models import dofa_large_patch16_224

        self.backbone = dofa_large_patch16_224(weights=None, num_classes=0)
        self.backbone.fc_norm = nn.Identity()  # only the pooled classifier uses it
        self.register_buffer("wavelengths",
                             torch.tensor(plan.wavelengths_um(OPTICAL), dtype=torch.float32),
                             persistent=False)
        self.patch = int(spec.patch_size or 16)
        self.grid = self.backbone.img_size // self.patch
        dim = int(self.backbone.embed_dim)
        self.channels = [dim] * len(spec.out_indices)
        self.reductions = [self.patch] * len(spec.out_indices)

    def _pos_embed(self, h: int, w: int) -> Tensor:
        pos = self.backbone.pos_embed[:, 1:, :]
        if (h, w) == (self.grid, self.grid):
            return pos
        d = pos.shape[-1]
        grid = pos.reshape(1, self.grid, self.grid, d).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return grid.permute(0, 2, 3, 1).reshape(1, h * w, d)

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        img, h, w = pad_to_patch(x[OPTICAL], self.patch)
        bb = self.backbone
        tokens, _ = bb.patch_embed(img, self.wavelengths)
        tokens = tokens + self._pos_embed(h, w).to(tokens.dtype)
        cls = (bb.cls_token + bb.pos_embed[:, :1, :]).expand(tokens.shape[0], -1, -1)
        t = torch.cat((cls.to(tokens.dtype), tokens), dim=1)
        wanted = set(self.spec.out_indices)
        out = []
        for i, block in enumerate(bb.blocks):
            t = block(t)
            if i in wanted:
                out.append(tokens_to_map(t[:, 1:], h, w))
        return out


class _SwinFeatures(nn.Module):
    """The stage stack of a torchvision Swin (``features``), keys as in the published weights."""

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        self.features = features


class SatlasSwinEncoder(Encoder):
    """SatlasPretrain Swin-V2-B (torchvision architecture via torchgeo): 4 stage outputs."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan) -> None:
        super().__init__(spec, plan)
        from torchgeo.models import swin_v2_b

        model = swin_v2_b(weights=None)
        first = model.features[0][0]
        # As torchgeo does for the Satlas weights: a 4x4/4 patch conv sized to the bands.
        model.features[0][0] = nn.Conv2d(plan.in_chans(OPTICAL), first.out_channels,
                                         kernel_size=(4, 4), stride=(4, 4))
        self.backbone = _SwinFeatures(model.features)
        dims = [int(model.features[i][-1].norm1.normalized_shape[0]) for i in (1, 3, 5, 7)]
        self.channels = dims
        self.reductions = [4, 8, 16, 32]

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        t = x[OPTICAL]
        out = []
        for i, layer in enumerate(self.backbone.features):
            t = layer(t)
            if i in (1, 3, 5, 7):
                out.append(t.permute(0, 3, 1, 2))
        return out


_BUILDERS = {
    "ssl4eos12_resnet50_sentinel2_all_decur": DecurEncoder,
    "dofa_large_patch16_224": DofaEncoder,
    "satlas_swin_b_sentinel2_si_ms": SatlasSwinEncoder,
    "satlas_swin_b_naip_si_rgb": SatlasSwinEncoder,
}


def build(spec: ModelSpec, plan: EncoderPlan, *, image_size: tuple[int, int],
          pretrained_file: Path | None) -> Encoder:
    """Build a torchgeo encoder (random init, then the cached pretrained file if given)."""
    del image_size  # all three take any input size
    try:
        cls = _BUILDERS[spec.key]
    except KeyError:
        raise ModelError(f"torchgeo family has no builder for {spec.key!r}") from None
    encoder: Encoder = cls(spec, plan)
    if pretrained_file is not None:
        sd = convert_checkpoint(encoder, w.read_checkpoint(pretrained_file))
        if sd is None:
            raise ModelError(f"{pretrained_file}: holds no state dict")
        w.load_strict(encoder.backbone, sd, pretrained_file, f"{spec.key} (pretrained)")
    return encoder


def convert_checkpoint(encoder: Encoder, raw: Any) -> dict[str, Tensor] | None:
    """A torchgeo weights file -> the backbone's keys (classifier and final norm dropped)."""
    if not isinstance(raw, dict):
        return None
    sd = raw.get("state_dict", raw)
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        return None
    own = encoder.backbone.state_dict()
    if isinstance(encoder.backbone, _SwinFeatures):
        return {k: v for k, v in sd.items() if k.startswith("features.")}
    return {k: v for k, v in sd.items() if k in own or not k.startswith(_DROP_PREFIXES)}
