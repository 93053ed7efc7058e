"""CaFFe (``caffe``): glacier calving-front zones segmented in SAR amplitude images.

Official layout (``geobench_caffe.tortilla``; checked against the real fixture):

- outer sample ``sample_<n>``; columns ``glacier_name``, ``sensor``, ``lon``, ``lat``, ``stac:*``;
- assets, in order: ``img`` (GeoTIFF uint8, 1 band, 512 x 512) and ``mask`` (GeoTIFF uint8, the
  zone class index 0-3; GEO-Bench-2's generator already remapped the CaFFe PNG grey levels).

Decoded: ``inputs["img"]`` as stored; ``targets["mask"]`` uint8 ``(H, W)`` = the stored mask, no
remapping (GEO-Bench-2 uses it as is: class 0 'N/A' is a class, not ignored).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

MASK = "mask"
GLACIERS = (("Jakobshavn Glacier / Sermeq Kujalleq", "TerraSAR-X"), ("Columbia Glacier", "TanDEM-X"),
            ("Jorum Glacier", "TerraSAR-X"), ("Mapple Glacier", "Sentinel-1"))


class Adapter(DatasetAdapter):
    name = "caffe"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets, inputs = self.read_inputs(tortilla, sample, (MASK,))
        mask = tortilla.read_raster(assets[MASK])[0]
        return DecodedSample(inputs=inputs, targets={"mask": mask})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        cmap = synth.class_map(rng, image_size, m.num_classes)
        # One band: the classes' grey levels can be 0.1 apart, so keep the noise low.
        assets = self.render_inputs(cmap, rng, noise=0.01)  # 'img'
        assets.append(synth.raster_asset(MASK, cmap.astype(np.uint8)[None]))
        glacier, sensor = GLACIERS[int(rng.integers(0, len(GLACIERS)))]
        meta = {"glacier_name": glacier, "sensor": sensor,
                **synth.centroid_metadata(rng, lon=(-150.0, -45.0), lat=(-70.0, 80.0))}
        synth.repeat_sample_metadata(assets, meta)
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
