"""EverWatch (``everwatch``): wading-bird detection in 512 x 512 UAV RGB tiles.

Official layout (``geobench_everwatch.tortilla``; checked against the real fixture):

- outer sample ``sample_<n>``; columns ``lon``, ``lat`` (null) and ``stac:*`` (a dummy
  EPSG:4326 grid: the tiles are not georeferenced);
- assets, in order: ``image`` (GeoTIFF, 3 x uint8 RGB) and ``annotations`` (GeoParquet, one row
  per bird: ``geotiff_path``, ``label`` (class name), ``xmin``, ``ymin``, ``xmax``, ``ymax``
  (int64 pixels of the 512 x 512 tile), ``split``, ``geometry`` (WKB box), ``class_id``).

Decoded: ``inputs["image"]`` as stored; ``targets["boxes"]`` float32 ``(M, 4)`` xyxy from the
four pixel columns as they are (GEO-Bench-2 returns them unchanged) and ``targets["box_labels"]``
int64, the position of ``label`` in the manifest's classes (index 0 ``Background`` is never a
box label; a null label counts as ``Unknown White``). The file's own ``class_id`` column uses
another order and is not read.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import layouts, synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    import pyarrow as pa

    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import AssetSpec, SampleSpec

BOX_COLUMNS = ("xmin", "ymin", "xmax", "ymax")
LABEL_COLUMN = "label"
MISSING_LABEL = "Unknown White"


class Adapter(DatasetAdapter):
    name = "everwatch"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets = self.assets_by_id(tortilla, sample, ("image", "annotations"))
        table = tortilla.read_table(assets["annotations"])
        missing = [c for c in (*BOX_COLUMNS, LABEL_COLUMN) if c not in table.column_names]
        if missing:
            raise CorruptFileError(sample.path, f"sample {sample.id!r}, asset 'annotations': no "
                                   f"column {', '.join(map(repr, missing))} (it has "
                                   f"{table.column_names})", "not the everwatch layout")
        columns = [np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64)
                   for c in BOX_COLUMNS]
        boxes = np.stack(columns, axis=1).astype(np.float32).reshape(-1, 4)
        if not np.isfinite(boxes).all():
            raise CorruptFileError(sample.path, f"sample {sample.id!r}, asset 'annotations': a box "
                                   "coordinate is null or not finite")
        names = table.column(LABEL_COLUMN).to_pylist()
        labels = np.array([self.class_index(MISSING_LABEL if n is None else n, sample, LABEL_COLUMN)
                           for n in names], dtype=np.int64)
        return DecodedSample(inputs={"image": tortilla.read_raster(assets["image"])},
                             targets={"boxes": boxes, "box_labels": labels})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        # Object class k is bird class k + 1 of the manifest (0 is 'Background'), so the scene's
        # class map value of an object is its manifest class index.
        image, boxes, objects, _ = layouts.object_scene(self.name, m.modality("image"),
                                                        m.num_classes - 1, rng, image_size)
        labels = [m.classes[int(k) + 1] for k in objects]
        tile = f"synthetic_{index:05d}.tif"
        meta = {"lon": None, "lat": None, "stac:crs": "EPSG:4326",
                "stac:centroid": f"POINT ({image_size / 2:.1f} {image_size / 2:.1f})"}
        # The sample's columns repeat on the image row; the annotations row has them null.
        assets = [synth.raster_asset("image", image, **meta),
                  annotations_asset(boxes.astype(np.int64), labels, tile, split)]
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)


def box_wkb(x0: float, y0: float, x1: float, y1: float) -> bytes:
    """A closed rectangle as little-endian WKB Polygon (what the official geometry column holds)."""
    ring = [(x1, y0), (x1, y1), (x0, y1), (x0, y0), (x1, y0)]
    return struct.pack("<BIII", 1, 3, 1, len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)


def annotations_asset(boxes: np.ndarray, labels: list[str], tile: str, split: str) -> AssetSpec:
    """The ``annotations`` GeoParquet asset: the official columns, WKB boxes, ``geo`` metadata."""
    import pyarrow as pa

    from geobench.tortilla.writer import AssetSpec, parquet_bytes

    classes = sorted(set(labels) | {MISSING_LABEL})
    geo = {"version": "1.0.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon"]}}}
    table: pa.Table = pa.table({
        "geotiff_path": pa.array([tile] * len(labels), pa.string()),
        LABEL_COLUMN: pa.array(labels, pa.string()),
        **{c: pa.array(boxes[:, j], pa.int64()) for j, c in enumerate(BOX_COLUMNS)},
        "split": pa.array([split] * len(labels), pa.string()),
        "geometry": pa.array([box_wkb(*map(float, b)) for b in boxes], pa.binary()),
        # A class id in another order than the manifest's (as in the official files): unused.
        "class_id": pa.array([classes.index(n) for n in labels], pa.int64()),
    })
    table = table.replace_schema_metadata({"geo": json.dumps(geo)})
    return AssetSpec("annotations", parquet_bytes(table), "GeoParquet")
