"""FLAIR #2 aerial (``flair2``): land-cover segmentation of French aerial images.

Official layout (``geobench_flair2.tortilla``; checked against the real fixture):

- outer sample ``sample_<n>``; columns ``image_id``, ``domain``, ``zone``, ``camera``, ``lon``,
  ``lat``, ``stac:*``;
- assets, in order: ``aerial`` (GeoTIFF uint8, 5 bands: R, G, B, NIR, elevation, 512 x 512) and
  ``mask`` (GeoTIFF uint8, the FLAIR land-cover codes 1-19).

Decoded: ``inputs["aerial"]`` as stored (all five bands; GEO-Bench-2 splits the fifth off as its
'elevation' input, the loader selects bands by name); ``targets["mask"]`` int16 ``(H, W)`` =
``min(code, 13) - 1`` as GEO-Bench-2 does: codes 1-12 become classes 0-11 and codes 13-19 the
class 12 'other'. (A code 0 would become -1; FLAIR has none.)
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
FIRST_OTHER_CODE = 13  # FLAIR codes 13..19 are merged into the last class ('other')
LAST_CODE = 19


def remap_codes(codes: np.ndarray) -> np.ndarray:
    """FLAIR land-cover codes -> GEO-Bench-2 class indices (int16)."""
    return np.minimum(codes.astype(np.int16), FIRST_OTHER_CODE) - 1


class Adapter(DatasetAdapter):
    name = "flair2"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets, inputs = self.read_inputs(tortilla, sample, (MASK,))
        mask = remap_codes(tortilla.read_raster(assets[MASK])[0])
        return DecodedSample(inputs=inputs, targets={"mask": mask})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        cmap = synth.class_map(rng, image_size, m.num_classes)
        assets = self.render_inputs(cmap, rng)  # 'aerial'
        codes = (cmap + 1).astype(np.uint8)
        other = cmap == m.num_classes - 1  # 'other': any of the codes 13..19
        codes[other] = rng.integers(FIRST_OTHER_CODE, LAST_CODE + 1, size=int(other.sum()))
        assets.append(synth.raster_asset(MASK, codes[None]))
        dept = int(rng.integers(1, 96))
        meta = {"image_id": f"IMG_{index:06d}", "domain": f"D{dept:03d}_2020",
                "zone": f"Z{int(rng.integers(1, 20))}_UN", "camera": "UCE-M3-f120-s06",
                **synth.centroid_metadata(rng, lon=(-1.5, 7.5), lat=(43.0, 50.5))}
        synth.repeat_sample_metadata(assets, meta)
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
