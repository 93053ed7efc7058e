"""CloudSEN12 (``cloudsen12``): cloud and cloud-shadow segmentation of Sentinel-2 L2A scenes.

No real fixture is available to us. Layout as GEO-Bench-2 builds the file (a subset of the
tacofoundation/cloudsen12 'l2a' taco: 512 x 512 patches with high-quality labels; see
``datasets_manifest/cloudsen12.yaml``):

- outer sample: the tacofoundation sample id; columns ``label_type``, ``lon``, ``lat``, ``stac:*``;
- assets, in order: ``s2l2a`` (GeoTIFF uint16, 14 bands) and ``target`` (GeoTIFF uint8, 0 clear,
  1 thick cloud, 2 thin cloud, 3 cloud shadow). GEO-Bench-2 reads them by position (0, 1).

Decoded: ``inputs["s2l2a"]`` as stored; ``targets["mask"]`` uint8 ``(H, W)`` = the stored target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

TARGET = "target"


class Adapter(DatasetAdapter):
    name = "cloudsen12"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets, inputs = self.read_inputs(tortilla, sample, (TARGET,))
        mask = tortilla.read_raster(assets[TARGET])[0]
        return DecodedSample(inputs=inputs, targets={"mask": mask})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        cmap = synth.class_map(rng, image_size, m.num_classes)
        assets = self.render_inputs(cmap, rng)  # 's2l2a'
        assets.append(synth.raster_asset(TARGET, cmap.astype(np.uint8)[None]))
        meta = {"label_type": "high", **synth.centroid_metadata(rng, lon=(-180.0, 180.0),
                                                                lat=(-56.0, 75.0))}
        synth.repeat_sample_metadata(assets, meta)
        return SampleSpec(f"ROI_{split}_{index:05d}__synthetic", assets, split, meta)
