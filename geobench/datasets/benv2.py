"""BigEarthNet v2 (``benv2``): multi-label classification from Sentinel-1 and Sentinel-2.

Official layout (``geobench_benv2.tortilla``; checked against the real fixture):

- outer sample ``sample_<n>``; columns ``labels`` (list of class names, any order), ``patch_id``,
  ``country``, ``lon``, ``lat``, ``contains_seasonal_snow``, ``contains_cloud_or_shadow``, ``stac:*``;
- assets, in order: ``s1`` (GeoTIFF float32, VV, VH in dB) and ``s2`` (GeoTIFF uint16, 12 bands).

Decoded: ``inputs`` ``s1``, ``s2`` as stored; ``targets["labels"]`` uint8 multi-hot in the
manifest's class order (GEO-Bench-2 does the same: one per listed name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

LABEL_COLUMN = "labels"
COUNTRIES = ("Austria", "Belgium", "Finland", "Ireland", "Lithuania", "Portugal", "Serbia",
             "Switzerland")


class Adapter(DatasetAdapter):
    name = "benv2"

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
        assets = self.render_inputs(cmap, rng)  # s1, s2: the official asset order
        tile = int(rng.integers(0, 100))
        meta = {
            LABEL_COLUMN: [m.classes[k] for k in np.flatnonzero(labels)],
            "patch_id": f"S2A_MSIL2A_20180529T115401_N9999_R023_T29UNB_{tile}_{index % 100}",
            "country": str(rng.choice(COUNTRIES)),
            "contains_seasonal_snow": False,
            "contains_cloud_or_shadow": False,
            **synth.centroid_metadata(rng, lon=(-9.0, 30.0), lat=(37.0, 68.0)),
        }
        synth.repeat_sample_metadata(assets, meta)
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
