"""Where things live: the data root layout and the project's own data folders."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
# The configuration groups and the dataset manifests ship inside the package (an installed wheel
# has them); the repository's top-level conf/ and datasets_manifest/ point at these folders.
MANIFEST_DIR = Path(os.environ.get("GEOBENCH_MANIFEST_DIR", PACKAGE_DIR / "datasets_manifest"))
CONF_DIR = PACKAGE_DIR / "conf"
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
