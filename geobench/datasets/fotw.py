"""Fields of The World (``fotw``): agricultural field / boundary segmentation from two S2 windows.

No real fixture is available to us. Layout as GEO-Bench-2 writes it (``generate_benchmark/fotw.py``,
``datasets/fotw.py``; see ``datasets_manifest/fotw.yaml``):

- outer sample ``sample_<n>``; columns ``aoi_id``, ``country``, ``add_test_split``, ``lon``,
  ``lat``, ``stac:*``;
- assets, in order: ``win_a`` and ``win_b`` (GeoTIFF uint16, 4 bands R, G, B, NIR: the planting
  and harvest windows), ``instance_mask`` (GeoTIFF uint8, field instance ids, 0 = none) and
  ``semantic_3class_mask`` (GeoTIFF uint8: 0 background, 1 field, 2 field boundary).

Decoded: ``win_a``, ``win_b`` as stored; ``targets["mask"]`` = ``semantic_3class_mask`` as stored
(GEO-Bench-2's default ``semantic_seg`` label; it reads the asset by position 3 and leaves any
value untouched, including the value 3 some FTW countries use for unlabeled pixels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

SEMANTIC = "semantic_3class_mask"
INSTANCE = "instance_mask"
COUNTRIES = ("austria", "belgium", "cambodia", "denmark", "france", "kenya", "lithuania", "spain")
FIELD, BOUNDARY = 1, 2


def field_masks(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Rectangular fields with a one-pixel boundary: ``(semantic, instance)`` uint8 masks."""
    _, _, _, masks = synth.objects(rng, size, 1, max_objects=6, min_side=4)
    semantic = np.zeros((size, size), dtype=np.uint8)
    instance = np.zeros((size, size), dtype=np.uint8)
    for i, m in enumerate(masks.astype(bool)):
        inner = m.copy()
        inner[1:-1, 1:-1] = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
        inner[[0, -1], :] = False
        inner[:, [0, -1]] = False
        semantic[m] = BOUNDARY
        semantic[inner] = FIELD
        instance[m] = i + 1
    return semantic, instance


class Adapter(DatasetAdapter):
    name = "fotw"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets, inputs = self.read_inputs(tortilla, sample, (SEMANTIC,))
        mask = tortilla.read_raster(assets[SEMANTIC])[0]
        return DecodedSample(inputs=inputs, targets={"mask": mask})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        semantic, instance = field_masks(rng, image_size)
        assets = self.render_inputs(semantic.astype(np.int64), rng)  # win_a, win_b: the same fields seen at two dates
        assets.append(synth.raster_asset(INSTANCE, instance[None]))
        assets.append(synth.raster_asset(SEMANTIC, semantic[None]))
        country = str(rng.choice(COUNTRIES))
        meta = {"aoi_id": f"g{index}_{int(rng.integers(0, 10**8)):08d}", "country": country,
                "add_test_split": False,
                **synth.centroid_metadata(rng, lon=(-10.0, 110.0), lat=(-35.0, 60.0))}
        synth.repeat_sample_metadata(assets, meta)
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
