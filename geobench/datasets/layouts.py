"""Shared pieces of the official layouts: reading JSON annotation attributes of HDF5 assets, and building
synthetic samples (GeoTIFF assets, segmentation scenes, object scenes) for the adapters."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from geobench.datasets import synth
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.manifest import Modality
    from geobench.tortilla.reader import AssetRef, SampleRef, Tortilla
    from geobench.tortilla.writer import AssetSpec


def json_attr(t: Tortilla, asset: AssetRef, attr: str = "annotation") -> Any:
    with t.read_hdf5(asset) as f:
        raw = f.attrs.get(attr)
    if raw is None:
        raise CorruptFileError(asset.path, f"sample {asset.sample_id!r}, asset {asset.id!r}: no "
                               f"{attr!r} attribute")
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        raise CorruptFileError(asset.path, f"sample {asset.sample_id!r}, asset {asset.id!r}: "
                               f"attribute {attr!r} is not JSON") from None


def xywh_boxes(items: list[dict[str, Any]], sample: SampleRef) -> tuple[np.ndarray, list[Any]]:
    """``[{bbox: [x, y, w, h], category_id}]`` -> xyxy float32 boxes and the category ids."""
    boxes, cats = [], []
    for k, item in enumerate(items):
        try:
            x, y, w, h = (float(v) for v in item["bbox"])
            cats.append(item["category_id"])
        except (KeyError, TypeError, ValueError):
            raise CorruptFileError(sample.path, f"sample {sample.id!r}: annotation {k} has no valid "
                                   "bbox [x, y, w, h] / category_id") from None
        boxes.append([x, y, x + w, y + h])
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4), cats


def polygon_mask(vertices: list[float], height: int, width: int) -> np.ndarray:
    """A filled polygon ``[x1, y1, x2, y2, ...]`` as a uint8 mask (PIL's rasterisation, as the
    GEO-Bench-2 substation dataset does)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (width, height), 0)
    pts = [(float(vertices[i]), float(vertices[i + 1])) for i in range(0, len(vertices) - 1, 2)]
    if len(pts) >= 2:
        ImageDraw.Draw(img).polygon(pts, fill=1)
    return np.asarray(img, dtype=np.uint8)


# --- synthetic ---------------------------------------------------------------------------------

def render_modality(dataset: str, mod: Modality, cmap: np.ndarray, num_classes: int,
                    rng: np.random.Generator, noise: float = 0.03) -> np.ndarray:
    """``(C, H, W)`` image of modality ``mod`` showing class map ``cmap`` (learnable)."""
    sig = synth.signatures(dataset, mod.name, num_classes, len(mod.bands))
    return synth.render(cmap, sig, rng, mod.dtype, noise=noise)


def object_scene(dataset: str, mod: Modality, num_object_classes: int, rng: np.random.Generator,
                 size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An image with rectangular objects whose class shows in their spectra.

    Returns ``(image (C, H, W), boxes xyxy, labels 0-based object class, masks)``.
    """
    cmap, boxes, labels, masks = synth.objects(rng, size, num_object_classes, max_objects=3,
                                               min_side=max(3, size // 8))
    img = render_modality(dataset, mod, cmap, num_object_classes + 1, rng)
    return img, boxes, labels, masks



# --- shared by the adapters of time series and HDF5-annotation layouts (added by the adapters-B
# helper: series_mask is used by dynamic_earthnet, pastis and pastis_r; annotation_asset by
# nzcattle and substation) -------------------------------------------------------------------

def series_mask(steps: int, time_steps: int, sample: SampleRef, modality: str) -> np.ndarray:
    """bool ``(time_steps,)``: True for the ``steps`` real steps of a time series, False for the
    padding the prepared file adds after them.

    Raises:
        CorruptFileError: the series is empty or longer than the manifest's ``time_steps``
            (names the file, the sample and the modality).
    """
    if steps < 1 or steps > time_steps:
        raise CorruptFileError(sample.path, f"sample {sample.id!r}: modality {modality!r} has "
                               f"{steps} time steps, the manifest allows 1 to {time_steps}",
                               "the file does not match the dataset's manifest")
    return np.arange(time_steps) < steps


def annotation_asset(asset_id: str, annotation: dict[str, Any]) -> AssetSpec:
    """An HDF5 asset without datasets whose root attribute ``annotation`` is ``annotation`` as
    JSON: how GEO-Bench-2 stores the NZCattle and Substation labels."""
    from geobench.tortilla.writer import AssetSpec, hdf5_bytes

    return AssetSpec(asset_id, hdf5_bytes({}, {"annotation": json.dumps(annotation)}), "HDF5")
