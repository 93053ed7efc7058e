"""SpaceNet 2 (building segmentation, WorldView-3 pan-sharpened 8-band + panchromatic, 0.3 m).

Layout (GEO-Bench-2 generate_benchmark/spacenet2.py): assets ``ps-ms`` (8 x uint16), ``pan``
(1 x uint16), ``semantic_mask`` (1 x uint8, 0 = no building, 1 = building) and ``instance_mask``
(building ids). The semantic mask is shifted by one as GEO-Bench-2 does (classes background,
no-building, building). No real fixture exists in the test data; the synthetic files follow this
layout.
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
    name = "spacenet2"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        a = self.assets_by_id(tortilla, sample, ("ps-ms", "pan", "semantic_mask"))
        mask = tortilla.read_raster(a["semantic_mask"])[0].astype(np.uint8) + 1
        return DecodedSample(inputs={"ps-ms": tortilla.read_raster(a["ps-ms"]), "pan": tortilla.read_raster(a["pan"])},
                             targets={"mask": mask})

    def synthesize(self, index: int, split: str, rng: np.random.Generator, image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        cmap = synth.class_map(rng, image_size, 2) + 1
        ms = layouts.render_modality(self.name, self.manifest.modality("ps-ms"), cmap, 3, rng)
        pan = layouts.render_modality(self.name, self.manifest.modality("pan"), cmap, 3, rng)
        building = (cmap - 1).astype(np.uint8)
        return SampleSpec(id=synth.synthetic_sample_id(split, index, prefix=self.name), split=split, assets=[
            synth.raster_asset("ps-ms", ms), synth.raster_asset("pan", pan), synth.raster_asset("semantic_mask", building[None]),
            synth.raster_asset("instance_mask", building[None].astype(np.uint16))])
