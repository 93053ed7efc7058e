"""The frozen-feature cache in a sweep: build it once per (encoder weights, data settings), then
hand the training loop batches of cached features (:mod:`geobench.train.feature_cache`).

Used when the protocol freezes the encoder (``protocol.finetune=frozen``), the task is not
detection (the detectors' proposal stages need their images) and ``feature_cache`` is not
``off``. The split loaders are built exactly as the loop builds its own (same seeded shuffling,
batch sizes, ``drop_last``), and the run's flip generator draws the same decisions, so a cached
run trains on the same batches as an uncached one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any

from geobench.config import RunConfig
from geobench.sweep.plan import DatasetPlan

log = logging.getLogger("geobench.run")
_BUILD_BATCH = 16


def applies(run: RunConfig, plan: DatasetPlan) -> bool:
    s = plan.settings
    return run.feature_cache != "off" and s.finetune == "frozen" and not s.detection


def weights_digest(module: Any) -> str:
    """sha256 of a module's parameters and buffers (names, shapes, values)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _key(run: RunConfig, plan: DatasetPlan, encoder: Any, split: str, n_variants: int) -> str:
    from geobench.train.feature_cache import cache_key

    s = plan.settings
    return cache_key({
        "model": run.model.key, "weights": weights_digest(encoder), "dataset": plan.dataset, "split": split,
        "image_size": s.image_size, "bands": s.bands, "modalities": s.modalities, "model_inputs": s.model_inputs,
        "time_steps": dataclasses.asdict(s.time_steps), "temporal": s.temporal, "normalization": s.normalization,
        "plan": str(getattr(encoder, "plan", "")), "dtype": run.feature_cache, "variants": n_variants,
    })


def cache_root(run: RunConfig) -> Path:
    return Path(run.feature_cache_dir) if run.feature_cache_dir else Path(run.data_root) / "cache" / "features"


def _split_cache(run: RunConfig, plan: DatasetPlan, model: Any, spec: Any, dataset: Any, split: str,
                 device: Any) -> Any:
    """The split's cache, built first if it is missing."""
    from geobench.data import collate
    from geobench.train.feature_cache import (
        CachedSplit,
        build_split,
        check_space,
        estimate_bytes,
        probe,
        variants,
    )
    from geobench.train.loaders import make_loader

    n_var = variants(plan.settings.flips) if split == "train" else 1
    encoder = model.encoder.to(device)
    path = cache_root(run) / _key(run, plan, encoder, split, n_var) / f"{split}.h5"
    if not path.exists():
        loader = make_loader(dataset, batch_size=_BUILD_BATCH, shuffle=False, device=device, num_workers=0,
                             collate_fn=collate)
        first = collate([dataset[0]])
        first = {**first, "inputs": {m: x.to(device) for m, x in first["inputs"].items()}}
        shape = probe(encoder, first, spec.temporal_pooling, run.feature_cache)
        need = estimate_bytes(shape, len(dataset), n_var)
        log.info("%s/%s: building the frozen-feature cache (%d samples x %d flip variants, %.2f GiB) in %s",
                 plan.dataset, split, len(dataset), n_var, need / 2**30, path.parent)
        check_space(path.parent, need)
        from geobench.train.loaders import device_batches

        build_split(path, encoder, device_batches(loader, device), len(dataset), n_var, spec.temporal_pooling,
                    run.feature_cache)
    return CachedSplit(path)


def cached_loaders(run: RunConfig, plan: DatasetPlan, model: Any, spec: Any, config: Any,
                   splits: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Replace the ``splits`` datasets by iterables of cached-feature batches; returns them and the
    loop's config with flips off (the batches are flipped already)."""
    from geobench.data import PreparedDataset, collate
    from geobench.train.augment import BatchFlipper
    from geobench.train.feature_cache import CachedBatches
    from geobench.train.loaders import make_loader
    from geobench.train.stepper import resolve_device

    device = resolve_device(config.device)
    s = plan.settings
    out: dict[str, Any] = {}
    for split, data in splits.items():
        if data is None:
            out[split] = None
            continue
        subset = getattr(data, "indices", None)  # protocol.data_percentage < 100: a Subset of the split
        full = data.dataset if subset is not None else data
        cache = _split_cache(run, plan, model, spec, full, split, device)  # indexed like the full split
        targets: Any = PreparedDataset(run.data_root, plan.dataset, split, modalities=[], image_size=s.image_size)
        if subset is not None:
            import torch

            targets = torch.utils.data.Subset(targets, list(subset))
        train = split == "train"
        bs = config.batch_size if train else (config.eval_batch_size or config.batch_size)
        loader = make_loader(targets, batch_size=bs, shuffle=train, device=device, seed=config.seed,
                             num_workers=0, collate_fn=collate, drop_last=train and config.drop_last)
        flipper = BatchFlipper(config.seed, device) if train and config.flips else None
        out[split] = CachedBatches(loader, cache, tuple(spec.image_size), flipper)
    return out, dataclasses.replace(config, flips=False)
