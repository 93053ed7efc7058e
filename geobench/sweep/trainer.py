"""One training run of the sweep: build the task model and the loaders, call the training loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geobench.sweep.plan import DatasetPlan


def _subset(ds: Any, percentage: float, seed: int) -> Any:
    if percentage >= 100:
        return ds
    import numpy as np
    import torch

    n = max(1, round(len(ds) * percentage / 100))
    idx = np.sort(np.random.default_rng(seed).choice(len(ds), size=n, replace=False))
    return torch.utils.data.Subset(ds, idx.tolist())


def _cpu_threads(opts: dict[str, Any]) -> None:
    """On a CPU, use half the cores for torch (at least one): per-step work of the models we train
    on CPUs is small, and intra-op threads that compete with loader processes or other jobs slow
    every step down many times (measured: 20 ms with one thread, 300-2000 ms with two on a shared
    2-core machine)."""
    import os

    import torch

    if str(opts.get("device", "auto")).startswith("cuda") or (opts.get("device", "auto") == "auto" and torch.cuda.is_available()):
        return
    n = opts.get("cpu_threads")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(int(n) if n else max(1, cores // 2))


def train_unit(opts: dict[str, Any], plan: DatasetPlan, lr: float, batch_size: int, seed: int, *,
               score_test: bool, on_epoch_end: Callable[[int, float], bool] | None = None,
               progress: Callable[[int, int, float], None] | None = None) -> Any:
    """Train one configuration; returns the loop's ``RunResult``.

    ``opts`` holds the resolved run options: data_root, model_key, pretrained, modalities,
    protocol (dict), device, num_workers, compile.
    """
    from geobench.data import PreparedDataset, collate
    from geobench.manifest import load_manifest
    from geobench.train.loop import TrainConfig, fit
    from geobench.train.seeding import seed_everything
    from geobench.train.task_model import TaskSpec, build_task_model

    proto = opts["protocol"]
    manifest = load_manifest(plan.dataset)
    _cpu_threads(opts)
    seed_everything(seed)
    image_size = proto.get("image_size") or opts.get("image_size")
    spec = TaskSpec.from_manifest(manifest)
    if image_size:  # the encoder is built for the size the loader resizes to
        spec = dataclasses.replace(spec, image_size=(int(image_size), int(image_size)))
    model = build_task_model(opts["model_key"], spec,
                             dataset_modalities={m.name: m for m in manifest.modalities},
                             modalities=opts.get("modalities"), pretrained=opts.get("pretrained", True),
                             finetune=proto["finetune"], weights_path=opts.get("weights_path"))
    encoder = getattr(model, "encoder", None)
    modalities = list(getattr(encoder, "required_modalities", []) or []) or None
    data_root = Path(opts["data_root"])

    def split(name: str) -> Any:
        return PreparedDataset(data_root, plan.dataset, name, modalities=modalities, image_size=image_size)

    train = _subset(split("train"), float(proto.get("data_percentage", 100)), seed)
    val = split("validation")
    test = split("test") if score_test else None
    config = TrainConfig(lr=lr, batch_size=batch_size, weight_decay=float(proto["weight_decay"]),
                         max_epochs=int(proto["max_epochs"]), early_stop_patience=int(proto["early_stop_patience"]),
                         lr_factor=float(proto["lr_factor"]), lr_patience=int(proto["lr_patience"]), seed=seed,
                         device=opts.get("device", "auto"), compile=bool(opts.get("compile", False)),
                         num_workers=opts.get("num_workers"), max_train_steps=proto.get("max_train_batches"))
    return fit(model, spec, train, val, test, config,
               on_epoch_end=on_epoch_end, progress=progress, collate_fn=collate)
