"""Structured schema of ``conf/config.yaml`` (a typo in a key fails at compose time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass
class ProtocolConfig:
    name: str = "default"
    n_trials: int = 16
    n_trials_detection: int = 10
    lr_low: float = 1e-6
    lr_high: float = 1e-3
    batch_sizes: list[int] = field(default_factory=lambda: [8, 16, 32])
    batch_sizes_detection: list[int] = field(default_factory=lambda: [8])
    weight_decay: float = 0.01
    max_epochs: int = 50
    early_stop_patience: int = 10
    lr_patience: int = 5
    lr_factor: float = 0.5
    seeds: list[int] = field(default_factory=lambda: [205, 913, 1829, 2007, 2254])
    finetune: str = "full"
    pruner: str = "median"
    sampler_seed: int = 0
    data_percentage: int = 100
    image_size: Any = None
    max_train_batches: Any = None


@dataclass
class StorageConfig:
    url: Any = None
    heartbeat_interval: int = 10
    grace_period: int = 30


@dataclass
class RunConfig:
    model: Any = MISSING
    capability: Any = MISSING
    dataset: Any = None
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    data_root: str = "data"
    run_name: str = MISSING
    worker: int = 0                 # index of this worker in a multirun (`-m worker=0,1,2`)
    exclusive: Any = None           # null: true for a single run, false in a multirun
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    num_workers: Any = None         # DataLoader workers (null: chosen from the cores)
    compile: bool = False           # torch.compile the model
    cpu_threads: Any = None         # torch threads on a CPU (null: half the cores, at least 1)
    prepare: bool = True            # write synthetic data / prepare missing datasets first
    leaderboard: bool = True        # aggregate and write the leaderboard pages at the end
    progress: str = "auto"          # auto | live | log
    poll_seconds: float = 5.0       # how often an idle worker looks for claimable work


def register() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="geobench_schema", node=RunConfig)
