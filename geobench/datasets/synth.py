"""Learnable synthetic content for the synthetic tortilla files.

The targets depend on the spectra: every class has a fixed spectral signature per modality
(derived from the dataset name, so all samples and splits of a dataset share it), and pixels of
class k carry signature k plus noise. A model that reads the spectra can therefore reach a
near-perfect score, which is what the smoke capability and the training tests rely on.

Adapters call these helpers and then pack the arrays into their dataset's official layout.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from geobench.tortilla.writer import AssetSpec


def stable_seed(*parts: object) -> int:
    """A seed that depends only on ``parts`` (not on Python's hash randomisation)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def signatures(dataset: str, modality: str, num_classes: int, num_bands: int) -> np.ndarray:
    """Per-class spectral signatures in [0.1, 0.9], shape ``(num_classes, num_bands)``.

    Classes are kept apart: each pair differs by at least 0.25 in some band.
    """
    rng = np.random.default_rng(stable_seed("signatures", dataset, modality))
    sig = rng.uniform(0.1, 0.9, size=(max(num_classes, 1), num_bands))
    for k in range(1, sig.shape[0]):
        for _ in range(100):
            if np.all(np.abs(sig[:k] - sig[k]).max(axis=1) >= 0.25):
                break
            sig[k] = rng.uniform(0.1, 0.9, size=num_bands)
    return sig


def class_map(rng: np.random.Generator, size: int, num_classes: int, cell: int = 8,
              classes: np.ndarray | None = None) -> np.ndarray:
    """A blocky random class map ``(size, size)`` int64 (regions of ``cell`` pixels)."""
    cells = max(1, -(-size // cell))
    choices = np.arange(num_classes) if classes is None else np.asarray(classes)
    coarse = rng.choice(choices, size=(cells, cells))
    full = np.repeat(np.repeat(coarse, cell, axis=0), cell, axis=1)
    return full[:size, :size].astype(np.int64)


def render(cmap: np.ndarray, sig: np.ndarray, rng: np.random.Generator, dtype: str,
           noise: float = 0.03) -> np.ndarray:
    """Image ``(C, H, W)`` of ``dtype`` where pixel (i, j) shows ``sig[cmap[i, j]]`` plus noise."""
    img = sig[cmap].transpose(2, 0, 1) + rng.normal(0.0, noise, size=(sig.shape[1], *cmap.shape))
    return to_dtype(np.clip(img, 0.0, 1.0), dtype)


def to_dtype(unit: np.ndarray, dtype: str) -> np.ndarray:
    """Map values in [0, 1] to a plausible range of ``dtype`` (reflectance-like for uint16)."""
    dt = np.dtype(dtype)
    if dt == np.uint8:
        return np.round(unit * 255).astype(dt)
    if dt == np.uint16:
        return np.round(unit * 10000).astype(dt)
    if dt == np.int16:
        return np.round(unit * 10000 - 1000).astype(dt)
    if np.issubdtype(dt, np.integer):
        return np.round(unit * 1000).astype(dt)
    # float (e.g. SAR backscatter in dB)
    return (unit * 30.0 - 25.0).astype(dt)


def dominant_class_map(rng: np.random.Generator, size: int, label: int, num_classes: int,
                       fraction: float = 0.7) -> np.ndarray:
    """A class map in which ``label`` covers about ``fraction`` of the pixels (classification)."""
    cmap = class_map(rng, size, num_classes)
    keep = rng.random((size, size)) < fraction
    cmap[keep] = label
    return cmap


def multilabel_class_map(rng: np.random.Generator, size: int, labels: np.ndarray) -> np.ndarray:
    """A class map that uses exactly the classes set in the multi-hot ``labels``."""
    present = np.flatnonzero(labels)
    return class_map(rng, size, len(labels), classes=present)


def random_multihot(rng: np.random.Generator, num_classes: int, max_labels: int = 3) -> np.ndarray:
    k = int(rng.integers(1, max_labels + 1))
    out = np.zeros(num_classes, dtype=np.uint8)
    out[rng.choice(num_classes, size=min(k, num_classes), replace=False)] = 1
    return out


def regression_from_image(unit_img: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """A per-pixel target that is a fixed linear function of the bands (``unit_img``: (C, H, W))."""
    c = unit_img.shape[0]
    w = np.linspace(1.0, 2.0, c) if weights is None else weights
    return np.tensordot(w / w.sum(), unit_img, axes=1).astype(np.float32) * 100.0


def objects(rng: np.random.Generator, size: int, num_classes: int, max_objects: int = 4,
            min_side: int = 4, max_side: int | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Non-overlapping rectangular objects on a background.

    Returns ``(cmap, boxes, labels, masks)``: cmap ``(H, W)`` with 0 = background and k + 1 for
    an object of class k; boxes float32 ``(M, 4)`` xyxy; labels int64 ``(M,)`` 0-based; masks
    uint8 ``(M, H, W)``.
    """
    max_side = max_side or max(min_side + 1, size // 3)
    cmap = np.zeros((size, size), dtype=np.int64)
    boxes, labels, masks = [], [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _try in range(20):
            h, w = (int(v) for v in rng.integers(min_side, max_side + 1, size=2))
            y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
            if not cmap[y:y + h, x:x + w].any():
                break
        else:
            continue
        k = int(rng.integers(0, num_classes))
        cmap[y:y + h, x:x + w] = k + 1
        m = np.zeros((size, size), dtype=np.uint8)
        m[y:y + h, x:x + w] = 1
        boxes.append([x, y, x + w, y + h])
        labels.append(k)
        masks.append(m)
    return (cmap, np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
            np.asarray(labels, dtype=np.int64), np.asarray(masks, dtype=np.uint8).reshape(-1, size, size))


def unit_from_dtype(values: np.ndarray, dtype: str) -> np.ndarray:
    """Invert :func:`to_dtype`: stored values of ``dtype`` back to [0, 1] (float64).

    What a test (or a nearest-signature classifier) needs to compare decoded pixels with
    :func:`signatures`. Values outside the synthetic range (e.g. a ``-9999`` no-data fill) come
    out outside [0, 1].
    """
    dt = np.dtype(dtype)
    v = np.asarray(values, dtype=np.float64)
    if dt == np.uint8:
        return v / 255.0
    if dt == np.uint16:
        return v / 10000.0
    if dt == np.int16:
        return (v + 1000.0) / 10000.0
    if np.issubdtype(dt, np.integer):
        return v / 1000.0
    return (v + 25.0) / 30.0


def synthetic_sample_id(split: str, index: int, prefix: str = "sample") -> str:
    """A sample id unique across splits (``sample_train_00003``): ``index`` restarts per split."""
    return f"{prefix}_{split}_{index:05d}"


def raster_asset(asset_id: str, array: np.ndarray, **metadata: object) -> AssetSpec:
    """A GeoTIFF asset (the format of nearly every GEO-Bench-2 raster) with footer ``metadata``."""
    from geobench.tortilla.writer import AssetSpec, geotiff_bytes

    return AssetSpec(asset_id, geotiff_bytes(array), "GTiff", dict(metadata))


def covering_class_map(rng: np.random.Generator, size: int, classes: np.ndarray,
                       cell: int | None = None) -> np.ndarray:
    """A blocky class map ``(size, size)`` int64 in which *every* class of ``classes`` appears.

    Unlike :func:`multilabel_class_map`, small images (``size`` of 8 or 16) still show all the
    labels of a multi-label sample: the cell shrinks until there are enough cells.
    """
    choices = np.asarray(classes, dtype=np.int64)
    if cell is None:
        cell = max(1, min(8, size // 4))
    while cell > 1 and (-(-size // cell)) ** 2 < len(choices):
        cell //= 2
    cells = -(-size // cell)
    coarse = rng.choice(choices, size=cells * cells)
    first = rng.permutation(cells * cells)[: len(choices)]
    coarse[first] = rng.permutation(choices)[: len(first)]
    full = np.repeat(np.repeat(coarse.reshape(cells, cells), cell, axis=0), cell, axis=1)
    return full[:size, :size].astype(np.int64)


def centroid_metadata(rng: np.random.Generator, lon: tuple[float, float],
                      lat: tuple[float, float]) -> dict[str, object]:
    """``lon``, ``lat`` and the WKT ``stac:centroid`` column the GEO-Bench-2 classes read."""
    x = float(rng.uniform(*lon))
    y = float(rng.uniform(*lat))
    return {"lon": x, "lat": y, "stac:centroid": f"POINT ({x:.6f} {y:.6f})"}


def repeat_sample_metadata(assets: list[AssetSpec], meta: dict[str, object]) -> list[AssetSpec]:
    """Copy the sample's columns onto every asset row (asset-specific values win), as the official
    files do: GEO-Bench-2's dataset classes read e.g. ``stac:centroid`` from the asset table."""
    for a in assets:
        a.metadata = {**meta, **a.metadata}
    return assets
