"""Synthetic tortilla files in the official layout, for every dataset and the smoke capability.

``write_synthetic(ds, data_root)`` writes ``data_root/raw/<ds>/<official file names>`` with
samples from the dataset adapter's ``synthesize`` (learnable: targets depend on the spectra), so
the same reader -> prepare -> loader path reads them. A ``SYNTHETIC.json`` marker records the
parameters and each file's sha256; an existing synthetic set with the same parameters and intact
files is kept (prepare stays up to date), and real files are never overwritten.

The write is all or nothing: every part and the marker are written to temporary files first
(:func:`geobench.fileio.atomic_outputs`), then renamed, the marker first. A process killed at any
point leaves either the old set, or the new marker beside files it lists as geobench's own (old or
new parts, and temporary files that the next write removes), which the next write replaces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from geobench import paths
from geobench.datasets.base import get_adapter
from geobench.datasets.synth import stable_seed
from geobench.errors import GeoBenchError
from geobench.fileio import atomic_outputs, is_temp_name, sweep_stale_temps
from geobench.integrity import MARKER, DigestCache, sha256_file

__all__ = ["MARKER", "write_synthetic"]

DEFAULT_SAMPLES = {"train": 16, "validation": 8, "test": 8}
DEFAULT_MAX_SIZE = 64


def _read_marker(raw: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((raw / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _ours(marker: dict[str, Any] | None, path: Path, cache: DigestCache) -> bool:
    """Whether a tortilla in the folder was written by geobench.synthetic (per the marker)."""
    if marker is None:
        return False
    sums = marker.get("sha256")
    if not isinstance(sums, dict):  # a marker of an older geobench: names only
        return path.name in marker.get("files", [])
    return cache.digest(path) in {*sums.values(), *marker.get("replaces", [])}


def _intact(marker: dict[str, Any], targets: list[Path], cache: DigestCache) -> bool:
    sums = marker.get("sha256")
    if not isinstance(sums, dict):
        return all(t.exists() for t in targets)
    return all(t.exists() and cache.digest(t) == sums.get(t.name) for t in targets)


def _present(raw: Path) -> list[Path]:
    """The tortilla files in ``raw``, not counting geobench's temporary files."""
    return sorted(p for p in raw.glob("*.tortilla") if not is_temp_name(p.name)) if raw.is_dir() else []


def write_synthetic(dataset: str, data_root: str | Path, *, capability: Any = None, seed: int = 0,
                    samples: dict[str, int] | None = None, image_size: int | None = None) -> list[Path]:
    """Write (or keep) a synthetic copy of ``dataset``'s raw files. Returns the tortilla paths.

    Raises:
        GeoBenchError: the folder holds tortilla files that geobench did not write as synthetic.
    """
    # pastis_r reads the PASTIS files: synthesize them with the adapter that owns the files.
    adapter = get_adapter(get_adapter(dataset).raw_dataset)
    m = adapter.manifest
    if samples is None:
        samples = dict(capability.synthetic_samples) if capability is not None and capability.synthetic_samples else dict(DEFAULT_SAMPLES)
    if image_size is None:
        image_size = (capability.synthetic_image_size if capability is not None and capability.synthetic_image_size
                      else min(DEFAULT_MAX_SIZE, m.image_size[0]))
    raw = paths.raw_dir(data_root, adapter.raw_dataset)
    names = adapter.raw_file_names() or [f"{dataset}.tortilla"]
    targets = [raw / n for n in names]
    params = {"dataset": adapter.raw_dataset, "adapter": f"{adapter.name}:{adapter.version}", "seed": seed,
              "samples": samples, "image_size": image_size, "files": names}
    sweep_stale_temps(raw)  # temporary files of a killed earlier write
    marker, cache = _read_marker(raw), DigestCache(raw)
    try:
        if marker is not None and {k: marker.get(k) for k in params} == params and _intact(marker, targets, cache):
            return targets
        present = _present(raw)
        foreign = [p.name for p in present if not _ours(marker, p, cache)]
        if foreign:
            raise GeoBenchError(f"{raw} holds tortilla files that are not geobench's synthetic ones "
                                f"({', '.join(foreign)}); refusing to overwrite them. Use another "
                                "data_root for synthetic data.")
        replaces = sorted({cache.digest(p) for p in present})
        digests = _write_all(adapter, raw, targets, params, replaces, seed, samples, image_size)
        for t in targets:
            cache.record(t, digests[t.name])
    finally:
        cache.save()
    return targets


def _write_all(adapter: Any, raw: Path, targets: list[Path], params: dict[str, Any], replaces: list[str],
               seed: int, samples: dict[str, int], image_size: int) -> dict[str, str]:
    """Every part and the marker, all or nothing (the marker is renamed first). Returns the
    parts' sha256 by file name."""
    from geobench.tortilla.writer import write_tortilla

    specs = []
    for split in paths.SPLITS:
        for i in range(samples.get(split, 0)):
            rng = np.random.default_rng(stable_seed("synthetic", adapter.raw_dataset, seed, split, i))
            specs.append(adapter.synthesize(i, split, rng, image_size))
    # Spread the samples over the official parts (multi-part files stay multi-part).
    chunks = np.array_split(np.arange(len(specs)), len(targets))
    digests: dict[str, str] = {}
    with atomic_outputs([raw / MARKER, *targets]) as (marker_tmp, *temps):
        for target, tmp, idx in zip(targets, temps, chunks, strict=True):
            write_tortilla(tmp, [specs[j] for j in idx], atomic=False)
            digests[target.name] = sha256_file(tmp)
        # the files a killed write may leave beside the new marker are its own or the old ones
        marker_tmp.write_text(json.dumps({**params, "sha256": digests, "replaces": replaces}, indent=1),
                              encoding="utf-8")
    return digests
