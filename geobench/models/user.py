"""The base class of an encoder you write for geobench (a model factory's return value).

Subclass :class:`UserEncoder`, declare in ``__init__`` what the benchmark needs to know, and
return a list of feature maps from ``forward``::

    class MyEncoder(UserEncoder):
        def __init__(self, bands):
            super().__init__()
            self.input_bands = tuple(bands)          # names + wavelengths, channel order
            self.patch_size = None                   # token models: the patch stride
            self.channels = [32, 64, 128, 256]       # one per feature level ...
            self.reductions = [4, 8, 16, 32]         # ... and its stride in pixels
            ...

        def forward(self, x):                        # x: (B, len(input_bands), H, W), z-scored
            return [f1, f2, f3, f4]                  # (B, C_i, ceil(H / r_i), ceil(W / r_i))

geobench feeds ``x`` by its band plan: each declared band is taken from the dataset by name, else
by the nearest wavelength within 100 nm, else zeros. ``input_bands = None`` takes the bands the
factory was called with (the dataset's own when the config declares none). Token models get
inputs zero-padded to a multiple of ``patch_size`` and may return tokens ``(B, N, D)`` (prefix
tokens first), which geobench turns into maps.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from geobench.models.spec import BandSpec


class UserEncoder(nn.Module):
    """An encoder of your own: input bands, patch size and feature levels declared, ``forward(x)``
    returning one feature map per level (see the module docstring)."""

    input_bands: Sequence[BandSpec | str | float] | None = None
    patch_size: int | None = None
    channels: Sequence[int] = ()
    reductions: Sequence[int] = ()

    def forward(self, x: Tensor) -> list[Tensor]:  # pragma: no cover - implemented by subclasses
        """Feature maps ``[(B, C_i, H_i, W_i)]`` of a ``(B, C, H, W)`` input."""
        raise NotImplementedError
