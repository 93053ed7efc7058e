"""The classification head of the GEO-Bench-2 protocol: one linear layer on pooled features.

Single-label and multi-label classification share it; only the loss and the metric differ
(cross-entropy / accuracy vs. binary cross-entropy / F1).
"""

from __future__ import annotations

import torch
from torch import nn


class LinearClassificationHead(nn.Module):
    """Global average pooling of the deepest encoder level, then one ``nn.Linear``.

    Args:
        in_channels: channels of the feature map it receives (the encoder's last level).
        num_classes: number of output logits.
        dropout: dropout before the linear layer (0 disables it; the protocol uses none).
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(in_channels, num_classes)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """``features``: the encoder's levels; uses the last one, ``(B, C, h, w)`` -> ``(B, K)``."""
        x = features[-1]
        pooled = x.mean(dim=(-2, -1)) if x.ndim == 4 else x
        return self.linear(self.dropout(pooled))
