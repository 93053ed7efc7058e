"""What a sweep runs: one plan per dataset (its resolved settings, hashes, study name, run ids)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Collection
from dataclasses import dataclass

from geobench.config import RunConfig
from geobench.protocol import DatasetSettings, dataset_settings


@dataclass(frozen=True)
class DatasetPlan:
    """One dataset of a sweep: the protocol's settings for it and the keys of its units."""

    settings: DatasetSettings
    config_hash: str            # settings + model options: names the study and the rows
    study_name: str

    @property
    def dataset(self) -> str:
        return self.settings.dataset

    @property
    def task(self) -> str:
        return self.settings.task

    @property
    def metric(self) -> str:
        return self.settings.metric

    @property
    def direction(self) -> str:
        return self.settings.direction

    @property
    def n_trials(self) -> int:
        return self.settings.n_trials

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        return self.settings.batch_sizes

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.settings.seeds

    def hpo_run_id(self, key: int) -> str:
        return f"{self.dataset}-hpo-{key:03d}-{self.config_hash}"

    def repeat_run_id(self, seed: int) -> str:
        return f"{self.dataset}-repeat-{seed}-{self.config_hash}"


REDRAW_RANGE = (1, 5000)  # terratorch-iterate repeat_best_experiment.py: randint(1, 5000)


def redraw_seed(dataset: str, slot: int, attempt: int, exclude: Collection[int]) -> int:
    """The seed that replaces seed slot ``slot``'s run after ``attempt`` earlier zero-score runs.

    terratorch-iterate draws replacement seeds at random from 1..5000; here the draw is seeded by
    (dataset, slot, attempt), so a resumed run or another worker redraws the same seed. Seeds in
    ``exclude`` (the protocol's seeds and the ones already tried) are skipped."""
    rng = random.Random(f"geobench-redraw:{dataset}:{slot}:{attempt}")
    while (seed := rng.randint(*REDRAW_RANGE)) in exclude:
        pass
    return seed


def make_plan(run: RunConfig, dataset: str) -> DatasetPlan:
    """The plan of ``dataset`` for the run's model and protocol."""
    model = run.model
    settings = dataset_settings(run.protocol, dataset, model.key, model_modalities=model.modalities)
    payload: dict[str, object] = {"settings": settings.payload(), "pretrained": model.pretrained,
                                  "weights_path": model.weights_path}
    if model.bands is not None or model._target_ is not None or model.kwargs:
        # a model outside the catalogue: its declared bands, factory and arguments name the study
        payload["model"] = {"bands": model.bands, "target": model._target_, "kwargs": model.kwargs}
    if settings.finetune == "frozen" and run.feature_cache == "bfloat16":
        payload["feature_cache"] = run.feature_cache  # changes the numbers (float32 does not)
    h = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
    return DatasetPlan(settings=settings, config_hash=h, study_name=f"{model.key}.{dataset}.{h}")
