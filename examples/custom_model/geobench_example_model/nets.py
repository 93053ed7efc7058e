"""The example networks: a 4-stage CNN and a tiny ViT written as geobench ``UserEncoder``s, and a
plain timm-style module (``feature_info`` + a list of feature maps) for the model-YAML door."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from geobench.models import BandSpec, UserEncoder


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def _pyramid(stem: nn.Module, stages: nn.ModuleList, x: Tensor) -> list[Tensor]:
    """The stem, then every stage's output: one feature map per stage."""
    x = stem(x)
    out = []
    for stage in stages:
        x = stage(x)
        out.append(x)
    return out


class _Stage(nn.Module):
    """Downsample by 2, then one residual block."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.down = _conv(cin, cout, 2)
        self.block = nn.Sequential(_conv(cout, cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        x = self.down(x)
        return torch.relu(x + self.block(x))


class TinyConvNet(UserEncoder):
    """Stem at stride 2, four stages at strides 4, 8, 16, 32 (widths w, 2w, 4w, 8w)."""

    def __init__(self, bands: Sequence[BandSpec], width: int = 24) -> None:
        super().__init__()
        self.input_bands = tuple(bands)
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.channels = widths
        self.reductions = [4, 8, 16, 32]
        self.stem = _conv(len(self.input_bands), width // 2, 2)
        self.stages = nn.ModuleList(_Stage(cin, cout) for cin, cout in
                                    zip([width // 2, *widths[:-1]], widths, strict=True))

    def forward(self, x: Tensor) -> list[Tensor]:
        return _pyramid(self.stem, self.stages, x)


class TinyViT(UserEncoder):
    """Patch embedding, a class token, learned positions and ``depth`` pre-norm transformer
    blocks; every block's tokens are a feature level (geobench turns tokens into maps)."""

    def __init__(self, bands: Sequence[BandSpec], image_size: tuple[int, int], patch: int = 8,
                 dim: int = 96, depth: int = 4, heads: int = 3) -> None:
        super().__init__()
        self.input_bands = tuple(bands)
        self.patch_size = patch
        self.channels = [dim] * depth
        self.reductions = [patch] * depth
        self.embed = nn.Conv2d(len(self.input_bands), dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        grid = -(-image_size[0] // patch) * -(-image_size[1] // patch)
        self.pos = nn.Parameter(torch.randn(1, 1 + grid, dim) * 0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(depth))

    def forward(self, x: Tensor) -> list[Tensor]:  # x is padded to a multiple of the patch
        t = self.embed(x).flatten(2).transpose(1, 2)
        pos = self.pos if self.pos.shape[1] == t.shape[1] + 1 else _resize_pos(self.pos, t.shape[1])
        t = torch.cat([self.cls.expand(len(t), -1, -1), t], dim=1) + pos
        out = []
        for block in self.blocks:
            t = block(t)
            out.append(t)  # (B, 1 + N, D): the class token first
        return out


def _resize_pos(pos: Tensor, n: int) -> Tensor:
    """Positions for ``n`` patch tokens (another input size): interpolated over the sequence."""
    grid = nn.functional.interpolate(pos[:, 1:].transpose(1, 2), size=n, mode="linear")
    return torch.cat([pos[:, :1], grid.transpose(1, 2)], dim=1)


class PlainCNN(nn.Module):
    """A module that knows nothing of geobench: timm's ``feature_info`` convention and a list of
    feature maps from ``forward`` are all geobench needs to wrap it."""

    def __init__(self, in_chans: int, width: int = 16) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stem = _conv(in_chans, width, 4)
        self.stages = nn.ModuleList(_conv(c, c2, 1 if i == 0 else 2) for i, (c, c2) in
                                    enumerate(zip([width, *widths[:-1]], widths, strict=True)))
        self.feature_info = [{"num_chs": c, "reduction": r, "module": f"stages.{i}"}
                             for i, (c, r) in enumerate(zip(widths, [4, 8, 16, 32], strict=True))]

    def forward(self, x: Tensor) -> list[Tensor]:
        return _pyramid(self.stem, self.stages, x)


def plain_cnn(bands: Sequence[BandSpec], width: int = 16) -> PlainCNN:
    """The factory of ``conf/model/tinygeo_plain.yaml``: one input channel per declared band."""
    return PlainCNN(len(bands), width)
