"""Splits held on the training device in a sweep (:mod:`geobench.data.resident`).

``resident=auto`` holds a split on a CUDA device when its inputs, in their source dtype, take at
most :data:`MEMORY_FRACTION` of the device's free memory; ``on`` holds every split that can be
(on any device, the CPU included: the tests compare it with the loader path there); ``off`` never.
Subsets (``protocol.data_percentage`` < 100), splits of varying sample size and detection keep the
loader path.
"""

from __future__ import annotations

import logging
from typing import Any

from geobench.config import RunConfig

log = logging.getLogger("geobench.run")
MEMORY_FRACTION = 0.3


def _fits(ds: Any, device: Any) -> bool:
    import torch

    from geobench.data.resident import nbytes

    if device.type != "cuda":
        return False
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes(ds) <= MEMORY_FRACTION * free


def resident_splits(run: RunConfig, config: Any, splits: dict[str, Any]) -> dict[str, Any]:
    """The ``splits`` with each one that should and can be held on the device replaced by a
    :class:`~geobench.data.resident.ResidentSplit` batched as the loop would batch it."""
    from geobench.data.dataset import PreparedDataset
    from geobench.data.resident import ResidentSplit, supports
    from geobench.train.stepper import resolve_device

    if run.resident == "off":
        return splits
    device = resolve_device(config.device)
    out = dict(splits)
    for name, ds in splits.items():
        if not isinstance(ds, PreparedDataset) or not supports(ds):
            continue
        if run.resident == "auto" and not _fits(ds, device):
            continue
        train = name == "train"
        bs = config.batch_size if train else (config.eval_batch_size or config.batch_size)
        out[name] = ResidentSplit(ds, device, batch_size=bs, shuffle=train, seed=config.seed,
                                  drop_last=train and config.drop_last)
        log.debug("%s/%s held on %s", ds.dataset, name, device)
    return out
