"""The dataset catalogue: ``datasets_manifest/<ds>.yaml`` loaded into frozen dataclasses.

The manifests are the one place the benchmark's per-dataset facts live (hub files and checksums,
license, task, metric, classes, modalities and bands, split sizes). The loader is strict: an
unknown key, a missing field or a value of the wrong type is a :class:`ManifestError` naming the
file and the field.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

from geobench import paths
from geobench.errors import ManifestError, UnknownNameError

TaskType = Literal[
    "classification",
    "multilabel_classification",
    "segmentation",
    "regression",
    "detection",
    "instance_segmentation",
]
TASK_TYPES: tuple[str, ...] = get_args(TaskType)

# Official metric names, as they appear in the published results' "Metric" column.
METRIC_FOR_TASK: dict[str, str] = {
    "classification": "Overall_Accuracy",
    "multilabel_classification": "Multilabel_F1_Score",
    "segmentation": "Multiclass_Jaccard_Index",
    "regression": "RMSE",
    "detection": "test_test_map",
    "instance_segmentation": "test_test_segm_map",
}

DATASETS: tuple[str, ...] = (
    "benv2", "treesatai", "so2sat", "forestnet", "biomassters", "caffe", "cloudsen12",
    "burn_scars", "dynamic_earthnet", "flair2", "fotw", "kuro_siwo", "pastis", "spacenet2",
    "spacenet7", "everwatch", "nzcattle", "pastis_r", "substation",
)  # fmt: skip


@dataclass(frozen=True)
class HubFile:
    """One file of a dataset on the Hugging Face hub (multi-part shards are several files)."""

    name: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Hub:
    repo: str
    files: tuple[HubFile, ...]
    revision: str = "main"
    repo_type: str = "dataset"


@dataclass(frozen=True)
class Band:
    """One spectral band or channel. ``wavelength_nm`` is the centre wavelength (None for SAR,
    elevation or other non-optical channels); ``gsd_m`` the ground sampling distance."""

    name: str
    wavelength_nm: float | None = None
    gsd_m: float | None = None
    description: str = ""


@dataclass(frozen=True)
class Modality:
    """An input modality, named by its asset id (stem for time series) in the tortilla."""

    name: str
    sensor: str
    kind: Literal["optical", "sar", "aerial", "elevation", "other"]
    dtype: str
    bands: tuple[Band, ...]
    time_steps: int = 1
    variable_time_steps: bool = False
    description: str = ""

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bands)


@dataclass(frozen=True)
class MetricTransform:
    """How a raw metric becomes the leaderboard score (BioMassters: 1 - RMSE * scale)."""

    kind: Literal["one_minus_scaled"]
    scale: float


@dataclass(frozen=True)
class TimeSelection:
    """Which steps of a time series feed the model, the way GEO-Bench-2's dataset classes pick
    them from a sample's real (acquired) steps, per modality.

    ``all``: every step. ``first``: the first ``count`` steps. ``equally_spaced``: steps
    ``int(i * (T / count))`` for ``i < count`` (``count = 1`` is the first step). ``indices``:
    the listed steps. A series shorter than ``count`` is padded at the front with missing steps.
    """

    rule: Literal["all", "first", "equally_spaced", "indices"] = "all"
    count: int | None = None
    indices: tuple[int, ...] = ()

    def pick(self, n_steps: int) -> list[int | None]:
        """Indices into a series of ``n_steps`` real steps; None marks a padded (missing) step."""
        if self.rule == "all":
            return list(range(n_steps))
        if self.rule == "indices":
            return [i if i < n_steps else None for i in self.indices]
        count = int(self.count or 1)
        if n_steps < count:
            return [None] * (count - n_steps) + list(range(n_steps))
        if self.rule == "first":
            return list(range(count))
        step = n_steps / count
        return [int(i * step) for i in range(count)]

    @property
    def length(self) -> int | None:
        """The number of steps picked whatever the series' length (None for ``all``)."""
        if self.rule == "all":
            return None
        return len(self.indices) if self.rule == "indices" else int(self.count or 1)


@dataclass(frozen=True)
class DatasetProtocol:
    """What the published GEO-Bench-2 runs did with this dataset: the official datamodule's and
    dataset class's defaults (GeoBenchV2 0.9), or the published configs where they differ.

    ``image_size``: every split resized to this side (None: native size). ``flips``: random
    horizontal and vertical flips (p 0.5 each) on train batches. ``eval_batch_size``: batch size
    of validation and test (it matters for the per-batch detection mAP). ``time_steps``: which
    steps of a time series feed the model. ``normalization``: modality -> band -> (mean, std) of
    the official dataset class's z-score statistics (every band a model can read);
    ``normalize: false`` where the official loader feeds raw values (CloudSen12 drops its own
    normalised result). ``nodata_from``: a modality whose no-data pixels (any band) zero every
    modality at that pixel and time step after normalisation (BioMassters' S1 -9999 fills).
    """

    image_size: int | None = None
    flips: bool = True
    eval_batch_size: int = 64
    time_steps: TimeSelection = field(default_factory=TimeSelection)
    normalize: bool = True
    normalization: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    nodata_from: str | None = None
    source: str = ""


