"""Fine-tuning modes: full (the protocol's default), frozen encoder, LoRA on the encoder.

* ``full``: every parameter trains.
* ``frozen``: the encoder's parameters do not train, the encoder runs without gradients and in
  eval mode (BatchNorm statistics fixed); the head/decoder (and the detector's FPN) train.
* ``lora``: the encoder's weights are fixed and every targeted ``nn.Linear`` (by default all of
  them: attention qkv/projections and MLP layers; also the packed q/k/v projection of a
  ``nn.MultiheadAttention``, named ``<module>.in_proj``) learns a low-rank update
  ``W = W0 + (alpha / r) · B · A`` (Hu et al., 2021; ``A`` Kaiming-uniform, ``B`` zero, so training
  starts from the pretrained function). The update is a weight parametrization, so it also
  applies where a model reads ``linear.weight`` directly (torchvision's Swin attention does).
  Head/decoder train fully; encoder norms and biases stay fixed.

:func:`apply_finetune` returns the trainable and total parameter counts that a run reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from geobench.errors import ConfigError

MODES = ("full", "frozen", "lora")


@dataclass(frozen=True)
class FinetuneConfig:
    """How the encoder is adapted. ``lora_targets``: substrings of module names (relative to the
    encoder) that select the ``nn.Linear`` layers to adapt; empty selects every linear layer."""

    mode: Literal["full", "frozen", "lora"] = "full"
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"finetune mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.mode == "lora" and self.lora_rank < 1:
            raise ConfigError(f"lora_rank must be >= 1, got {self.lora_rank}")


@dataclass(frozen=True)
class ParamCounts:
    trainable: int
    total: int
    encoder_total: int


class LoRAUpdate(nn.Module):
    """Parametrization ``W0 -> W0 + scale · B @ A`` of a linear weight ``(out, in)``."""

    def __init__(self, out_features: int, in_features: int, rank: int, alpha: float,
                 device: torch.device | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.lora_A = nn.Parameter(torch.empty(rank, in_features, device=device, dtype=dtype))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank, device=device, dtype=dtype))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + (self.lora_B @ self.lora_A).to(weight.dtype) * self.scale


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (shared parameters counted once)."""
    seen: set[int] = set()
    trainable = total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total


def _as_config(config: Any) -> FinetuneConfig:
    if isinstance(config, FinetuneConfig):
        return config
    if isinstance(config, str):
        return FinetuneConfig(mode=config)  # type: ignore[arg-type]
    if isinstance(config, dict):
        unknown = sorted(set(config) - {"mode", "lora_rank", "lora_alpha", "lora_targets"})
        if unknown:
            raise ConfigError(f"finetune: unknown key(s) {', '.join(unknown)}; allowed: mode, "
                              "lora_rank, lora_alpha, lora_targets")
        return FinetuneConfig(mode=config.get("mode", "full"),
                              lora_rank=int(config.get("lora_rank", 8)),
                              lora_alpha=float(config.get("lora_alpha", 16.0)),
                              lora_targets=tuple(config.get("lora_targets", ())))
    raise ConfigError(f"finetune must be 'full', 'frozen', 'lora' or a FinetuneConfig, got {config!r}")


def add_lora(encoder: nn.Module, rank: int, alpha: float, targets: tuple[str, ...] = ()) -> list[str]:
    """Freeze ``encoder`` and add LoRA updates to its targeted linear layers; return their names."""
    from torch.nn.utils import parametrize

    for p in encoder.parameters():
        p.requires_grad_(False)
    def wanted(name: str) -> bool:
        return not targets or any(t in name for t in targets)

    chosen: list[tuple[str, nn.Module, str]] = []
    for name, m in encoder.named_modules():
        if isinstance(m, nn.Linear) and wanted(name):
            chosen.append((name, m, "weight"))
        elif (isinstance(m, nn.MultiheadAttention) and m.in_proj_weight is not None
              and wanted(f"{name}.in_proj")):  # packed q, k, v projection (not an nn.Linear)
            chosen.append((f"{name}.in_proj", m, "in_proj_weight"))
    if not chosen:
        linears = [n for n, m in encoder.named_modules() if isinstance(m, nn.Linear)]
        what = (f"none of its linear layers matches lora_targets {list(targets)} (some: "
                f"{', '.join(linears[:8])})" if linears else "it has no nn.Linear layers (a CNN)")
        raise ConfigError(f"cannot apply LoRA to encoder {type(encoder).__name__}: {what}; "
                          "use finetune=full or frozen, or set lora_targets")
    for _, m, attr in chosen:
        w = getattr(m, attr)
        parametrize.register_parametrization(
            m, attr, LoRAUpdate(w.shape[0], w.shape[1], rank, alpha, w.device, w.dtype))
    return [n for n, _, _ in chosen]


def apply_finetune(model: nn.Module, config: Any = "full") -> ParamCounts:
    """Apply a fine-tuning mode to a task model (``model.encoder`` is the encoder).

    Args:
        model: a task model from :func:`geobench.train.task_model.build_task_model`.
        config: ``"full"``, ``"frozen"``, ``"lora"``, a dict of :class:`FinetuneConfig` fields or
            a :class:`FinetuneConfig`.

    Returns:
        trainable and total parameter counts of the task model, and the encoder's total.
    """
    cfg = _as_config(config)
    encoder: nn.Module = model.encoder  # type: ignore[assignment]
    for p in model.parameters():
        p.requires_grad_(True)
    model.encoder_frozen = False  # type: ignore[assignment]
    if cfg.mode == "frozen":
        for p in encoder.parameters():
            p.requires_grad_(False)
        model.encoder_frozen = True  # type: ignore[assignment]
        encoder.eval()
    elif cfg.mode == "lora":
        add_lora(encoder, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets)
    model.finetune_config = cfg  # type: ignore[assignment]
    trainable, total = count_parameters(model)
    enc_total = count_parameters(encoder)[1]
    return ParamCounts(trainable=trainable, total=total, encoder_total=enc_total)
