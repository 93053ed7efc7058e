"""One training run of the sweep: build the task model and the loaders, call the training loop.

Everything it does comes from the run's :class:`~geobench.config.RunConfig` (engineering
switches) and the plan's :class:`~geobench.protocol.DatasetSettings` (what the protocol does).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from geobench.config import RunConfig
from geobench.sweep.plan import DatasetPlan


def _subset(ds: Any, percentage: float, seed: int) -> Any:
    if percentage >= 100:
        return ds
    import numpy as np
    import torch

    n = max(1, round(len(ds) * percentage / 100))
    idx = np.sort(np.random.default_rng(seed).choice(len(ds), size=n, replace=False))
    return torch.utils.data.Subset(ds, idx.tolist())


def set_cpu_threads(run: RunConfig) -> None:
    """On a CPU, use half the cores for torch (at least one): per-step work of the models we train
    on CPUs is small, and intra-op threads that compete with loader processes or other jobs slow
    every step down many times (measured: 20 ms with one thread, 300-2000 ms with two on a shared
    2-core machine)."""
    import torch

    if run.device.startswith("cuda") or (run.device == "auto" and torch.cuda.is_available()):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(run.cpu_threads or max(1, cores // 2))


def dataset_modalities(plan: DatasetPlan) -> dict[str, Any]:
    """The dataset's modalities as the model sees them (restricted to the protocol's bands)."""
    from geobench.manifest import load_manifest

    mods = {m.name: m for m in load_manifest(plan.dataset).modalities}
    for name, wanted in (plan.settings.bands or {}).items():
        mod = mods[name]
        picked = tuple(b for w in wanted for b in mod.bands if b.name.lower() == w.lower())
        mods[name] = dataclasses.replace(mod, bands=picked)
    return mods


def task_spec(plan: DatasetPlan) -> Any:
    from geobench.manifest import load_manifest
    from geobench.train.task_spec import TaskSpec

    s = plan.settings
    spec = TaskSpec.from_manifest(load_manifest(plan.dataset))
    size = (s.image_size, s.image_size) if s.image_size else spec.image_size
    return dataclasses.replace(spec, image_size=size, temporal_pooling=s.temporal,
                               time_steps=s.time_steps.length)


def train_config(run: RunConfig, plan: DatasetPlan, lr: float, batch_size: int, seed: int) -> Any:
    from geobench.train.loop import TrainConfig

    s = plan.settings
    select = None
    if s.detection and s.detection_metric == "coco":
        select = "coco_segm_map" if s.task == "instance_segmentation" else "coco_map"
    return TrainConfig(lr=lr, batch_size=batch_size, eval_batch_size=s.eval_batch_size,
                       weight_decay=s.weight_decay, max_epochs=s.max_epochs, monitor=s.monitor,  # type: ignore[arg-type]
                       early_stop_patience=s.early_stop_patience, lr_factor=s.lr_factor,
                       lr_patience=s.lr_patience, flips=s.flips, drop_last=s.drop_last,
                       select_metric=select, seed=seed, device=run.device, compile=run.compile,
                       num_workers=run.num_workers, max_train_steps=s.max_train_batches)


def model_request(run: RunConfig) -> Any:
    """The run's model as the registry reads it: key, and for models outside the catalogue the
    declared bands, factory and keyword arguments (:class:`geobench.models.sources.ModelRequest`)."""
    from geobench.models.sources import ModelRequest

    return ModelRequest.of(run.model)


def train_unit(run: RunConfig, plan: DatasetPlan, lr: float, batch_size: int, seed: int, *,
               score_test: bool, on_epoch_end: Callable[[int, float], bool] | None = None,
               progress: Callable[[int, int, float], None] | None = None) -> Any:
    """Train one configuration; returns the loop's ``RunResult``."""
    from geobench.data import PreparedDataset, collate
    from geobench.train.loop import fit
    from geobench.train.seeding import seed_everything
    from geobench.train.task_model import build_task_model

    s = plan.settings
    set_cpu_threads(run)
    seed_everything(seed)
    spec = task_spec(plan)
    model = build_task_model(model_request(run), spec, dataset_modalities=dataset_modalities(plan),
                             modalities=list(s.modalities) if s.modalities else None,
                             pretrained=run.model.pretrained, finetune=s.finetune,
                             weights_path=run.model.weights_path, model_inputs=s.model_inputs)
    encoder = getattr(model, "encoder", None)
    modalities = list(getattr(encoder, "required_modalities", []) or []) or None

    def split(name: str) -> Any:
        return PreparedDataset(run.data_root, plan.dataset, name, modalities=modalities,
                               bands=s.bands, image_size=s.image_size, time_steps=s.time_steps,
                               normalization=s.normalization)

    train = _subset(split("train"), float(s.data_percentage), seed)
    val = split("validation")
    test = split("test") if score_test else None
    config = train_config(run, plan, lr, batch_size, seed)
    from geobench.sweep.frozen_cache import applies, cached_loaders

    splits = {"train": train, "validation": val, "test": test}
    if applies(run, plan):  # a frozen encoder: train the head on cached features
        splits, config = cached_loaders(run, plan, model, spec, config, splits)
    else:
        from geobench.sweep.resident_splits import resident_splits

        splits = resident_splits(run, config, splits)  # on the device when they fit
    train, val, test = splits["train"], splits["validation"], splits["test"]
    return fit(model, spec, train, val, test, config, on_epoch_end=on_epoch_end, progress=progress,
               collate_fn=collate)
