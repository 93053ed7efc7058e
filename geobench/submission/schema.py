"""The submission formats: file names, columns and their kinds, JSON keys, limits and the facts
(official metric names, known leaderboard models) that a submission is checked against.

Two layouts are accepted (see the README, "Submitting results"):

* the official GEO-Bench-2 leaderboard layout: ``results_and_parameters.csv`` +
  ``additional_info.json``, exactly those two files;
* geobench's layout: the same two files (the CSV with the official columns first, in official
  order and spelling, then geobench's own columns) plus ``geobench.json`` (model metadata).

Facts here come from the official leaderboard (The-AI-Alliance/GEO-Bench-2-Leaderboard,
``utils/constants.py`` and ``utils/model_info.json`` at commit 1659ccf).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geobench.manifest import DATASETS, load_manifest
from geobench.published import PUBLISHED_MODELS

if TYPE_CHECKING:
    from geobench.manifest import DatasetManifest


def _manifests() -> dict[str, DatasetManifest]:
    return {ds: load_manifest(ds) for ds in DATASETS}


def _biomassters_scale() -> float:
    transform = load_manifest("biomassters").metric_transform
    assert transform is not None, "datasets_manifest/biomassters.yaml: metric_transform is missing"
    return transform.scale

CSV_FILE = "results_and_parameters.csv"
JSON_FILE = "additional_info.json"
GEOBENCH_FILE = "geobench.json"
OFFICIAL_FILES = (CSV_FILE, JSON_FILE)
GEOBENCH_FILES = (CSV_FILE, JSON_FILE, GEOBENCH_FILE)
# Files the official validator skips when it counts a folder's files.
IGNORED_FILES = (".DS_Store",)

# Size limits. The official leaderboard deploys to a Hugging Face space, whose per-file limit is
# 10 MiB (its CI checks it); the largest published CSV is 0.43 MB.
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_JSON_BYTES = 1024 * 1024
MAX_FOLDER_ENTRIES = 64
MAX_CELL_CHARS = 1000
# Columns of results_and_parameters.csv: 16 official + 15 geobench (the published files have 22).
MAX_COLUMNS = 64
# Time budget of one submission's validation (python -m geobench.validate --time-limit).
VALIDATION_BUDGET_S = 60.0

# Cells that pandas (so the leaderboard) does not read as text: its default na_values
# (pandas._libs.parsers.STR_NA_VALUES) and booleans. A backbone key may be none of them (in any
# case): "None" would load as a missing backbone, "FALSE" as the boolean False.
PANDAS_NA_VALUES = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})  # fmt: skip
PANDAS_BOOL_VALUES = frozenset({"True", "TRUE", "true", "False", "FALSE", "false"})

# The official leaderboard requires this many seed runs per (backbone, dataset).
OFFICIAL_REQUIRED_SEEDS = 5
SEEDS_KEY = "Number of repeated seeds trials"

# Kinds of the official columns, as the official validator types them.
STRING_COLUMNS: tuple[str, ...] = (
    "dataset", "Metric", "experiment_name", "partition name", "backbone", "decoder",
    "batch_size_selection", "frozen_or_full_ft",
)  # fmt: skip
INTEGER_COLUMNS: tuple[str, ...] = ("early_stop_patience", "n_trials", "Seed", "data_percentages", "batch_size")
FLOAT_COLUMNS: tuple[str, ...] = ("weight_decay", "lr", "test metric")

# Inclusive numeric ranges per column (None: unbounded on that side); ``test metric`` is checked
# against its metric instead. Columns in OPTIONAL_NUMERIC may be empty (the published detection
# rows have no early-stopping patience).
NUMERIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "Seed": (0, 2**32 - 1),
    "batch_size": (1, 65536),
    "n_trials": (1, 100_000),
    "early_stop_patience": (0, 100_000),
    "data_percentages": (1, 100),
    "lr": (0, 10),
    "weight_decay": (0, 10),
}
POSITIVE_COLUMNS = ("lr",)  # strictly > 0
OPTIONAL_NUMERIC: tuple[str, ...] = ("early_stop_patience",)

# geobench's own columns (after the official ones in geobench's layout).
EXTRA_INTEGER_COLUMNS = ("trial", "epochs")
EXTRA_FLOAT_COLUMNS = ("val_metric", "test_metric_coco", "train_seconds", "images_per_second")
EXTRA_REQUIRED_TEXT = ("run_id", "phase", "geobench_version", "protocol", "protocol_hash")
SUBMITTED_PHASE = "repeat"

# Fine-tuning modes: the official leaderboard knows two; geobench adds LoRA (ranked separately).
OFFICIAL_FT_MODES = ("full_ft", "frozen")
GEOBENCH_FT_MODES = ("full_ft", "frozen", "lora")

# A backbone key: what model registries and file names can carry safely.
BACKBONE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}"
SUBMISSION_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"

# Official metric per dataset (the published results' "Metric" column) and BioMassters' leaderboard
# scale (its RMSE enters the leaderboard as 1 - RMSE * scale; the published CSVs already hold the
# converted value, 0.948-0.961, under the metric name "RMSE"): both from the dataset manifests.
OFFICIAL_METRICS: dict[str, str] = {ds: m.metric for ds, m in _manifests().items()}
BIOMASSTERS_RMSE_SCALE: float = _biomassters_scale()

# additional_info.json: the official keys and the JSON type each must have (the official
# validator checks presence and type). Note the trailing space in "Code Repository Link ".
ADDITIONAL_INFO_KEYS: dict[str, type] = {
    "Paper Link": str,
    "Code Repository Link ": str,
    "License": str,
    "Number of HPO trials": str,
    "Additional information about submission": str,
    "Comments on new models in submission": str,
    "New model info": list,
}
ADDITIONAL_INFO_OPTIONAL = (SEEDS_KEY,)
NEW_MODEL_KEYS = ("model_display_name", "model_size", "unique_backbone_key")

# geobench.json (format version 1).
GEOBENCH_FORMAT_VERSION = 1
GEOBENCH_KEYS: dict[str, type | tuple[type, ...]] = {
    "format_version": int,
    "submission_id": str,
    "created_at": str,
    "geobench_version": str,
    "fine_tuning": str,
    "protocol": dict,
    "models": list,
}
MODEL_KEYS: dict[str, type | tuple[type, ...]] = {
    "backbone": str,
    "display_name": str,
    "parameters": (int, type(None)),
    "size": str,
    "license": str,
    "paper": str,
    "code": str,
}
# Optional facts of a model (filled by geobench.submit from RUN_DIR/model_info.json): its input
# bands ("B04 (664.6 nm)"), patch size (null for CNNs) and where it comes from.
MODEL_OPTIONAL_KEYS: dict[str, type | tuple[type, ...]] = {
    "bands": list,
    "patch_size": (int, type(None)),
    "source": str,
}
MAX_DISPLAY_NAME_CHARS = 100

# Models already on the official leaderboard (display name, size): geobench.published holds them.
OFFICIAL_MODELS: dict[str, tuple[str, str]] = PUBLISHED_MODELS


def official_metric(dataset: str) -> str | None:
    """The official metric name of ``dataset``, None if it is not a benchmark dataset."""
    return OFFICIAL_METRICS.get(dataset)


def format_size(parameters: int) -> str:
    """A parameter count as the leaderboard shows sizes: 25_557_032 -> '26M', 1.2e9 -> '1.2B'."""
    if parameters >= 1_000_000_000:
        return f"{parameters / 1e9:.1f}B"
    if parameters >= 1_000_000:
        return f"{round(parameters / 1e6)}M"
    if parameters >= 1_000:
        return f"{round(parameters / 1e3)}K"
    return str(parameters)
