"""Substation (``substation``): instance segmentation of power substations in Sentinel-2 images.

No real fixture; layout from GEO-Bench-2 ``generate_benchmark/substation.py`` and
``datasets/substation.py``:

- outer sample ``sample_<n>``; columns ``lon``, ``lat``, ``stac:*``;
- assets, in order: ``image`` (GeoTIFF, 13 x int16: the mean over the revisits of the Substation
  cube) and ``annotations`` (HDF5 without datasets; root attribute ``annotation`` is JSON
  ``{"sample_annotations": [{"category_id", "bbox": [x, y, w, h], "bbox_mode": "xywh",
  "mask": [[x1, y1, x2, y2, ...], ...]}], "image_size": [H, W]}``; ``mask`` is the COCO polygon
  list of the object).

Decoded as GEO-Bench-2 does: ``boxes`` float32 xyxy ``[x, y, x + w, y + h]``; ``box_labels``
int64 = ``category_id`` (1 = power_station); ``instance_masks`` uint8 ``(M, H, W)``, the *first*
polygon of ``mask`` filled by PIL (:func:`geobench.datasets.layouts.polygon_mask`, GEO-Bench-2's
``polygon_to_mask``) on the image's grid (GEO-Bench-2 always uses 228 x 228, the official size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from geobench.datasets import layouts, synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

POWER_STATION = 1  # category_id of a substation: its index in the manifest's classes


class Adapter(DatasetAdapter):
    name = "substation"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets = self.assets_by_id(tortilla, sample, ("image", "annotations"))
        image = tortilla.read_raster(assets["image"])
        annotation = layouts.json_attr(tortilla, assets["annotations"])
        items = annotation.get("sample_annotations") if isinstance(annotation, dict) else None
        if not isinstance(items, list):
            raise CorruptFileError(sample.path, f"sample {sample.id!r}, asset 'annotations': the "
                                   "annotation JSON has no 'sample_annotations' list",
                                   "not the substation layout")
        boxes, cats = layouts.xywh_boxes(items, sample)
        labels = np.array([self.class_index(c, sample, "annotation.sample_annotations.category_id")
                           for c in cats], dtype=np.int64)
        h, w = image.shape[-2:]
        masks = np.zeros((len(items), h, w), dtype=np.uint8)
        for k, item in enumerate(items):
            masks[k] = layouts.polygon_mask(first_polygon(item, k, sample), h, w)
        return DecodedSample(inputs={"image": image},
                             targets={"boxes": boxes, "box_labels": labels, "instance_masks": masks})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        _, rects, _, _ = synth.objects(rng, image_size, 1, max_objects=3,
                                       min_side=max(3, image_size // 8))
        cmap = np.zeros((image_size, image_size), dtype=np.int64)
        items = []
        for x0, y0, x1, y1 in rects.astype(int).tolist():
            poly = cut_corner_polygon(x0, y0, x1, y1)
            cmap[layouts.polygon_mask([float(v) for v in poly], image_size, image_size) == 1] = POWER_STATION
            xs, ys = poly[0::2], poly[1::2]
            bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            items.append({"category_id": POWER_STATION, "bbox": bbox, "bbox_mode": "xywh",
                          "mask": [poly]})
        image = layouts.render_modality(self.name, m.modality("image"), cmap, m.num_classes, rng)
        annotation = {"sample_annotations": items, "image_size": [image_size, image_size]}
        meta = synth.centroid_metadata(rng, lon=(-120.0, -70.0), lat=(25.0, 48.0))
        # The sample's columns repeat on the image row; the annotations row has them null.
        assets = [synth.raster_asset("image", image, **meta),
                  layouts.annotation_asset("annotations", annotation)]
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)


def first_polygon(item: dict[str, Any], k: int, sample: SampleRef) -> list[float]:
    """The first polygon ``[x1, y1, ...]`` of an annotation's COCO ``mask`` (polygon list)."""
    polys = item.get("mask")
    if (not isinstance(polys, list) or not polys or not isinstance(polys[0], list)
            or len(polys[0]) < 2 or len(polys[0]) % 2):
        raise CorruptFileError(sample.path, f"sample {sample.id!r}: annotation {k} has no polygon "
                               "'mask' [[x1, y1, x2, y2, ...]]", "not the substation layout")
    return [float(v) for v in polys[0]]


def cut_corner_polygon(x0: int, y0: int, x1: int, y1: int) -> list[int]:
    """A pentagon inside the pixel box ``[x0, x1) x [y0, y1)``: the box with its top-left corner
    cut, as vertex coordinates of the filled pixels (PIL fills the boundary too)."""
    xa, ya, xb, yb = x0, y0, x1 - 1, y1 - 1
    cut = max(1, min(xb - xa, yb - ya) // 2)
    return [xa + cut, ya, xb, ya, xb, yb, xa, yb, xa, ya + cut]
