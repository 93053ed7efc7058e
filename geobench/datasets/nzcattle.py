"""NZ Cattle (``nzcattle``): cattle detection in 0.1 m aerial RGB tiles of 500 x 500 pixels.

Official layout (``geobench_nzcattle.tortilla``; checked against the real fixture):

- outer sample ``sample_<n>``; columns ``lon``, ``lat``, ``stac:*`` (EPSG:4326 grid);
- assets, in order: ``image`` (GeoTIFF, 3 x uint8 RGB) and ``annotations`` (HDF5 without
  datasets; its root attribute ``annotation`` is JSON ``{"boxes": [{"category_id", "bbox":
  [x, y, w, h], "bbox_mode": "xywh"}, ...], "image_size": [H, W]}``).

Decoded: ``inputs["image"]`` as stored; ``targets["boxes"]`` float32 xyxy ``[x, y, x + w, y + h]``
and ``targets["box_labels"]`` int64 = ``category_id`` (1 = cattle, the manifest's class index),
as GEO-Bench-2's dataset class returns them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import layouts, synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

CATTLE = 1  # category_id of a cow: index of "cattle" in the manifest's classes


class Adapter(DatasetAdapter):
    name = "nzcattle"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets = self.assets_by_id(tortilla, sample, ("image", "annotations"))
        annotation = layouts.json_attr(tortilla, assets["annotations"])
        items = annotation.get("boxes") if isinstance(annotation, dict) else None
        if not isinstance(items, list):
            raise CorruptFileError(sample.path, f"sample {sample.id!r}, asset 'annotations': the "
                                   "annotation JSON has no 'boxes' list", "not the nzcattle layout")
        boxes, cats = layouts.xywh_boxes(items, sample)
        labels = np.array([self.class_index(c, sample, "annotation.boxes.category_id") for c in cats],
                          dtype=np.int64)
        return DecodedSample(inputs={"image": tortilla.read_raster(assets["image"])},
                             targets={"boxes": boxes, "box_labels": labels})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        # One object class (cattle): its pixels show signature 1, the background signature 0.
        image, boxes, _, _ = layouts.object_scene(self.name, self.manifest.modality("image"), 1,
                                                  rng, image_size)
        items = [{"category_id": CATTLE, "bbox": [int(x0), int(y0), int(x1 - x0), int(y1 - y0)],
                  "bbox_mode": "xywh"} for x0, y0, x1, y1 in boxes]
        meta = synth.centroid_metadata(rng, lon=(175.2, 175.4), lat=(-37.9, -37.7))
        # The sample's columns repeat on the image row; the annotations row has them null.
        assets = [synth.raster_asset("image", image, **meta),
                  layouts.annotation_asset("annotations", {"boxes": items,
                                                           "image_size": [image_size, image_size]})]
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
