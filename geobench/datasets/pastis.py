"""PASTIS-R (``pastis``): crop-type semantic segmentation from S2 and S1 image time series.

Official layout (``geobench_pastis.*.part.tortilla``; checked against the real fixture). Every
asset is an HDF5 file holding one dataset ``data``:

- outer sample ``sample_<n>``; columns ``dates`` (the S2 acquisition days, ``YYYYMMDD`` int64),
  ``tile``, ``patch_id``, ``lon``, ``lat``, ``add_test_split``;
- assets, in order: ``s2`` int16 ``(T, 10, H, W)``, ``s1a`` and ``s1d`` float16 ``(T, 3, H, W)``
  (ascending / descending orbit; each series has its own length T), ``semantic`` uint8
  ``(3, H, W)`` and ``instance`` int64 ``(H, W)`` (parcel ids, 0 = none). Each asset has its own
  ``dates`` column (``[]`` for the two label assets).

Decoded: each series as stored, ``(T, C, H, W)`` in the source dtype, with ``time_mask`` True for
its T real steps of the manifest's ``time_steps`` (the prepared file pads after them; GEO-Bench-2
picks steps ``int(i * T / n)`` at load time and pads short series at the front, which the loader's
time selection reproduces); ``targets["mask"]`` uint8 = channel 0 of ``semantic`` (as GEO-Bench-2
and the PASTIS loader read it; 19 = void_label, a regular class in GEO-Bench-2: no ignore index);
``targets["instance_ids"]`` int64 ``(H, W)``, the ``instance`` asset as stored (an extra target:
the parcels that ``pastis_r`` reads as instances).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import layouts, synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.manifest import DatasetManifest
    from geobench.tortilla.reader import AssetRef, SampleRef, Tortilla
    from geobench.tortilla.writer import AssetSpec, SampleSpec

DATA = "data"  # the one dataset inside every PASTIS HDF5 asset
SERIES = ("s2", "s1a", "s1d")  # official asset order, then the labels
SEMANTIC, INSTANCE = "semantic", "instance"
ASSETS = (*SERIES, SEMANTIC, INSTANCE)


def read_data(tortilla: Tortilla, asset: AssetRef, ndim: int) -> np.ndarray:
    """The ``data`` dataset of a PASTIS HDF5 asset, checked to have ``ndim`` dimensions.

    Raises:
        CorruptFileError: the asset has no ``data`` dataset or another rank (names the file,
            the sample and the asset).
    """
    with tortilla.read_hdf5(asset) as f:
        ds = f.get(DATA)
        if ds is None or not hasattr(ds, "shape") or len(ds.shape) != ndim:
            raise CorruptFileError(asset.path, f"sample {asset.sample_id!r}, asset {asset.id!r}: "
                                   f"expected an HDF5 dataset {DATA!r} with {ndim} dimensions, "
                                   f"found {None if ds is None else getattr(ds, 'shape', ds)}",
                                   "not the pastis layout")
        return np.asarray(ds[()])


def read_series(manifest: DatasetManifest, tortilla: Tortilla, sample: SampleRef,
                assets: dict[str, AssetRef]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The S2, S1 ascending and S1 descending series ``(T, C, H, W)`` and their time masks."""
    inputs, masks = {}, {}
    for name in SERIES:
        arr = read_data(tortilla, assets[name], 4)
        inputs[name] = arr
        masks[name] = layouts.series_mask(arr.shape[0], manifest.modality(name).time_steps,
                                          sample, name)
    return inputs, masks


def read_labels(tortilla: Tortilla, assets: dict[str, AssetRef]) -> tuple[np.ndarray, np.ndarray]:
    """Channel 0 of ``semantic`` (uint8 ``(H, W)``) and the ``instance`` ids (int64 ``(H, W)``)."""
    return read_data(tortilla, assets[SEMANTIC], 3)[0], read_data(tortilla, assets[INSTANCE], 2)


class Adapter(DatasetAdapter):
    name = "pastis"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets = self.assets_by_id(tortilla, sample, ASSETS)
        inputs, time_mask = read_series(self.manifest, tortilla, sample, assets)
        semantic, instance = read_labels(tortilla, assets)
        return DecodedSample(inputs=inputs, time_mask=time_mask,
                             targets={"mask": semantic.astype(np.uint8, copy=False),
                                      "instance_ids": instance.astype(np.int64, copy=False)})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import AssetSpec, SampleSpec, hdf5_bytes

        m = self.manifest
        semantic, instance = parcels(rng, image_size, m.num_classes)
        lengths = {"s2": 3 + index % 3, "s1a": 4 + index % 2, "s1d": 3 + (index + 1) % 3}
        start = date(2018, 9, 1) + timedelta(days=int(rng.integers(0, 20)))
        assets: list[AssetSpec] = []
        dates: dict[str, list[int]] = {}
        for name in SERIES:
            mod = m.modality(name)
            days = np.cumsum(rng.integers(3, 12, size=lengths[name]))
            dates[name] = [int((start + timedelta(days=int(d))).strftime("%Y%m%d")) for d in days]
            sig = synth.signatures(self.name, name, m.num_classes, len(mod.bands))
            series = np.stack([synth.render(semantic, sig, rng, mod.dtype) for _ in days])
            assets.append(AssetSpec(name, hdf5_bytes({DATA: series}), "HDF5", {"dates": dates[name]}))
        # Channels 1 and 2 are not the class (GEO-Bench-2 reads channel 0 only).
        target = np.stack([semantic, rng.integers(0, 12, semantic.shape),
                           rng.integers(0, 80, semantic.shape)]).astype(np.uint8)
        assets += [AssetSpec(SEMANTIC, hdf5_bytes({DATA: target}), "HDF5", {"dates": []}),
                   AssetSpec(INSTANCE, hdf5_bytes({DATA: instance}), "HDF5", {"dates": []})]
        meta = {"add_test_split": False, "dates": dates["s2"], "tile": f"t31t{'fjgm'[index % 4]}j",
                **synth.centroid_metadata(rng, lon=(-1.0, 6.0), lat=(43.5, 49.0)),
                "patch_id": str(10000 + index)}
        synth.repeat_sample_metadata(assets, meta)  # as the official rows; each keeps its own dates
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)


def parcels(rng: np.random.Generator, size: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A field map: square parcels (a 4 x 4 grid, one background pixel between neighbours).

    Returns ``(semantic, instance)``: the class of every pixel (int64; 0 = background between
    and instead of parcels) and the parcel ids (int64, distinct per parcel, 0 = none).
    """
    cell = max(3, -(-size // 4))
    cells = -(-size // cell)
    classes = rng.integers(0, num_classes, size=(cells, cells))
    ids = rng.choice(np.arange(1, 100 * cells * cells), size=(cells, cells), replace=False)
    ids[classes == 0] = 0
    semantic = np.repeat(np.repeat(classes, cell, 0), cell, 1)[:size, :size]
    instance = np.repeat(np.repeat(ids, cell, 0), cell, 1)[:size, :size]
    border = (np.arange(size) % cell) == cell - 1
    gap = border[:, None] | border[None, :]
    semantic = np.where(gap, 0, semantic).astype(np.int64)
    instance = np.where(gap, 0, instance).astype(np.int64)
    return semantic, instance
