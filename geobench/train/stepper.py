"""Device, precision, optimizer and the train/eval steps of one task model.

Used by :func:`geobench.train.loop.fit` and by ``scripts/bench_train.py`` (so the benchmark
measures the loop's own step). Every task model has the same two methods, so nothing here asks
which task it trains: ``model.loss(batch) -> scalar`` and ``model.predict(batch) -> output``
(what :class:`~geobench.train.metrics.TaskMetrics` scores).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from geobench.errors import ConfigError
from geobench.train.loaders import device_batches

if TYPE_CHECKING:
    from geobench.train.loop import TrainConfig
    from geobench.train.task_spec import TaskSpec


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; a CUDA request without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but no CUDA device is available; use device=cpu")
    return dev


def _is_convolutional(module: nn.Module) -> bool:
    conv = sum(p.numel() for m in module.modules() if isinstance(m, nn.Conv2d) for p in m.parameters(False))
    total = sum(p.numel() for p in module.parameters())
    return total > 0 and conv / total > 0.5


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return "cpu"


class Stepper:
    """One model on its device: autocast, optimizer, gradient accumulation, batch transfer.

    On CUDA it switches TF32 matmuls and the cuDNN auto-tuner on; call it inside
    :func:`geobench.torch_state.preserved_torch_state` (as ``fit`` does) so those process-wide
    switches end with the run.
    """

    def __init__(self, model: nn.Module, spec: TaskSpec, config: TrainConfig) -> None:
        self.spec, self.config = spec, config
        self.device = resolve_device(config.device)
        cuda = self.device.type == "cuda"
        if config.precision == "bf16" and not cuda:
            raise ConfigError("precision=bf16 needs a CUDA device; the CPU path runs in fp32")
        self.bf16 = cuda and config.precision in ("auto", "bf16")
        encoder = getattr(model, "encoder", model)
        self.channels_last = (cuda and _is_convolutional(encoder)
                              if config.channels_last is None else bool(config.channels_last))
        if cuda:
            torch.backends.cudnn.benchmark = not config.deterministic
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.model = model.to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if config.compile:
            self.model.compile()  # __call__ runs the compiled forward; loss/predict call it
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters")
        extra: dict[str, Any] = {"fused": True} if cuda else {}
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, **extra)
        micro = config.micro_batch_size or config.batch_size
        self.micro_batch = min(micro, config.batch_size)
        self.accumulate = max(1, math.ceil(config.batch_size / self.micro_batch))
        self._pending = 0

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def loss(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """Forward pass and the task's loss for a batch already on the device."""
        with self.autocast():
            return self.model.loss(batch)  # type: ignore[operator]

    def train_step(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, bool]:
        """One micro-batch: backward, and an optimizer step every ``accumulate`` micro-batches.

        Returns the detached loss (on the device; no synchronisation) and whether it stepped.
        """
        loss = self.loss(batch)
        (loss / self.accumulate).backward()
        self._pending += 1
        if self._pending >= self.accumulate:
            self.flush()
            return loss.detach(), True
        return loss.detach(), False

    def flush(self) -> None:
        """Apply accumulated gradients (also at the end of an epoch with a partial group)."""
        if self._pending:
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self._pending = 0

    def batches(self, loader: Iterable[Any], limit: int | None) -> Iterator[dict[str, Any]]:
        """Batches on the device (copies overlapped with compute on CUDA), at most ``limit``."""
        return device_batches(loader, self.device, self.channels_last, limit)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies (on the CPU) of what training can change: trainable parameters and buffers."""
    state = {f"p:{n}": p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
    state.update({f"b:{n}": b.detach().to("cpu", copy=True) for n, b in model.named_buffers()})
    return state


def restore(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    live: dict[str, torch.Tensor] = {f"p:{n}": p for n, p in model.named_parameters()}
    live.update({f"b:{n}": b for n, b in model.named_buffers()})
    with torch.no_grad():
        for k, v in state.items():
            live[k].copy_(v)
