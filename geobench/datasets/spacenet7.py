"""SpaceNet 7 (building segmentation, Planet RGBA 4 m).

Layout: each sample holds ``images`` (GeoTIFF, 4 x uint8) and ``mask`` (GeoTIFF, 1 x uint8,
0 = no building, 1 = building). As in GEO-Bench-2, the mask is shifted by one so that the classes
are ``background`` (never present), ``no-building``, ``building``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import layouts, synth
from geobench.datasets.base import DatasetAdapter, DecodedSample

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec


class Adapter(DatasetAdapter):
    name = "spacenet7"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        a = self.assets_by_id(tortilla, sample, ("images", "mask"))
        mask = tortilla.read_raster(a["mask"])[0].astype(np.uint8) + 1
        return DecodedSample(inputs={"images": tortilla.read_raster(a["images"])}, targets={"mask": mask})

    def synthesize(self, index: int, split: str, rng: np.random.Generator, image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        cmap = synth.class_map(rng, image_size, 2) + 1
        img = layouts.render_modality(self.name, self.manifest.modality("images"), cmap, 3, rng)
        return SampleSpec(id=synth.synthetic_sample_id(split, index, prefix=self.name), split=split,
                          assets=[synth.raster_asset("images", img), synth.raster_asset("mask", (cmap - 1).astype(np.uint8)[None])],
                          metadata={"aoi": f"synthetic_{index % 7}"})
