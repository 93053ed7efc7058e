"""The smoke model: a tiny ResNet (timm's ``ResNet`` class, one BasicBlock per stage, widths
16-128, ~0.35 M parameters) whose first convolution takes all of the dataset's bands.

It exists for ``capability=smoke`` and the tests: a real architecture with the same encoder
interface as the seed models (4 stages at strides 4, 8, 16, 32) that trains on a CPU in seconds.
It has no pretrained weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timm.models.resnet import BasicBlock, ResNet
from torch import Tensor

from geobench.errors import ModelError
from geobench.models.encoder import Encoder, EncoderPlan
from geobench.models.spec import OPTICAL, ModelSpec

WIDTHS = (16, 32, 64, 128)


class SmokeEncoder(Encoder):
    """Tiny ResNet returning its four stage outputs."""

    def __init__(self, spec: ModelSpec, plan: EncoderPlan) -> None:
        super().__init__(spec, plan)
        block: Any = BasicBlock  # timm annotates an instance where it takes the class
        self.backbone = ResNet(block, layers=(1, 1, 1, 1), num_classes=0,
                               in_chans=plan.in_chans(OPTICAL), channels=WIDTHS, stem_width=16)
        self.channels = list(WIDTHS)
        self.reductions = [4, 8, 16, 32]

    def forward_features(self, x: dict[str, Tensor]) -> list[Tensor]:
        return list(self.backbone.forward_intermediates(x[OPTICAL], indices=list(self.spec.out_indices),
                                                        intermediates_only=True))


def build(spec: ModelSpec, plan: EncoderPlan, *, image_size: tuple[int, int],
          pretrained_file: Path | None) -> Encoder:
    """Build the smoke encoder (random init only)."""
    del image_size
    if pretrained_file is not None:
        raise ModelError("the smoke model has no pretrained weights; use pretrained=false")
    return SmokeEncoder(spec, plan)


def convert_checkpoint(encoder: Encoder, raw: Any) -> dict[str, Tensor] | None:
    """The smoke model has no published checkpoint format."""
    del encoder, raw
    return None
