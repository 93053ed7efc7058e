"""terratorch backbones: Prithvi-EO-2.0 300M/600M TL, TerraMind v1 base/large, Clay v1 base.

Built through terratorch's ``BACKBONE_REGISTRY`` (imported here, lazily: the import takes ~15 s)
with ``pretrained=False``; published checkpoints are read from geobench's cache and converted with
terratorch's own checkpoint filters where it has them, then loaded strictly. The forward passes
walk the library modules block by block and keep only the blocks fed to decoders (the libraries'
own forwards clone every block output), with each library's convention: raw block outputs, the
final norm applied to the last block.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from geobench.errors import ModelError
from geobench.models import weights as w
from geobench.models.encoder import Encoder, EncoderPlan, pad_to_patch, tokens_to_map
from geobench.models.spec import OPTICAL, ModelSpec

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def _registry() -> Any:
    from terratorch.registry import BACKBONE_REGISTRY

    return BACKBONE_REGISTRY


class _ViTEncoder(Encoder):
    """Shared bookkeeping of the terratorch ViTs."""

    def _setup(self, dim: int) -> None:
        self.patch = int(self.spec.patch_size or 16)
        self.channels = [dim] * len(self.spec.out_indices)
        self.reductions = [self.patch] * len(self.spec.out_indices)
        self.wanted = set(self.spec.out_indices)
        self.last = max(self.spec.out_indices)


class PrithviEncoder(_ViTEncoder):
    """Prithvi-EO-2.0 (TL): a single time step per call; time/location coordinates not given."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan) -> None:
        super().__init__(spec, plan)
        bands = [b.name for b in spec.input_bands[OPTICAL]]
        self.backbone = _registry().build(f"terratorch_{spec.key}", pretrained=False, bands=bands,
                                          num_frames=1)
        self._setup(int(self.backbone.embed_dim))

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        img, h, w_ = pad_to_patch(x[OPTICAL], self.patch)
        bb = self.backbone
        frames = img.unsqueeze(2)  # (B, C, T=1, H, W)
        t = bb.patch_embed(frames)
        pos = bb.interpolate_pos_encoding(frames.shape[-3:]).to(t.dtype)
        t = t + pos[:, 1:, :]
        cls = (bb.cls_token + pos[:, :1, :]).expand(t.shape[0], -1, -1)
        t = torch.cat((cls, t), dim=1)
        out = []
        for i, block in enumerate(bb.blocks[: self.last + 1]):
            t = block(t)
            if i in self.wanted:
                y = bb.norm(t) if i == len(bb.blocks) - 1 else t
                out.append(tokens_to_map(y[:, 1:], h, w_))
        return out


