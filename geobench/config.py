"""The typed run configuration: the structured schema of ``conf/`` and the object the code reads.

``python -m geobench.run`` composes ``conf/config.yaml`` against :class:`RunConfig` (a typo in a
key fails at compose time), turns it into these dataclasses with ``OmegaConf.to_object`` (each
checks its values in ``__post_init__``) and passes the one :class:`RunConfig` unchanged through
the sweep, the plan and ``train_unit`` to the training loop. ``--cfg job`` prints exactly what
these objects hold.

Protocols are presets in ``conf/protocol/``: ``geobench2`` (the published GEO-Bench-2 protocol,
the default for every run on real data; see ``docs/protocol.md``), ``smoke`` (the synthetic smoke
capability: the same steps on a CPU budget) and ``fast`` (named speed options; its rows never pass
as official). Settings whose value is ``official`` take the per-dataset value of the published
runs from the dataset's manifest (``protocol:`` block).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from geobench.errors import ConfigError

OFFICIAL_PROTOCOL = "geobench2"
FINETUNE_MODES = ("full", "frozen", "lora")
PRUNERS = ("none", "median", "halving")
MONITORS = ("val_loss", "val_metric")
TEMPORAL_POOLING = ("mean", "concat")
AUGMENT = ("official", "flips", "none")
NORMALIZATION = ("official", "train_stats")
DETECTION_METRICS = ("official", "coco")
TIME_STEPS_NAMED = ("official", "all")


def _choice(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{where}={value!r}: expected one of {', '.join(allowed)}")


def _size_or_named(where: str, value: str, named: tuple[str, ...]) -> None:
    if value in named:
        return
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{where}={value!r}: expected {' or '.join(named)} or a positive integer")


@dataclass
class ModelRule:
    """A per-(model, dataset) setting of a protocol preset (the published runs' exceptions).

    Applies to every model in ``models`` on every dataset in ``datasets`` (empty: all) whose task
    is in ``tasks`` (empty: all). The first matching rule that sets a field wins.
    """

    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    modalities: list[str] | None = None  # dataset modalities fed to the model
    bands: dict[str, list[str]] | None = None  # modality -> bands fed (a subset)
    model_inputs: dict[str, str] | None = None  # dataset modality -> model input (TerraMind "RGB")
    image_size: int | None = None
    batch_sizes: list[int] | None = None
    source: str = ""  # where the published runs show it

    def matches(self, model: str, dataset: str, task: str) -> bool:
        return ((not self.models or model in self.models) and (not self.datasets or dataset in self.datasets)
                and (not self.tasks or task in self.tasks))


@dataclass
class ProtocolConfig:
    """Every setting of the benchmark protocol that can change a score."""

    name: str = OFFICIAL_PROTOCOL
    # -- HPO (Optuna)
    n_trials: int = 16
    n_trials_detection: int = 10                 # detection and instance segmentation
    lr_low: float = 1e-6
    lr_high: float = 1e-3                        # lr ~ log-uniform [lr_low, lr_high]
    batch_sizes: list[int] = field(default_factory=lambda: [8, 16, 32])
    batch_sizes_detection: list[int] = field(default_factory=lambda: [8])
    sampler_seed: int = 0
    n_startup_trials: int = 10                   # TPE random start-up trials (Optuna's default)
    pruner: str = "none"                         # none | median | halving
    hpo_seed: int = 42                           # training seed of every HPO trial
    # -- training
    weight_decay: float = 0.01
    max_epochs: int = 50
    monitor: str = "val_loss"                    # what early stopping and the LR plateau watch
    early_stop_patience: int = 10
    early_stop_detection: bool = False           # detection/instance runs train max_epochs
    lr_factor: float = 0.5
    lr_patience: int = 5
    drop_last: bool = True                       # train loader drops the last partial batch
    eval_batch_size: str = "official"            # official | <int>
    # -- repeated runs
    seeds: list[int] = field(default_factory=lambda: [205, 913, 1829, 2007, 2254])
    zero_score_redraws: int = 3                  # a seed scoring exactly 0.0 is rerun with a new seed
    # -- adaptation
    finetune: str = "full"                       # full | frozen | lora
    # -- data
    image_size: str = "official"                 # official | native | <int>
    time_steps: str = "official"                 # official | all | <int> (the last N steps)
    temporal: str = "mean"                       # mean | concat: pooling of per-step features
    augment: str = "official"                    # official | flips | none
    normalization: str = "official"              # official | train_stats
    detection_metric: str = "official"           # official | coco: the selected/reported number
    data_percentage: int = 100
    max_train_batches: int | None = None  # cap batches per epoch (smoke/debug)
    model_rules: list[ModelRule] = field(default_factory=list)

    def __post_init__(self) -> None:
        _choice("protocol.finetune", self.finetune, FINETUNE_MODES)
        _choice("protocol.pruner", self.pruner, PRUNERS)
        _choice("protocol.monitor", self.monitor, MONITORS)
        _choice("protocol.temporal", self.temporal, TEMPORAL_POOLING)
        _choice("protocol.augment", self.augment, AUGMENT)
        _choice("protocol.normalization", self.normalization, NORMALIZATION)
        _choice("protocol.detection_metric", self.detection_metric, DETECTION_METRICS)
        _size_or_named("protocol.image_size", str(self.image_size), ("official", "native"))
        _size_or_named("protocol.time_steps", str(self.time_steps), TIME_STEPS_NAMED)
        _size_or_named("protocol.eval_batch_size", str(self.eval_batch_size), ("official",))
        if not 0 < self.lr_low <= self.lr_high:
            raise ConfigError(f"protocol.lr_low={self.lr_low}, lr_high={self.lr_high}: need 0 < low <= high")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ConfigError(f"protocol.seeds={list(self.seeds)}: need at least one seed, no duplicates")
        for what, sizes in (("batch_sizes", self.batch_sizes), ("batch_sizes_detection", self.batch_sizes_detection)):
            if not sizes or any(b < 1 for b in sizes):
                raise ConfigError(f"protocol.{what}={list(sizes)}: need positive batch sizes")
        if self.n_trials < 1 or self.n_trials_detection < 1 or self.max_epochs < 1:
            raise ConfigError("protocol.n_trials, n_trials_detection and max_epochs must be >= 1")
        if self.zero_score_redraws < 0:
            raise ConfigError(f"protocol.zero_score_redraws={self.zero_score_redraws}: expected 0 or more")
        if not 0 < self.data_percentage <= 100:
            raise ConfigError(f"protocol.data_percentage={self.data_percentage}: expected 1..100")

    @property
    def is_official(self) -> bool:
        return self.name == OFFICIAL_PROTOCOL


@dataclass
class ModelConfig:
    """The model: a registry key or alias, ``timm:NAME``/``terratorch:NAME``, an installed entry
    point's name, or a key of your own with a factory (``_target_``); see the README's "Benchmark
    your own model"."""

    key: str = MISSING
    pretrained: bool = True
    modalities: list[str] | None = None  # null: the protocol's choice
    weights_path: str | None = None
    # -- models outside the catalogue
    bands: list[str] | None = None  # input bands: names (B04, red), wavelengths in nm, NAME@NM
    _target_: str | None = None  # your factory: module:function or module.function
    kwargs: dict[str, Any] = field(default_factory=dict)  # the factory's / library's keyword arguments

    def __post_init__(self) -> None:
        if self.bands is not None and not self.bands:
            raise ConfigError("model.bands=[]: name at least one band, or null for the default")
        if self._target_ is not None and not self._target_.strip():
            raise ConfigError("model._target_ is empty: name your factory as module:function")


@dataclass
class CapabilityConfig:
    name: str | None = None  # null: a single dataset=<ds> run
    display_name: str = ""
    synthetic: bool = False
    datasets: list[str] = field(default_factory=list)
    synthetic_samples: dict[str, int] = field(default_factory=dict)
    synthetic_image_size: int | None = None


@dataclass
class DatasetConfig:
    name: str = MISSING


@dataclass
class StorageConfig:
    url: str | None = None  # null: SQLite in the run directory
    heartbeat_interval: int = 10
    grace_period: int = 30


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    capability: CapabilityConfig = field(default_factory=CapabilityConfig)
    dataset: DatasetConfig | None = None
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    data_root: str = "data"
    run_name: str = MISSING
    worker: int = 0                 # index of this worker in a multirun (`-m worker=0,1,2`)
    exclusive: bool | None = None  # null: true for a single run, false in a multirun
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    num_workers: int | None = None  # DataLoader workers (null: from the cores)
    compile: bool = False           # torch.compile the model
    cpu_threads: int | None = None  # torch threads on a CPU (null: half the cores)
    prepare: bool = True            # write synthetic data / prepare missing datasets first
    verify: bool = True             # check raw files' sha256 before preparing (false: record the mismatch)
    feature_cache: str = "float32"  # frozen encoders: off | float32 (exact) | bfloat16 (half the disk)
    estimate: bool = False          # print the expected device-hours per dataset and stop (no training)
    estimate_concurrent: int | None = None  # with estimate: probe up to N trials at once (null: 4 on CUDA, none on CPU)
    resident: str = "auto"          # splits held on the device: auto (CUDA, if they fit) | on | off
    tracking: str = "none"          # none | mlflow: every trial and seed run logged to MLflow
    tracking_uri: str | None = None  # null: sqlite:///RUN_DIR/mlflow.db
    feature_cache_dir: str | None = None  # null: <data_root>/cache/features
    leaderboard: bool = True        # aggregate and write the leaderboard pages at the end
    progress: str = "auto"          # auto | live | log
    poll_seconds: float = 5.0       # how often an idle worker looks for claimable work

    def __post_init__(self) -> None:
        _choice("progress", self.progress, ("auto", "live", "log"))
        _choice("feature_cache", self.feature_cache, ("off", "float32", "bfloat16"))
        _choice("resident", self.resident, ("auto", "on", "off"))
        _choice("tracking", self.tracking, ("none", "mlflow"))
        if self.estimate_concurrent is not None and self.estimate_concurrent < 0:
            raise ConfigError(f"estimate_concurrent={self.estimate_concurrent}: expected 0 (no probe) or more")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device={self.device!r}: expected auto, cpu, cuda or cuda:N")

    @property
    def datasets(self) -> list[str]:
        """The datasets this run covers: ``dataset=`` alone, else the capability's list."""
        if self.dataset is not None:
            return [self.dataset.name]
        if not self.capability.datasets:
            raise ConfigError("choose capability=<name> or dataset=<name> (see conf/capability, conf/dataset)")
        return list(self.capability.datasets)

    @property
    def synthetic(self) -> bool:
        return self.capability.synthetic


def register() -> None:
    """Put the schema into Hydra's config store (``conf/config.yaml`` composes against it), and
    one ``model`` group option per registry key and alias, made from the model catalogue (the one
    place models are listed): ``model=prithvi`` is ``model.key=prithvi_eo_v2_300_tl`` with the
    published weights; ``model=smoke`` has none (random init). ``model=timm:NAME``,
    ``model=terratorch:NAME`` and installed entry points' names come from a config source made
    on demand (:mod:`geobench.models.hydra_source`)."""
    from hydra.core.config_store import ConfigStore

    from geobench.models.catalog import ALIASES, SPECS
    from geobench.models.hydra_source import register as register_model_source

    register_model_source()  # model=timm:NAME, model=terratorch:NAME, installed entry points
    cs = ConfigStore.instance()
    cs.store(name="geobench_schema", node=RunConfig)
    by_key = {s.key: s for s in SPECS}
    for name, key in [*((s.key, s.key) for s in SPECS), *ALIASES.items()]:
        cs.store(group="model", name=name, node=ModelConfig(key=key, pretrained=by_key[key].weights is not None))


def to_run_config(cfg: Any) -> RunConfig:
    """The composed Hydra config as a checked :class:`RunConfig` (raises ConfigError)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"configuration: {exc}".splitlines()[0]) from None
    if not isinstance(obj, RunConfig):
        raise ConfigError("configuration: not composed against the geobench schema")
    return obj


def run_config_for_run(cfg: Any) -> RunConfig:
    """:func:`to_run_config` with the model named by its registry key (an alias resolved), as a run,
    its completion check and its probes all use it (raises ConfigError, or the registry's errors for
    a model it cannot resolve)."""
    from geobench.models.registry import get_spec

    run = to_run_config(cfg)
    run.model.key = get_spec(run.model).key
    return run
