"""What a sweep runs: one plan per dataset (trial budget, search space, seeds, hashes, run ids)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from geobench.manifest import load_manifest

DETECTION_TASKS = ("detection", "instance_segmentation")


@dataclass(frozen=True)
class DatasetPlan:
    dataset: str
    task: str
    metric: str
    direction: str              # "maximize" | "minimize" (of the validation metric)
    n_trials: int
    batch_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    config_hash: str
    study_name: str

    def hpo_run_id(self, key: int) -> str:
        return f"{self.dataset}-hpo-{key:03d}-{self.config_hash}"

    def repeat_run_id(self, seed: int) -> str:
        return f"{self.dataset}-repeat-{seed}-{self.config_hash}"


def config_hash(payload: dict[str, Any]) -> str:
    """Short, stable hash of everything that changes results (model, dataset, protocol, options)."""
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def dataset_overrides(dataset: str) -> dict[str, Any]:
    """Per-dataset protocol settings from ``conf/dataset/<ds>.yaml`` (beyond its name)."""
    from omegaconf import OmegaConf

    from geobench.paths import CONF_DIR

    path = CONF_DIR / "dataset" / f"{dataset}.yaml"
    if not path.exists():
        return {}
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert isinstance(data, dict)
    data.pop("name", None)
    proto = data.get("protocol", {})
    return dict(proto) if isinstance(proto, dict) else {}


def make_plan(dataset: str, model_key: str, protocol: dict[str, Any], model_options: dict[str, Any]) -> DatasetPlan:
    m = load_manifest(dataset)
    detection = m.task in DETECTION_TASKS
    proto = {**protocol, **dataset_overrides(dataset)}
    n_trials = int(proto["n_trials_detection"] if detection else proto["n_trials"])
    batch_sizes = tuple(int(b) for b in (proto["batch_sizes_detection"] if detection else proto["batch_sizes"]))
    seeds = tuple(int(s) for s in proto["seeds"])
    if len(set(seeds)) != len(seeds):
        from geobench.errors import ConfigError

        raise ConfigError(f"protocol.seeds has duplicates: {list(seeds)}")
    h = config_hash({"model": model_key, "model_options": model_options, "dataset": dataset, "protocol": proto})
    direction = "maximize" if m.higher_is_better else "minimize"
    return DatasetPlan(dataset=dataset, task=m.task, metric=m.metric, direction=direction, n_trials=n_trials,
                       batch_sizes=batch_sizes, seeds=seeds, config_hash=h,
                       study_name=f"{model_key}.{dataset}.{h}")
