"""A protocol preset applied to one (model, dataset): every setting a training run uses.

:func:`dataset_settings` resolves the run's :class:`~geobench.config.ProtocolConfig` against the
dataset's manifest (its ``protocol:`` block holds the published runs' per-dataset values, used
where the preset says ``official``) and the preset's per-(model, dataset) rules, and returns a
frozen :class:`DatasetSettings`. The sweep plans with it, ``train_unit`` trains with it, and its
hash (with the protocol's name) is recorded in every results row: two rows with the same
``protocol_hash`` were made under exactly the same settings.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from geobench.config import OFFICIAL_PROTOCOL, ModelRule, ProtocolConfig
from geobench.errors import ConfigError
from geobench.manifest import DatasetManifest, TimeSelection, load_manifest

DETECTION_TASKS = ("detection", "instance_segmentation")


@dataclass(frozen=True)
class DatasetSettings:
    """Everything that decides what one training run of (model, dataset) does."""

    protocol: str                     # the preset's name
    dataset: str
    model: str
    task: str
    metric: str                       # official metric name
    direction: str                    # "maximize" | "minimize" (of the metric)
    # HPO and seeds
    n_trials: int
    lr_low: float
    lr_high: float
    batch_sizes: tuple[int, ...]
    sampler_seed: int
    n_startup_trials: int
    pruner: str
    hpo_seed: int
    seeds: tuple[int, ...]
    zero_score_redraws: int           # new seeds tried for a seed run whose test metric is 0.0
    # training loop
    weight_decay: float
    max_epochs: int
    monitor: str                      # "val_loss" | "val_metric"
    early_stop_patience: int | None   # None: no early stopping
    lr_factor: float
    lr_patience: int
    drop_last: bool
    eval_batch_size: int
    finetune: str
    # data and model inputs
    image_size: int | None            # None: native size
    time_steps: TimeSelection
    temporal: str                     # "mean" | "concat"
    flips: bool
    normalization: str                # "official" | "train_stats"
    modalities: tuple[str, ...] | None  # None: the model's default choice
    bands: dict[str, tuple[str, ...]] | None
    model_inputs: dict[str, str] | None   # dataset modality -> model input (multi-modal models)
    detection_metric: str
    data_percentage: int
    max_train_batches: int | None

    @property
    def detection(self) -> bool:
        return self.task in DETECTION_TASKS

    def payload(self) -> dict[str, Any]:
        """Every setting as JSON-able values (the input of :meth:`hash`)."""
        return json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True, default=str))

    def hash(self) -> str:
        """Short, stable hash of every setting that can change a score."""
        blob = json.dumps(self.payload(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def deviations_from(self, official: DatasetSettings) -> dict[str, tuple[Any, Any]]:
        """``{setting: (this value, the official value)}`` where the two differ (model excluded)."""
        mine, ref = self.payload(), official.payload()
        return {k: (mine[k], ref[k]) for k in mine if k not in ("protocol",) and mine[k] != ref[k]}


def _rule_value(rules: list[ModelRule], model: str, dataset: str, task: str, name: str) -> Any:
    for rule in rules:
        value = getattr(rule, name)
        if value is not None and rule.matches(model, dataset, task):
            return value
    return None


def _image_size(proto: ProtocolConfig, m: DatasetManifest, rule_size: int | None) -> int | None:
    value = str(proto.image_size)
    if value == "official":
        return rule_size or m.protocol.image_size
    if value == "native":
        return None
    return int(value)


def _time_steps(proto: ProtocolConfig, m: DatasetManifest) -> TimeSelection:
    value = str(proto.time_steps)
    if not m.is_multi_temporal or value == "all":
        return TimeSelection("all")
    if value == "official":
        return m.protocol.time_steps
    return TimeSelection("equally_spaced", int(value))


def dataset_settings(proto: ProtocolConfig, dataset: str, model: str, *,
                     model_modalities: list[str] | None = None) -> DatasetSettings:
    """The settings of ``model`` on ``dataset`` under ``proto``.

    ``model_modalities`` (the ``model.modalities`` override) wins over the preset's rules.
    """
    m = load_manifest(dataset)
    detection = m.task in DETECTION_TASKS
    rules = list(proto.model_rules)

    def rule(name: str) -> Any:
        return _rule_value(rules, model, dataset, m.task, name)

    batch_sizes = rule("batch_sizes") or (proto.batch_sizes_detection if detection else proto.batch_sizes)
    modalities = model_modalities or rule("modalities")
    if modalities:
        unknown = [x for x in modalities if x not in m.modality_names]
        if unknown:
            raise ConfigError(f"{dataset}: modalities {unknown} are not among the dataset's "
                              f"{list(m.modality_names)} (model.modalities or protocol.model_rules)")
    bands = rule("bands")
    for what, value in (("bands", bands), ("model_inputs", rule("model_inputs"))):
        unknown = [x for x in (value or {}) if x not in m.modality_names]
        if unknown:
            raise ConfigError(f"protocol.model_rules: {what} names modalities {unknown} that {dataset} "
                              f"does not have ({list(m.modality_names)})")
    eval_bs = m.protocol.eval_batch_size if str(proto.eval_batch_size) == "official" else int(proto.eval_batch_size)
    if proto.augment == "official":
        flips = m.protocol.flips
    else:
        flips = proto.augment == "flips"
    return DatasetSettings(
        protocol=proto.name, dataset=dataset, model=model, task=m.task, metric=m.metric,
        direction="maximize" if m.higher_is_better else "minimize",
        n_trials=int(proto.n_trials_detection if detection else proto.n_trials),
        lr_low=float(proto.lr_low), lr_high=float(proto.lr_high),
        batch_sizes=tuple(int(b) for b in batch_sizes), sampler_seed=int(proto.sampler_seed),
        n_startup_trials=int(proto.n_startup_trials), pruner=proto.pruner, hpo_seed=int(proto.hpo_seed),
        seeds=tuple(int(s) for s in proto.seeds), zero_score_redraws=int(proto.zero_score_redraws),
        weight_decay=float(proto.weight_decay), max_epochs=int(proto.max_epochs),
        # detection: the published runs monitored val mAP and had no early stopping
        monitor="val_metric" if detection else proto.monitor,
        early_stop_patience=(None if detection and not proto.early_stop_detection
                             else int(proto.early_stop_patience)),
        lr_factor=float(proto.lr_factor), lr_patience=int(proto.lr_patience), drop_last=bool(proto.drop_last),
        eval_batch_size=int(eval_bs), finetune=proto.finetune,
        image_size=_image_size(proto, m, rule("image_size")), time_steps=_time_steps(proto, m),
        temporal=proto.temporal, flips=bool(flips), normalization=proto.normalization,
        modalities=tuple(modalities) if modalities else None,
        bands={k: tuple(v) for k, v in bands.items()} if bands else None,
        model_inputs=dict(rule("model_inputs")) if rule("model_inputs") else None,
        detection_metric=proto.detection_metric, data_percentage=int(proto.data_percentage),
        max_train_batches=proto.max_train_batches,
    )


def official_settings(dataset: str, model: str) -> DatasetSettings:
    """The settings the published protocol (the ``geobench2`` preset) gives ``model`` on ``dataset``."""
    return dataset_settings(load_preset(OFFICIAL_PROTOCOL), dataset, model)


@functools.cache
def load_preset(name: str) -> ProtocolConfig:
    """A protocol preset of ``conf/protocol/`` as a checked :class:`ProtocolConfig` (cached:
    do not modify it)."""
    from omegaconf import OmegaConf

    from geobench.paths import CONF_DIR

    path = CONF_DIR / "protocol" / f"{name}.yaml"
    if not path.exists():
        from geobench.errors import UnknownNameError

        raise UnknownNameError("protocol", name, sorted(p.stem for p in path.parent.glob("*.yaml")))
    node: Any = OmegaConf.load(path)
    parents = [str(d) for d in node.pop("defaults", []) if str(d) != "_self_"]
    merged = OmegaConf.merge(OmegaConf.structured(ProtocolConfig),
                             *[OmegaConf.structured(load_preset(p)) for p in parents], node)
    obj = OmegaConf.to_object(merged)
    assert isinstance(obj, ProtocolConfig)
    return obj
