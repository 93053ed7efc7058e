"""Deterministic seeding for a training run: Python, NumPy, torch, DataLoader workers and shuffling.

Call :func:`seed_everything` before the task model is built (so the head's initialisation is fixed
by the seed) and build loaders with :func:`loader_generator` and :func:`worker_init_fn` (so the
shuffling order and any random augmentation in a worker are fixed by it too).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    Args:
        seed: the run's seed.
        deterministic: also ask torch for deterministic kernels (``use_deterministic_algorithms``
            with ``warn_only``) and turn cuDNN's auto-tuner off. On a CPU the loop is
            deterministic without this; on a GPU it costs speed, so the default is off.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def worker_init_fn(worker_id: int) -> None:
    """Seed a DataLoader worker's ``random`` and NumPy from the seed torch gave this worker.

    torch seeds each worker with ``base_seed + worker_id`` where the base seed comes from the
    loader's generator, so a seeded generator makes worker randomness reproducible too.
    """
    import torch

    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def loader_generator(seed: int) -> Any:
    """A ``torch.Generator`` seeded with ``seed`` for a DataLoader's shuffling and worker seeds."""
    import torch

    g = torch.Generator()
    g.manual_seed(seed)
    return g
