"""Training loop of the GEO-Bench-2 protocol: fit on train, select on validation, score on test.

As the published runs (terratorch tasks driven by terratorch-iterate; docs/protocol.md):

- AdamW (weight decay 0.01); ReduceLROnPlateau (factor 0.5, patience 5) and early stopping
  (patience 10) on ``monitor``: the validation loss (terratorch's ``val/loss``, the
  batch-size-weighted mean of per-batch losses) or the validation metric; detection watches
  the validation mAP and may run without early stopping (``early_stop_patience=None``);
- the weights of the epoch with the best validation *metric* are restored before the test split
  is scored (terratorch-iterate's ``ModelCheckpoint(monitor=metric)`` + ``ckpt_path="best"``);
- random horizontal/vertical flips on train batches (``flips``), on the device;
- train batches drop the last partial batch (``drop_last``); validation and test use
  ``eval_batch_size``.

bf16 autocast on CUDA, fp32 on CPU; channels-last for convolutional encoders on CUDA; optional
``torch.compile``; gradient accumulation when ``micro_batch_size < batch_size``.

Hooks (this module imports neither Optuna nor Hydra): ``on_epoch_end(epoch, val_metric) -> bool``
(True stops the run, e.g. a pruned trial; the test split is then not scored) and
``progress(epoch, step, loss)`` every ``progress_every`` optimizer steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from geobench.errors import ConfigError
from geobench.manifest import METRIC_FOR_TASK
from geobench.torch_state import preserved_torch_state
from geobench.train.finetune import count_parameters
from geobench.train.loaders import batch_size_of, make_loader
from geobench.train.metrics import HIGHER_IS_BETTER, TaskMetrics, leaderboard_value
from geobench.train.seeding import seed_everything
from geobench.train.stepper import Stepper, device_name, restore, snapshot
from geobench.train.task_spec import TaskSpec

VAL_LOSS = "loss"  # key of the validation loss in evaluate()'s result


@dataclass
class TrainConfig:
    """Hyper-parameters and engineering switches of one training run."""

    lr: float = 1e-4
    batch_size: int = 16
    micro_batch_size: int | None = None  # < batch_size: accumulate gradients
    eval_batch_size: int | None = None   # None: batch_size
    weight_decay: float = 0.01
    max_epochs: int = 50
    monitor: Literal["val_loss", "val_metric"] = "val_metric"
    early_stop_patience: int | None = 10  # None: train max_epochs
    lr_factor: float = 0.5
    lr_patience: int = 5
    flips: bool = False
    drop_last: bool = False
    select_metric: str | None = None  # evaluation key that selects the checkpoint (default: official)
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
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ConfigError("eval_batch_size must be >= 1")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.monitor not in ("val_loss", "val_metric"):
            raise ConfigError(f"monitor={self.monitor!r}: expected val_loss or val_metric")


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
    val_loss_per_epoch: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EarlyStopping:
    """Stops after ``patience`` epochs without a strict improvement of the monitored value
    (Lightning's ``EarlyStopping`` with ``min_delta=0``); ``patience=None`` never stops."""

    higher_is_better: bool
    patience: int | None
    best: float | None = None
    wait: int = 0

    def step(self, value: float) -> bool:
        """Record an epoch's value; True when training should stop."""
        if not math.isnan(value) and (self.best is None or (value > self.best if self.higher_is_better
                                                            else value < self.best)):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        return self.patience is not None and self.wait >= self.patience


@dataclass
class BestCheckpoint:
    """The weights of the epoch with the best validation metric (kept on the CPU)."""

    higher_is_better: bool
    value: float | None = None
    epoch: int = -1
    state: dict[str, torch.Tensor] | None = None

    def update(self, model: nn.Module, epoch: int, value: float) -> None:
        if math.isnan(value):
            return
        if self.value is None or (value > self.value if self.higher_is_better else value < self.value):
            self.value, self.epoch, self.state = value, epoch, snapshot(model)


def evaluate(stepper: Stepper, loader: Iterable[Any], max_steps: int | None = None, *,
             with_loss: bool = False) -> dict[str, float]:
    """Score ``loader`` with the task's metrics; ``{name: raw value}``, plus the
    batch-size-weighted mean loss under ``"loss"`` when ``with_loss``."""
    model = stepper.model
    was_training = model.training
    model.eval()
    metrics = TaskMetrics(stepper.spec, stepper.device)
    loss_sum, n = torch.zeros((), device=stepper.device), 0
    with torch.inference_mode():
        for batch in stepper.batches(loader, max_steps):
            with stepper.autocast():
                out = model.predict(batch)  # type: ignore[operator]
                if with_loss:
                    b = batch_size_of(batch)
                    loss_sum += model.loss(batch, output=out).float() * b  # type: ignore[operator]
                    n += b
            metrics.update(out, batch)
    model.train(was_training)
    result = metrics.compute()
    if with_loss:
        result[VAL_LOSS] = float(loss_sum) / n if n else math.nan
    return result


def train_epoch(stepper: Stepper, loader: Iterable[Any], cfg: TrainConfig, flipper: Any,
                on_step: Callable[[int, float], None] | None = None) -> tuple[float, int, int]:
    """One pass over the train loader; returns (mean loss over batches, images seen, optimizer
    steps). ``on_step(step, loss)`` is called every ``progress_every`` steps of this epoch."""
    stepper.model.train()
    loss_sum = torch.zeros((), device=stepper.device)
    n_batches, images, steps = 0, 0, 0
    for batch in stepper.batches(loader, cfg.max_train_steps):
        if flipper is not None:
            batch = flipper(batch)
        loss, stepped = stepper.train_step(batch)
        loss_sum += loss
        n_batches += 1
        images += batch_size_of(batch)
        steps += stepped
        if stepped and on_step is not None and steps % cfg.progress_every == 0:
            on_step(steps, float(loss))
    stepper.flush()
    stepper.synchronize()
    if n_batches == 0:
        raise ConfigError("the training split yielded no batch: it is empty, or holds fewer samples than "
                          "one batch while the last partial batch is dropped (protocol.drop_last=false "
                          "keeps it)")
    return float(loss_sum) / n_batches, images, steps


def fit(model: nn.Module, spec: TaskSpec, train: Any, val: Any, test: Any = None,
        config: TrainConfig | None = None, *,
        on_epoch_end: Callable[[int, float], bool] | None = None,
        progress: Callable[[int, int, float], None] | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None) -> RunResult:
    """Train ``model`` by the protocol and return its :class:`RunResult`.

    Args:
        model: a task model (:func:`geobench.train.task_model.build_task_model`).
        spec: its task.
        train, val, test: map-style Datasets (loaders are built here, seeded) or ready
            DataLoaders (used as they are). ``test`` may be None (HPO trials score validation only).
        config: hyper-parameters; ``config.seed`` seeds everything at the start.
        on_epoch_end: called after each validation with (epoch, selection metric); True stops.
        progress: called with (epoch, optimizer step, loss) every ``progress_every`` steps.
        collate_fn: batch collation for Dataset inputs (default: ``collate_samples``).
    """
    cfg = config or TrainConfig()
    with preserved_torch_state():  # TF32/cuDNN switches and determinism flags end with the run
        seed_everything(cfg.seed, deterministic=cfg.deterministic)
        return _fit(model, spec, train, val, test, cfg, on_epoch_end, progress, collate_fn)


@dataclass
class _Validation:
    """What happens after each validation: history, plateau schedule, early stopping, checkpoint."""

    metric: str                   # the evaluation key that selects the checkpoint
    higher_is_better: bool
    by_loss: bool                 # stopping and plateau watch the validation loss
    stopper: EarlyStopping
    scheduler: Any
    best: BestCheckpoint
    values: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @classmethod
    def create(cls, cfg: TrainConfig, metric: str, optimizer: torch.optim.Optimizer) -> _Validation:
        hib = HIGHER_IS_BETTER.get(metric, True)
        by_loss = cfg.monitor == "val_loss"
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min" if by_loss or not hib else "max", factor=cfg.lr_factor, patience=cfg.lr_patience)
        return cls(metric, hib, by_loss, EarlyStopping(not by_loss and hib, cfg.early_stop_patience),
                   scheduler, BestCheckpoint(hib))

    def step(self, model: nn.Module, epoch: int, scores: dict[str, float]) -> tuple[float, bool]:
        """Record an epoch's scores; returns (selection metric, stop early)."""
        value = scores[self.metric]
        self.values.append(value)
        monitored = scores[VAL_LOSS] if self.by_loss else value
        if self.by_loss:
            self.losses.append(monitored)
        self.best.update(model, epoch, value)
        if not math.isnan(monitored):
            self.scheduler.step(monitored)
        return value, self.stopper.step(monitored)


def _fit(model: nn.Module, spec: TaskSpec, train: Any, val: Any, test: Any, cfg: TrainConfig,
         on_epoch_end: Callable[[int, float], bool] | None,
         progress: Callable[[int, int, float], None] | None,
         collate_fn: Callable[[list[Any]], Any] | None) -> RunResult:
    from geobench.train.augment import BatchFlipper

    stepper = Stepper(model, spec, cfg)

    def loader(data: Any, train_split: bool) -> Iterable[Any]:
        bs = stepper.micro_batch if train_split else (cfg.eval_batch_size or cfg.batch_size)
        return make_loader(data, batch_size=bs, shuffle=train_split, device=stepper.device, seed=cfg.seed,
                           num_workers=cfg.num_workers, prefetch_factor=cfg.prefetch_factor,
                           collate_fn=collate_fn, drop_last=train_split and cfg.drop_last)

    flipper = BatchFlipper(cfg.seed, stepper.device) if cfg.flips else None
    train_loader, val_loader = loader(train, True), loader(val, False)
    official = METRIC_FOR_TASK[spec.task]
    watch = _Validation.create(cfg, cfg.select_metric or official, stepper.optimizer)
    lrs, losses = [], []
    stopped_by, images, train_time, steps = "max_epochs", 0, 0.0, 0
    started = time.perf_counter()
    for epoch in range(cfg.max_epochs):
        lrs.append(float(stepper.optimizer.param_groups[0]["lr"]))
        t0 = time.perf_counter()

        def on_step(step: int, loss: float, _epoch: int = epoch, _before: int = steps) -> None:
            if progress is not None:
                progress(_epoch, _before + step, loss)

        mean_loss, seen, n_steps = train_epoch(stepper, train_loader, cfg, flipper, on_step)
        images, steps, train_time = images + seen, steps + n_steps, train_time + time.perf_counter() - t0
        losses.append(mean_loss)
        value, stop = watch.step(stepper.model, epoch,
                                 evaluate(stepper, val_loader, cfg.max_eval_steps, with_loss=watch.by_loss))
        if on_epoch_end is not None and on_epoch_end(epoch, value):
            stopped_by = "callback"
            break
        if stop:
            stopped_by = "early_stopping"
            break
    train_seconds = time.perf_counter() - started
    if watch.best.state is not None:
        restore(stepper.model, watch.best.state)
    raw: dict[str, float] = {}
    if test is not None and stopped_by != "callback":
        raw = evaluate(stepper, loader(test, False), cfg.max_eval_steps)
        if watch.metric != official:  # the selected number is the run's reported metric
            raw = {**raw, f"{official}_official": raw[official], official: raw[watch.metric]}
    trainable, total = count_parameters(stepper.model)
    return RunResult(
        metric=official, higher_is_better=watch.higher_is_better, val_metric_per_epoch=watch.values,
        best_val_metric=float("nan") if watch.best.value is None else watch.best.value,
        best_epoch=watch.best.epoch,
        test_metrics={k: leaderboard_value(v, spec.metric_transform if k == official else None)
                      for k, v in raw.items()},
        test_metrics_raw=raw, epochs=len(watch.values), stopped_by=stopped_by,
        train_seconds=train_seconds, images_per_second=images / train_time if train_time else 0.0,
        device=device_name(stepper.device), trainable_params=trainable, total_params=total,
        lr_per_epoch=lrs, train_loss_per_epoch=losses, val_loss_per_epoch=watch.losses)
