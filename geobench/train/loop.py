"""Training loop of the GEO-Bench-2 protocol: fit on train, select on validation, score on test.

AdamW (weight decay 0.01); ReduceLROnPlateau on the validation metric (factor 0.5, patience 5, mode
by the metric's direction); early stopping when the validation metric has not improved for
``early_stop_patience`` (10) epochs; the best epoch's weights are restored before the test split
is scored. bf16 autocast on CUDA, fp32 on CPU; channels-last for convolutional encoders on CUDA;
optional ``torch.compile``; gradient accumulation when ``micro_batch_size < batch_size``.

Hooks for the sweep runner and a live display (this module imports neither Optuna nor Hydra):
``on_epoch_end(epoch, val_metric) -> bool`` (return True to stop, e.g. a pruned trial; the test
split is then not scored) and ``progress(epoch, step, loss)`` every ``progress_every`` optimizer
steps (the only place the loop waits for the device mid-epoch).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from geobench.errors import ConfigError
from geobench.manifest import METRIC_FOR_TASK
from geobench.train.finetune import count_parameters
from geobench.train.loaders import batch_size_of, device_batches, make_loader
from geobench.train.metrics import HIGHER_IS_BETTER, TaskMetrics, leaderboard_value
from geobench.train.seeding import seed_everything
from geobench.train.task_model import DETECTION_TASKS, TaskSpec, task_loss


@dataclass
class TrainConfig:
    """Hyper-parameters and engineering switches of one training run."""

    lr: float = 1e-4
    batch_size: int = 16
    micro_batch_size: int | None = None  # < batch_size: accumulate gradients
    weight_decay: float = 0.01
    max_epochs: int = 50
    early_stop_patience: int = 10
    lr_factor: float = 0.5
    lr_patience: int = 5
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    channels_last: bool | None = None  # None: on CUDA for convolutional encoders
    compile: bool = False
    deterministic: bool = False
    num_workers: int | None = None
    prefetch_factor: int = 4
    max_train_steps: int | None = None  # per epoch (smoke runs)
    max_eval_steps: int | None = None
    progress_every: int = 20

    def __post_init__(self) -> None:
        if self.batch_size < 1 or (self.micro_batch_size is not None and self.micro_batch_size < 1):
            raise ConfigError("batch_size and micro_batch_size must be >= 1")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


@dataclass
class RunResult:
    """What one run returns (metric values under their official names)."""

    metric: str
    higher_is_better: bool
    val_metric_per_epoch: list[float]
    best_val_metric: float
    best_epoch: int
    test_metrics: dict[str, float]  # leaderboard values (BioMassters rescaled)
    test_metrics_raw: dict[str, float]
    epochs: int
    stopped_by: str  # early_stopping | max_epochs | callback
    train_seconds: float
    images_per_second: float
    device: str
    trainable_params: int
    total_params: int
    lr_per_epoch: list[float] = field(default_factory=list)
    train_loss_per_epoch: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


class Stepper:
    """Device, precision, optimizer and the train/eval steps of one model (used by :func:`fit`
    and by ``scripts/bench_train.py``, so the benchmark measures the loop's own step)."""

    def __init__(self, model: nn.Module, spec: TaskSpec, config: TrainConfig) -> None:
        self.spec, self.config = spec, config
        self.device = resolve_device(config.device)
        cuda = self.device.type == "cuda"
        if config.precision == "bf16" and not cuda:
            raise ConfigError("precision=bf16 needs a CUDA device; the CPU path runs in fp32")
        self.bf16 = cuda and config.precision in ("auto", "bf16")
        self.channels_last = (cuda and _is_convolutional(model.encoder)  # type: ignore[arg-type]
                              if config.channels_last is None else bool(config.channels_last))
        if cuda:
            torch.backends.cudnn.benchmark = not config.deterministic
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.model = model.to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.detection = spec.task in DETECTION_TASKS
        self.forward: Callable[..., Any] = self.model
        if config.compile and not self.detection:
            self.forward = torch.compile(self.model)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters")
        extra: dict[str, Any] = {"fused": True} if cuda else {}
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay,
                                           **extra)
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
            if self.detection:
                losses = self.forward(batch["inputs"], batch["target"], batch.get("time_mask"))
                return sum(losses.values())
            out = self.forward(batch["inputs"], batch.get("time_mask"))
        return task_loss(self.spec.task, out, batch, self.spec.ignore_index)

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


