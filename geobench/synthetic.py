"""Synthetic tortilla files in the official layout, for every dataset and the smoke capability.

``write_synthetic(ds, data_root)`` writes ``data_root/raw/<ds>/<official file names>`` with
samples from the dataset adapter's ``synthesize`` (learnable: targets depend on the spectra), so
the same reader -> prepare -> loader path reads them. A ``SYNTHETIC.json`` marker records the
parameters; an existing synthetic set with the same parameters is kept (prepare stays up to
date), and real files are never overwritten.
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
from geobench.fileio import atomic_write_text

MARKER = "SYNTHETIC.json"
DEFAULT_SAMPLES = {"train": 16, "validation": 8, "test": 8}
DEFAULT_MAX_SIZE = 64


def write_synthetic(dataset: str, data_root: str | Path, *, capability: Any = None, seed: int = 0,
                    samples: dict[str, int] | None = None, image_size: int | None = None) -> list[Path]:
    """Write (or keep) a synthetic copy of ``dataset``'s raw files. Returns the tortilla paths."""
    from geobench.tortilla.writer import write_tortilla

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
    marker = raw / MARKER
    if marker.exists():
        if json.loads(marker.read_text()) == params and all(t.exists() for t in targets):
            return targets
    elif raw.is_dir() and any(raw.glob("*.tortilla")):
        raise GeoBenchError(f"{raw} holds tortilla files that are not geobench's synthetic ones; "
                            "refusing to overwrite them. Use another data_root for synthetic data.")
    raw.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    specs = []
    for split in paths.SPLITS:
        for i in range(samples.get(split, 0)):
            rng = np.random.default_rng(stable_seed("synthetic", adapter.raw_dataset, seed, split, i))
            specs.append(adapter.synthesize(i, split, rng, image_size))
    # Spread the samples over the official parts (multi-part files stay multi-part).
    chunks = np.array_split(np.arange(len(specs)), len(targets))
    for target, idx in zip(targets, chunks, strict=True):
        write_tortilla(target, [specs[j] for j in idx])
    atomic_write_text(marker, json.dumps(params, indent=1))
    return targets
