"""The dense decoder of the GEO-Bench-2 protocol: a UNet fed equally spaced encoder features.

CNN and hierarchical encoders (ResNet, ConvNeXt, Swin) return a pyramid already (reductions such as
4, 8, 16, 32). Plain ViTs return several levels at one reduction (the patch size); a
:class:`PyramidNeck` brings them to a pyramid first — the shallowest levels are up-sampled with
transposed convolutions and the deepest down-sampled by max-pooling, so that a ViT with patch 16
and four selected layers feeds the decoder at reductions 4, 8, 16 and 32 like a ResNet does.

The decoder goes from the deepest level up: at each step it up-samples, concatenates the next
shallower level (the skip connection) and applies two 3×3 conv–BN–ReLU blocks; below the shallowest
level it keeps up-sampling by 2 without skips until full resolution, where a 3×3 convolution gives
the per-pixel outputs (class logits for segmentation, one channel for regression).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from geobench.errors import ModelError

DEFAULT_DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)


def pyramid_reductions(reduction: int, levels: int) -> list[int]:
    """Target reductions for ``levels`` single-scale levels at ``reduction``.

    Four levels at 16 -> [4, 8, 16, 32]; three -> [8, 16, 32]; never below 1.
    """
    if levels <= 1:
        return [reduction] * levels
    exps = [round(math.log2(reduction)) + i - (levels - 2) for i in range(levels)]
    shift = max(0, -exps[0])
    return [2 ** (e + shift) for e in exps]


class PyramidNeck(nn.Module):
    """Bring single-scale features (all at one reduction) to a pyramid; identity for pyramids.

    Args:
        channels: channels of each encoder level.
        reductions: reduction (input size / feature size) of each level.

    Attributes:
        out_channels, out_reductions: what the neck returns per level.
    """

    def __init__(self, channels: Sequence[int], reductions: Sequence[int]) -> None:
        super().__init__()
        channels, reductions = list(channels), list(reductions)
        if len(channels) != len(reductions) or not channels:
            raise ModelError(f"encoder declares {len(channels)} channel entries and "
                             f"{len(reductions)} reductions; they must match and be non-empty")
        self.identity = all(b > a for a, b in itertools.pairwise(reductions))
        self.resamplers = nn.ModuleList()
        if self.identity:
            self.out_channels, self.out_reductions = channels, reductions
            return
        if len(set(reductions)) != 1:
            raise ModelError(f"encoder feature reductions {reductions} are neither increasing (a "
                             "pyramid) nor all equal (a ViT); the UNet decoder cannot use them")
        targets = pyramid_reductions(reductions[0], len(reductions))
        self.out_channels, self.out_reductions = [], targets
        for c, r, t in zip(channels, reductions, targets, strict=True):
            layers: list[nn.Module] = []
            out_c = c
            if t < r:  # up-sample by transposed convolutions, halving channels each time
                steps = round(math.log2(r // t))
                for s in range(steps):
                    nxt = max(out_c // 2, 16)
                    layers.append(nn.ConvTranspose2d(out_c, nxt, kernel_size=2, stride=2))
                    if s < steps - 1:
                        layers += [nn.BatchNorm2d(nxt), nn.GELU()]
                    out_c = nxt
            elif t > r:
                layers.append(nn.MaxPool2d(kernel_size=t // r, stride=t // r))
            self.resamplers.append(nn.Sequential(*layers))
            self.out_channels.append(out_c)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per-level features -> per-level features at ``out_reductions``."""
        if self.identity:
            return features
        return [m(f) for m, f in zip(self.resamplers, features, strict=True)]


def _conv_block(in_c: int, out_c: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_c, out_c, 3, padding=1, bias=False), nn.BatchNorm2d(out_c), nn.ReLU(inplace=True),
        nn.Conv2d(out_c, out_c, 3, padding=1, bias=False), nn.BatchNorm2d(out_c), nn.ReLU(inplace=True),
    )


class UNetDecoder(nn.Module):
    """UNet decoder over an encoder pyramid, returning ``(B, num_outputs, H, W)``.

    Args:
        in_channels: channels of each pyramid level, shallow to deep.
        reductions: reduction of each level, strictly increasing.
        num_outputs: output channels (classes for segmentation, 1 for regression).
        decoder_channels: channels after each decoder stage, deepest stage first; stages beyond
            its length reuse its last entry.
    """

    def __init__(self, in_channels: Sequence[int], reductions: Sequence[int], num_outputs: int,
                 decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS) -> None:
        super().__init__()
        in_channels, reductions = list(in_channels), list(reductions)
        if not decoder_channels:
            raise ModelError("decoder_channels must list at least one width")
        n_skip = len(in_channels) - 1
        n_tail = max(0, math.ceil(math.log2(reductions[0]))) if reductions[0] > 1 else 0
        widths = [decoder_channels[min(i, len(decoder_channels) - 1)] for i in range(n_skip + n_tail)]
        self.skip_blocks = nn.ModuleList()
        prev = in_channels[-1]
        for i in range(n_skip):
            skip_c = in_channels[n_skip - 1 - i]
            self.skip_blocks.append(_conv_block(prev + skip_c, widths[i]))
            prev = widths[i]
        self.tail_blocks = nn.ModuleList()
        for i in range(n_tail):
            self.tail_blocks.append(_conv_block(prev, widths[n_skip + i]))
            prev = widths[n_skip + i]
        self.head = nn.Conv2d(prev, num_outputs, 3, padding=1)
        self.out_channels = prev

    def forward(self, features: list[torch.Tensor], output_size: tuple[int, int]) -> torch.Tensor:
        """Pyramid (shallow to deep) -> logits at ``output_size``."""
        x = features[-1]
        for i, block in enumerate(self.skip_blocks):
            skip = features[len(features) - 2 - i]
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], dim=1))
        for block in self.tail_blocks:
            x = block(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        if tuple(x.shape[-2:]) != tuple(output_size):
            x = F.interpolate(x, size=output_size, mode="bilinear", align_corners=False)
        return self.head(x)
