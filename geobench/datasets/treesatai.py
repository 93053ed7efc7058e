"""TreeSatAI (``treesatai``): multi-label tree-genus classification from aerial, S1 and S2 images.

Official layout (``geobench_treesatai.tortilla``; checked against the real fixture):

- outer sample ``sample_<n>``; columns ``species_labels`` (list of genus names, largest area
  first), ``dist_labels`` (their area fractions, same order), ``year``, ``lon``, ``lat``,
  ``source_path``, ``ts_path`` (an external HDF5 time series, not in the tortilla), ``stac:*``;
- assets, in order: ``aerial`` (GeoTIFF uint8, 4 bands CIR), ``s1`` (GeoTIFF uint16, 3 bands),
  ``s2`` (GeoTIFF uint16, 12 bands), all on the aerial 304 x 304 grid.

Decoded: the three rasters as stored; ``targets["labels"]`` uint8 multi-hot in the manifest's
class order, one for every name in ``species_labels`` whatever its fraction (as GEO-Bench-2 does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

LABEL_COLUMN = "species_labels"
FRACTION_COLUMN = "dist_labels"


class Adapter(DatasetAdapter):
    name = "treesatai"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        _, inputs = self.read_inputs(tortilla, sample)
        labels = self.multi_hot(sample.metadata.get(LABEL_COLUMN), sample, LABEL_COLUMN)
        return DecodedSample(inputs=inputs, targets={"labels": labels})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        labels = synth.random_multihot(rng, m.num_classes, max_labels=3)
        cmap = synth.covering_class_map(rng, image_size, np.flatnonzero(labels))
        assets = self.render_inputs(cmap, rng)  # aerial, s1, s2: the official asset order
        present, counts = np.unique(cmap, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        fractions = counts[order] / counts.sum()
        genus = m.classes[int(present[order[0]])]
        year = int(rng.integers(2011, 2021))
        meta = {
            LABEL_COLUMN: [m.classes[int(k)] for k in present[order]],
            FRACTION_COLUMN: [round(float(f), 5) for f in fractions],
            "year": year,
            "source_path": f"{genus}_synthetic_{index}_WEFL_NLF.tif",
            "ts_path": f"sentinel-ts/{genus}_synthetic_{index}_WEFL_NLF_{year}.h5",
            **synth.centroid_metadata(rng, lon=(7.0, 11.5), lat=(51.3, 53.9)),
        }
        synth.repeat_sample_metadata(assets, meta)
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
