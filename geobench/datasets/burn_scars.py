"""HLS Burn Scars (``burn_scars``): burn-scar segmentation of Harmonized Landsat-Sentinel scenes.

No real fixture is available to us. Layout as GEO-Bench-2 writes it
(``generate_benchmark/burn_scars.py``, ``datasets/burn_scars.py``; see
``datasets_manifest/burn_scars.yaml``):

- outer sample ``sample_<n>``; columns ``tile``, ``lon``, ``lat``, ``stac:*``;
- assets, in order: ``image`` (the ``_merged.tif`` scene: GeoTIFF, 6 bands, reflectance) and
  ``label`` (the ``.mask.tif``: GeoTIFF, 1 = burn scar, 0 = not burned, -1 = missing data); the
  label row also carries ``burn_scar`` (the mask's sum).

Decoded: ``inputs["image"]`` as stored; ``targets["mask"]`` int16 ``(H, W)`` = the stored values
(-1 stays -1: the manifest's ``ignore_index``). GEO-Bench-2 reads both by position (0, 1).
Assumption, unverified without the hub file: the mask is a signed integer raster (the source
``.mask.tif`` files are 2 bytes per pixel); a float mask is accepted if its values are whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

LABEL = "label"
NODATA = -1


class Adapter(DatasetAdapter):
    name = "burn_scars"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets, inputs = self.read_inputs(tortilla, sample, (LABEL,))
        raw = tortilla.read_raster(assets[LABEL])[0]
        if not np.issubdtype(raw.dtype, np.integer) and not np.array_equal(raw, np.round(raw)):
            raise CorruptFileError(sample.path, f"sample {sample.id!r}, asset {LABEL!r}: the mask "
                                   "holds fractional values, expected -1, 0 or 1")
        return DecodedSample(inputs=inputs, targets={"mask": raw.astype(np.int16)})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        cmap = synth.class_map(rng, image_size, m.num_classes)
        assets = self.render_inputs(cmap, rng)  # 'image'
        mask = cmap.astype(np.int16)
        if rng.random() < 0.5:  # a strip of missing data along one edge, as in the real scenes
            width = max(1, image_size // 8)
            mask[:, :width] = NODATA
        tile = f"T{int(rng.integers(10, 20))}S{'ABCDEFGH'[int(rng.integers(0, 8))]}H"
        assets.append(synth.raster_asset(LABEL, mask[None], tile=tile,
                                         burn_scar=int(mask[mask > 0].sum())))
        meta = {"tile": tile, **synth.centroid_metadata(rng, lon=(-124.0, -67.0), lat=(25.0, 49.0))}
        synth.repeat_sample_metadata(assets, meta)
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