class TerraMindEncoder(_ViTEncoder):
    """TerraMind v1 encoder on raw S2 L2A and/or S1 GRD: one token set per modality, joint
    attention, tokens averaged over modalities per patch position (terratorch's ``mean`` merge)."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan) -> None:
        super().__init__(spec, plan)
        mods = list(plan.sources)  # S2L2A and/or S1GRD, in the spec's order
        self.backbone = _registry().build(f"terratorch_{spec.key}", modalities=mods,
                                          pretrained=False)
        self._setup(int(self.backbone.encoder_norm.weight.shape[0]))

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        bb = self.backbone
        tokens, counts, grid = [], [], None
        for mm in self.model_modalities:
            img, h, w_ = pad_to_patch(x[mm], self.patch)
            if grid is not None and grid != (h, w_):
                raise ModelError(f"{self.spec.key}: modalities must share H, W; got token grids "
                                 f"{grid} and {(h, w_)}")
            grid = (h, w_)
            d = bb.encoder_embeddings[bb.mod_name_mapping[mm]](img)
            tokens.append(d["x"] + d["emb"])
            counts.append(tokens[-1].shape[1])
        assert grid is not None
        t = torch.cat(tokens, dim=1)
        out = []
        for i, block in enumerate(bb.encoder[: self.last + 1]):
            t = block(t)
            if i in self.wanted:
                y = bb.encoder_norm(t) if i == len(bb.encoder) - 1 else t
                y = torch.stack(torch.split(y, counts, dim=1), dim=1).mean(dim=1)
                out.append(tokens_to_map(y, *grid))
        return out


class ClayEncoder(_ViTEncoder):
    """Clay v1 base: dynamic patch embedding from the bands' wavelengths (µm); GSD-scaled 2-D
    sin-cos positions for the actual token grid; time and lat/lon encodings zero."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan, image_size: tuple[int, int]) -> None:
        super().__init__(spec, plan)
        self.backbone = _registry().build("timm_clay_v1_base", pretrained=False,
                                          img_size=int(image_size[0]))
        self.register_buffer("wavelengths",
                             torch.tensor(plan.wavelengths_um(OPTICAL), dtype=torch.float32),
                             persistent=False)
        self.gsd = 1.0
        self._setup(int(self.backbone.clay_encoder.dim))

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        from terratorch.models.backbones.clay_v1.utils import posemb_sincos_2d_with_gsd

        enc = self.backbone.clay_encoder
        img, h, w_ = pad_to_patch(x[OPTICAL], self.patch)
        patches, _ = enc.to_patch_embed(img, self.wavelengths)  # (B, L, D)
        pos = posemb_sincos_2d_with_gsd(h=h, w=w_, dim=enc.dim - 8, gsd=self.gsd)
        pos = torch.nn.functional.pad(pos, (0, 8)).to(patches.device, patches.dtype)  # time/latlon
        t = patches + pos.unsqueeze(0)
        t = torch.cat((enc.cls_token.expand(t.shape[0], -1, -1).to(t.dtype), t), dim=1)
        layers = enc.transformer.layers
        out = []
        for i, (attn, ff) in enumerate(layers[: self.last + 1]):
            t = attn(t) + t
            t = ff(t) + t
            if i in self.wanted:
                y = enc.transformer.norm(t) if i == len(layers) - 1 else t
                out.append(tokens_to_map(y[:, 1:], h, w_))
        return out


def build(spec: ModelSpec, plan: EncoderPlan, *, image_size: tuple[int, int],
          pretrained_file: Path | None) -> Encoder:
    """Build a terratorch encoder (random init, then the cached pretrained file if given)."""
    encoder: Encoder
    if spec.key.startswith("prithvi"):
        encoder = PrithviEncoder(spec, plan)
    elif spec.key.startswith("terramind"):
        encoder = TerraMindEncoder(spec, plan)
    elif spec.key.startswith("clay"):
        encoder = ClayEncoder(spec, plan, image_size)
    else:
        raise ModelError(f"terratorch family has no builder for {spec.key!r}")
    if pretrained_file is not None:
        sd = convert_checkpoint(encoder, w.read_checkpoint(pretrained_file))
        if sd is None:
            raise ModelError(f"{pretrained_file}: not a {spec.key} checkpoint (no state dict)")
        w.load_strict(encoder.backbone, sd, pretrained_file, f"{spec.key} (pretrained)")
    return encoder


def convert_checkpoint(encoder: Encoder, raw: Any) -> dict[str, Tensor] | None:
    """A published checkpoint (Prithvi MAE, TerraMind any-to-any, Clay Lightning) -> backbone keys.

    Decoder, tokenizer and unused-modality weights are dropped; everything the backbone has must
    be present (checked by the strict load that follows).
    """
    if not isinstance(raw, dict):
        return None
    bb = encoder.backbone
    if isinstance(encoder, PrithviEncoder):
        from terratorch.models.backbones.prithvi_vit import checkpoint_filter_fn_vit

        sd = raw.get("model", raw) if isinstance(raw.get("model"), dict) else raw
        bands = list(bb.model_bands)
        return dict(checkpoint_filter_fn_vit(dict(sd), bb, bands, bands))
    if isinstance(encoder, ClayEncoder):
        from terratorch.models.backbones.clay_v1.embedder import Embedder

        if not isinstance(raw.get("state_dict"), dict):
            return None
        return dict(Embedder.transform_state_dict(raw, bb))
    sd = raw.get("model", raw) if isinstance(raw.get("model"), dict) else raw
    own = bb.state_dict()
    return {k: v for k, v in sd.items() if k in own}
