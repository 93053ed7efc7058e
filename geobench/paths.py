"""Where things live: the data root layout and the project's own data folders."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_DIR = Path(os.environ.get("GEOBENCH_MANIFEST_DIR", PROJECT_ROOT / "datasets_manifest"))
CONF_DIR = PROJECT_ROOT / "conf"
SPLITS = ("train", "validation", "test")


def default_data_root() -> Path:
    """``$GEOBENCH_DATA_ROOT`` or ``./data``."""
    return Path(os.environ.get("GEOBENCH_DATA_ROOT", "data"))


def raw_dir(data_root: str | Path, dataset: str) -> Path:
    return Path(data_root) / "raw" / dataset


def prepared_dir(data_root: str | Path, dataset: str) -> Path:
    return Path(data_root) / "prepared" / dataset


def prepared_file(data_root: str | Path, dataset: str, split: str) -> Path:
    return prepared_dir(data_root, dataset) / f"{split}.h5"