def evaluate(stepper: Stepper, loader: Iterable[Any], max_steps: int | None = None) -> dict[str, float]:
    """Score ``loader`` with the task's official metric; ``{name: raw value}``."""
    model = stepper.model
    was_training = model.training
    model.eval()
    metrics = TaskMetrics(stepper.spec, stepper.device)
    with torch.inference_mode():
        for batch in stepper.batches(loader, max_steps):
            with stepper.autocast():
                if stepper.detection:
                    out = stepper.forward(batch["inputs"], None, batch.get("time_mask"))
                else:
                    out = stepper.forward(batch["inputs"], batch.get("time_mask"))
            metrics.update(out, batch)
    model.train(was_training)
    return metrics.compute()


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies (on the CPU) of what training can change: trainable parameters and buffers."""
    state = {f"p:{n}": p.detach().to("cpu", copy=True)
             for n, p in model.named_parameters() if p.requires_grad}
    state.update({f"b:{n}": b.detach().to("cpu", copy=True) for n, b in model.named_buffers()})
    return state


def _restore(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    live: dict[str, torch.Tensor] = {f"p:{n}": p for n, p in model.named_parameters()}
    live.update({f"b:{n}": b for n, b in model.named_buffers()})
    with torch.no_grad():
        for k, v in state.items():
            live[k].copy_(v)


def fit(model: nn.Module, spec: TaskSpec, train: Any, val: Any, test: Any = None,
        config: TrainConfig | None = None, *,
        on_epoch_end: Callable[[int, float], bool] | None = None,
        progress: Callable[[int, int, float], None] | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None) -> RunResult:
    """Train ``model`` by the protocol and return its :class:`RunResult`.

    Args:
        model: a task model (:func:`geobench.train.task_model.build_task_model`).
        spec: its task.
        train, val, test: map-style Datasets of samples (loaders are built here, seeded) or
            ready DataLoaders (used as they are; their batch size is then theirs). ``test`` may be
            None (HPO trials score validation only).
        config: hyper-parameters; ``config.seed`` seeds everything at the start.
        on_epoch_end: called after each validation with (epoch, raw metric); True stops the run.
        progress: called with (epoch, optimizer step, loss) every ``progress_every`` steps.
        collate_fn: batch collation for Dataset inputs (default: ``collate_samples``).
    """
    cfg = config or TrainConfig()
    seed_everything(cfg.seed, deterministic=cfg.deterministic)
    stepper = Stepper(model, spec, cfg)
    dev = stepper.device

    def loader(data: Any, shuffle: bool, bs: int) -> Iterable[Any]:
        return make_loader(data, batch_size=bs, shuffle=shuffle, device=dev, seed=cfg.seed,
                           num_workers=cfg.num_workers, prefetch_factor=cfg.prefetch_factor,
                           collate_fn=collate_fn)

    train_loader = loader(train, True, stepper.micro_batch)
    val_loader = loader(val, False, cfg.batch_size)
    metric = METRIC_FOR_TASK[spec.task]
    hib = HIGHER_IS_BETTER[metric]
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        stepper.optimizer, mode="max" if hib else "min", factor=cfg.lr_factor,
        patience=cfg.lr_patience)
    trainable, total = count_parameters(stepper.model)
    vals: list[float] = []
    lrs: list[float] = []
    losses: list[float] = []
    best: float | None = None
    best_epoch, wait, stopped_by = -1, 0, "max_epochs"
    best_state: dict[str, torch.Tensor] | None = None
    images, train_time = 0, 0.0
    started = time.perf_counter()
    step = 0
    for epoch in range(cfg.max_epochs):
        lrs.append(float(stepper.optimizer.param_groups[0]["lr"]))
        stepper.model.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=dev)
        n_batches = 0
        for batch in stepper.batches(train_loader, cfg.max_train_steps):
            loss, stepped = stepper.train_step(batch)
            loss_sum += loss
            n_batches += 1
            images += batch_size_of(batch)
            if stepped:
                step += 1
                if progress is not None and step % cfg.progress_every == 0:
                    progress(epoch, step, float(loss))
        stepper.flush()
        stepper.synchronize()
        train_time += time.perf_counter() - t0
        if n_batches == 0:
            raise ConfigError("the training split yielded no batch (empty dataset?)")
        losses.append(float(loss_sum) / n_batches)
        value = evaluate(stepper, val_loader, cfg.max_eval_steps)[metric]
        vals.append(value)
        improved = not math.isnan(value) and (best is None or (value > best if hib else value < best))
        if improved:
            best, best_epoch, wait = value, epoch, 0
            best_state = _snapshot(stepper.model)
        else:
            wait += 1
        if not math.isnan(value):
            scheduler.step(value)
        if on_epoch_end is not None and on_epoch_end(epoch, value):
            stopped_by = "callback"
            break
        if wait >= cfg.early_stop_patience:
            stopped_by = "early_stopping"
            break
    train_seconds = time.perf_counter() - started
    if best_state is not None:
        _restore(stepper.model, best_state)
    raw: dict[str, float] = {}
    if test is not None and stopped_by != "callback":
        raw = evaluate(stepper, loader(test, False, cfg.batch_size), cfg.max_eval_steps)
    return RunResult(
        metric=metric, higher_is_better=hib, val_metric_per_epoch=vals,
        best_val_metric=float("nan") if best is None else best, best_epoch=best_epoch,
        test_metrics={k: leaderboard_value(v, spec.metric_transform if k == metric else None)
                      for k, v in raw.items()},
        test_metrics_raw=raw, epochs=len(vals), stopped_by=stopped_by,
        train_seconds=train_seconds, images_per_second=images / train_time if train_time else 0.0,
        device=_device_name(dev), trainable_params=trainable, total_params=total,
        lr_per_epoch=lrs, train_loss_per_epoch=losses)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return "cpu"