@dataclass(frozen=True)
class DatasetManifest:
    name: str
    title: str
    description: str
    hub: Hub
    license: str
    citation: str
    homepage: str
    task: TaskType
    metric: str
    higher_is_better: bool
    modalities: tuple[Modality, ...]
    image_size: tuple[int, int]
    splits: dict[str, int]
    classes: tuple[str, ...] = ()
    ignore_index: int | None = None
    metric_transform: MetricTransform | None = None
    # Regression targets are divided by this before training and scoring (GEO-Bench-2 trains and
    # reports BioMassters on AGB / 289.89, the 98th percentile), so RMSE is on the official scale.
    target_scale: float | None = None
    variable_image_size: bool = False
    protocol: DatasetProtocol = field(default_factory=DatasetProtocol)
    synthetic_only_reason: str = ""
    notes: str = ""
    source: Path | None = field(default=None, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def modality_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modalities)

    def modality(self, name: str) -> Modality:
        for m in self.modalities:
            if m.name == name:
                return m
        raise UnknownNameError(f"{self.name} modality", name, list(self.modality_names))

    @property
    def is_multi_temporal(self) -> bool:
        return any(m.time_steps > 1 or m.variable_time_steps for m in self.modalities)


# --------------------------------------------------------------------------------------------
# strict loading


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML value to type ``tp``; raise ManifestError naming ``where`` on mismatch."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in get_args(tp):
            raise ManifestError(f"{where}: {value!r} is not one of {', '.join(map(repr, get_args(tp)))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ManifestError as exc:
                errors.append(str(exc))
        raise ManifestError(errors[0] if errors else f"{where}: unexpected null")
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, list):
            raise ManifestError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ManifestError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        kt, vt = get_args(tp)
        if not isinstance(value, dict):
            raise ManifestError(f"{where}: expected a mapping, got {type(value).__name__}")
        return {_convert(k, kt, where): _convert(v, vt, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if tp is Path:
        return Path(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ManifestError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ManifestError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ManifestError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ManifestError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported manifest type {tp!r}")  # a bug in this module, not user input


def _build(cls: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    # DatasetManifest.source is the file it was loaded from, not a YAML key (other dataclasses'
    # ``source`` fields, e.g. DatasetProtocol's, are ordinary keys).
    fields = {f.name: f for f in dataclasses.fields(cls)
              if f.init and not (cls is DatasetManifest and f.name == "source")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ManifestError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ManifestError(f"{where}: missing required field {name!r}")
    return cls(**kwargs)


def _check(m: DatasetManifest, where: str) -> None:
    if m.metric != METRIC_FOR_TASK[m.task]:
        raise ManifestError(f"{where}.metric: {m.metric!r} is not the official metric for task "
                            f"{m.task!r} ({METRIC_FOR_TASK[m.task]!r})")
    if m.task != "regression" and not m.classes:
        raise ManifestError(f"{where}.classes: a {m.task} dataset needs its class names")
    if not m.modalities:
        raise ManifestError(f"{where}.modalities: at least one input modality is required")
    names = m.modality_names
    if len(set(names)) != len(names):
        raise ManifestError(f"{where}.modalities: duplicate modality names {names}")
    for mod in m.modalities:
        if not mod.bands:
            raise ManifestError(f"{where}.modalities.{mod.name}.bands: empty")
        if mod.time_steps < 1:
            raise ManifestError(f"{where}.modalities.{mod.name}.time_steps: must be >= 1")
    missing = set(paths.SPLITS) - set(m.splits)
    if missing or set(m.splits) - set(paths.SPLITS):
        raise ManifestError(f"{where}.splits: needs exactly {', '.join(paths.SPLITS)}")
    for f in m.hub.files:
        if f.sha256 is not None and (len(f.sha256) != 64 or any(c not in "0123456789abcdef" for c in f.sha256)):
            raise ManifestError(f"{where}.hub.files.{f.name}.sha256: not a lowercase hex sha256")


def load_manifest_file(path: str | Path) -> DatasetManifest:
    """Load and validate one manifest file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest file not found") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from None
    where = str(path)
    m: DatasetManifest = _build(DatasetManifest, data, where)
    if m.name != path.stem:
        raise ManifestError(f"{where}.name: {m.name!r} differs from the file name {path.stem!r}")
    _check(m, where)
    return dataclasses.replace(m, source=path)


def available_datasets(manifest_dir: str | Path | None = None) -> list[str]:
    d = Path(manifest_dir) if manifest_dir is not None else paths.MANIFEST_DIR
    return sorted(p.stem for p in d.glob("*.yaml"))


@functools.cache
def _load_cached(name: str, manifest_dir: str) -> DatasetManifest:
    d = Path(manifest_dir)
    path = d / f"{name}.yaml"
    if not path.exists():
        raise UnknownNameError("dataset", name, available_datasets(d))
    return load_manifest_file(path)


def load_manifest(name: str, manifest_dir: str | Path | None = None) -> DatasetManifest:
    """The manifest of dataset ``name`` (a leaderboard key such as ``benv2``)."""
    d = Path(manifest_dir) if manifest_dir is not None else paths.MANIFEST_DIR
    return _load_cached(name, str(d))


def load_all(manifest_dir: str | Path | None = None) -> dict[str, DatasetManifest]:
    return {n: load_manifest(n, manifest_dir) for n in available_datasets(manifest_dir)}
