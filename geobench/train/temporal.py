"""Multi-temporal inputs: every time step through the encoder, features averaged over time.

This is the GEO-Bench-2 protocol for time series (PASTIS, BioMassters, Kuro Siwo, DynamicEarthNet):
no temporal module, just the per-step encoder features averaged. A ``time_mask`` (``True`` = real
step) marks padded steps of variable-length series; those steps are not run through the encoder
at all (they would also pollute BatchNorm statistics) and the average is over the real steps only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from geobench.errors import ModelError

Encoder = Callable[[dict[str, torch.Tensor]], list[torch.Tensor]]


def _concat_over_time(feats: list[torch.Tensor], b: int, t: int,
                      time_mask: torch.Tensor | None) -> list[torch.Tensor]:
    """``(B*T, C, h, w)`` per level -> ``(B, T*C, h, w)``; missing steps give zeros."""
    per_step = [f.reshape(b, t, *f.shape[1:]) for f in feats]
    if time_mask is not None:
        keep = time_mask.to(torch.bool).view(b, t, *([1] * (per_step[0].ndim - 2)))
        per_step = [torch.where(keep, f, torch.zeros_like(f)) for f in per_step]
    return [f.reshape(b, t * f.shape[2], *f.shape[3:]) for f in per_step]


def encode_over_time(encoder: Encoder, inputs: Mapping[str, torch.Tensor],
                     time_mask: torch.Tensor | None = None, *,
                     pooling: str = "mean") -> list[torch.Tensor]:
    """Run ``encoder`` on single-date or multi-temporal ``inputs``; return per-level features.

    Args:
        encoder: maps ``{modality: (N, C, H, W)}`` to a list of ``(N, C_i, h_i, w_i)``.
        inputs: ``{modality: (B, C, H, W)}`` or ``(B, T, C, H, W)``; all temporal modalities share
            ``T``; a single-date modality beside temporal ones is repeated at every step.
        time_mask: optional bool ``(B, T)``; ``True`` marks real steps. A sample with no real
            step gets zero features.
        pooling: ``mean`` (the GEO-Bench-2 paper: features averaged over the real steps) or
            ``concat`` (terratorch's temporal wrapper with ``concat``: the features of all T steps
            side by side along channels, ``(B, T * C_i, h_i, w_i)``; missing steps give zeros).

    Returns:
        ``[(B, C_i, h_i, w_i)]``: for time series, the mean over (real) steps of each level.
    """
    temporal = {k: v for k, v in inputs.items() if v.ndim == 5}
    if not temporal:
        if time_mask is not None and time_mask.ndim != 2:
            raise ModelError(f"time_mask must be (B, T), got shape {tuple(time_mask.shape)}")
        return encoder(dict(inputs))
    steps = {k: v.shape[1] for k, v in temporal.items()}
    if len(set(steps.values())) != 1:
        raise ModelError(f"temporal modalities have different numbers of time steps {steps}; "
                         "the data loader must give them one common T (and one time_mask)")
    first = next(iter(temporal.values()))
    b, t = first.shape[:2]
    flat: dict[str, torch.Tensor] = {}
    for k, v in inputs.items():
        if v.ndim == 5:
            flat[k] = v.reshape(b * t, *v.shape[2:])
        elif v.ndim == 4:
            flat[k] = v.unsqueeze(1).expand(b, t, *v.shape[1:]).reshape(b * t, *v.shape[1:])
        else:
            raise ModelError(f"input {k!r} has shape {tuple(v.shape)}; expected (B, C, H, W) "
                             "or (B, T, C, H, W)")
    if pooling == "concat":
        return _concat_over_time(encoder(flat), b, t, time_mask)
    if pooling != "mean":
        raise ModelError(f"temporal pooling {pooling!r}: expected mean or concat")
    if time_mask is None:
        return [f.reshape(b, t, *f.shape[1:]).mean(dim=1) for f in encoder(flat)]
    if tuple(time_mask.shape) != (b, t):
        raise ModelError(f"time_mask has shape {tuple(time_mask.shape)}, inputs have (B, T) = "
                         f"{(b, t)}")
    mask = time_mask.to(torch.bool).reshape(-1)
    idx = mask.nonzero().squeeze(1)
    owner = torch.div(idx, t, rounding_mode="floor")
    counts = time_mask.to(torch.float32).sum(dim=1).clamp(min=1.0)
    feats = encoder({k: v.index_select(0, idx) for k, v in flat.items()})
    out = []
    for f in feats:
        acc = torch.zeros((b, *f.shape[1:]), dtype=torch.float32, device=f.device)
        acc.index_add_(0, owner, f.to(torch.float32))
        out.append((acc / counts.view(b, *([1] * (f.ndim - 1)))).to(f.dtype))
    return out
