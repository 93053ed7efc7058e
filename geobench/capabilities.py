"""Capabilities (groups of datasets scored together), loaded from ``conf/capability/*.yaml``.

Those YAML files are the one source of capability membership (:func:`capabilities_of` gives a
dataset's); :func:`check_consistency` (run by the tests) checks that they name catalogued datasets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from geobench import paths
from geobench.errors import ManifestError, UnknownNameError

# The nine official capabilities, in the official leaderboard's column order.
OFFICIAL_CAPABILITIES: tuple[str, ...] = (
    "core", "multi_spectral_dependent", "multi_temporal", "pixel_wise", "classification",
    "detection", "under_10m", "at_least_10m", "rgb_nir",
)  # fmt: skip


@dataclass(frozen=True)
class Capability:
    name: str
    display_name: str
    datasets: tuple[str, ...]
    synthetic: bool = False
    synthetic_samples: dict[str, int] = field(default_factory=dict)
    synthetic_image_size: int | None = None


_ALLOWED = {"name", "display_name", "datasets", "synthetic", "synthetic_samples", "synthetic_image_size"}


def capability_dir() -> Path:
    return paths.CONF_DIR / "capability"


def available_capabilities() -> list[str]:
    return sorted(p.stem for p in capability_dir().glob("*.yaml"))


@functools.cache
def load_capability(name: str) -> Capability:
    path = capability_dir() / f"{name}.yaml"
    if not path.exists():
        raise UnknownNameError("capability", name, available_capabilities())
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "capability" in data:
        # a global-package capability (smoke: it also selects its protocol and loader settings)
        data = data["capability"]
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a mapping")
    unknown = set(data) - _ALLOWED
    if unknown:
        raise ManifestError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "display_name", "datasets"):
        if key not in data:
            raise ManifestError(f"{path}: missing required field {key!r}")
    if data["name"] != name:
        raise ManifestError(f"{path}: name {data['name']!r} differs from the file name")
    return Capability(
        name=name,
        display_name=str(data["display_name"]),
        datasets=tuple(data["datasets"]),
        synthetic=bool(data.get("synthetic", False)),
        synthetic_samples=dict(data.get("synthetic_samples") or {}),
        synthetic_image_size=data.get("synthetic_image_size"),
    )


def official_capabilities() -> list[Capability]:
    return [load_capability(c) for c in OFFICIAL_CAPABILITIES]


def display_names() -> dict[str, str]:
    """capability key -> official leaderboard column name."""
    return {c.name: c.display_name for c in official_capabilities()}


def check_consistency() -> list[str]:
    """Problems with capability membership: a dataset without a manifest, or a catalogued dataset
    in no official capability. (Membership lives only here: a dataset's capabilities are
    :func:`capabilities_of` it.)"""
    from geobench.manifest import DATASETS, available_datasets

    problems = []
    known = set(available_datasets())
    for cap in official_capabilities():
        problems += [f"capability {cap.name}: dataset {ds!r} has no manifest" for ds in cap.datasets
                     if ds not in known]
    covered = {ds for cap in official_capabilities() for ds in cap.datasets}
    problems += [f"dataset {ds!r} is in no official capability" for ds in DATASETS if ds not in covered]
    return problems


def capabilities_of(dataset: str) -> list[str]:
    """The official capabilities ``dataset`` belongs to, in the leaderboard's column order."""
    return [c.name for c in official_capabilities() if dataset in c.datasets]
