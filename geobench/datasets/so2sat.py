"""So2Sat LCZ42 (``so2sat``, GEO-Bench v1 m-so2sat): local-climate-zone classification.

No real fixture is available to us. Layout as GEO-Bench-2 writes it (``generate_benchmark/so2sat.py``
and ``datasets/so2sat.py`` of the later GEO-Bench-2 code; see ``datasets_manifest/so2sat.yaml``):

- outer sample ``sample_<patch id>``; columns ``labels`` (the class *name*) and ``patch_id``;
- assets, in order: ``s1`` (GeoTIFF float32, 2 bands) and ``s2`` (GeoTIFF float32, 10 bands), no
  georeference; each asset row also carries ``labels`` as the integer class index (what the
  GEO-Bench-2 dataset class returns) and ``patch_id``.

Decoded: ``s1``, ``s2`` as stored; ``targets["label"]`` int64 class index. Both label columns are
read; where both exist they must agree (else the file is reported as corrupt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import AssetRef, SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

LABEL_COLUMN = "labels"


def single_label(adapter: DatasetAdapter, sample: SampleRef, assets: list[AssetRef]) -> np.ndarray:
    """The class index of a GEO-Bench v1-derived sample: the outer ``labels`` (class name) and the
    assets' ``labels`` (class index) columns, checked against each other."""
    found: list[tuple[int, str]] = []
    if sample.metadata.get(LABEL_COLUMN) is not None:
        found.append((adapter.class_index(sample.metadata[LABEL_COLUMN], sample, LABEL_COLUMN),
                      f"sample column {LABEL_COLUMN!r}"))
    for a in assets:
        if a.metadata.get(LABEL_COLUMN) is not None:
            found.append((adapter.class_index(a.metadata[LABEL_COLUMN], sample, LABEL_COLUMN),
                          f"asset {a.id!r} column {LABEL_COLUMN!r}"))
    if not found:
        raise CorruptFileError(sample.path, f"sample {sample.id!r} has no {LABEL_COLUMN!r} column",
                               f"not the {adapter.name} layout")
    if len({k for k, _ in found}) > 1:
        detail = ", ".join(f"{where} = {adapter.manifest.classes[k]!r}" for k, where in found)
        raise CorruptFileError(sample.path, f"sample {sample.id!r}: the label columns disagree "
                               f"({detail})")
    return np.array(found[0][0], dtype=np.int64)


class Adapter(DatasetAdapter):
    name = "so2sat"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets, inputs = self.read_inputs(tortilla, sample)
        label = single_label(self, sample, [assets[m] for m in self.manifest.modality_names])
        return DecodedSample(inputs=inputs, targets={"label": label})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        label = int(rng.integers(0, m.num_classes))
        cmap = synth.dominant_class_map(rng, image_size, label, m.num_classes)
        patch = f"{index:05d}{split[:2]}"
        assets = self.render_inputs(cmap, rng, labels=label, patch_id=patch)  # s1, s2: the official asset order
        meta = {LABEL_COLUMN: m.classes[label], "patch_id": patch}
        return SampleSpec(f"sample_{patch}", assets, split, meta)
