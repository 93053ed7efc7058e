"""ForestNet (``forestnet``, GEO-Bench v1 m-forestnet): drivers of deforestation in Indonesia.

No real fixture is available to us. Layout as GEO-Bench-2 writes it (``generate_benchmark/
forestnet.py`` and ``datasets/forestnet.py`` of the later GEO-Bench-2 code; see
``datasets_manifest/forestnet.yaml``):

- outer sample ``sample_<n>_<lat>_<lon>_<date>``; columns ``labels`` (the class *name*),
  ``patch_id``, ``lon``, ``lat``, ``stac:*``;
- one asset ``image`` (GeoTIFF uint8, 6 Landsat-8 bands, 332 x 332, EPSG:4326); its row also
  carries ``labels`` as the integer class index (what the GEO-Bench-2 class returns).

Decoded: ``inputs["image"]`` as stored; ``targets["label"]`` int64 class index (both label
columns are read and must agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.datasets.so2sat import LABEL_COLUMN, single_label

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec


class Adapter(DatasetAdapter):
    name = "forestnet"

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
        where = synth.centroid_metadata(rng, lon=(95.0, 141.0), lat=(-10.0, 5.5))
        date = f"{int(rng.integers(2002, 2017))}_{int(rng.integers(1, 13)):02d}_01"
        patch = f"{index}_{where['lat']:.6f}_{where['lon']:.6f}_{date}"
        assets = self.render_inputs(cmap, rng, labels=label, patch_id=patch)  # the one asset 'image'
        meta = {LABEL_COLUMN: m.classes[label], "patch_id": patch, **where}
        synth.repeat_sample_metadata(assets, meta)  # the asset's integer label wins
        return SampleSpec(f"sample_{split}_{patch}", assets, split, meta)
