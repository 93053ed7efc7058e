"""Kuro Siwo (``kuro_siwo``): flood mapping from Sentinel-1 before and after a flood, with a DEM.

No real fixture; layout from GEO-Bench-2 ``generate_benchmark/kuro_siwo.py`` and
``datasets/kuro_siwo.py``:

- outer sample ``<n>``; columns ``add_test_split``, ``actid`` (event), ``aoiid``, ``flood_date``,
  ``pcovered``, ``pwater``, ``pflood`` and ``stac:*``;
- six GeoTIFF assets, in order: ``pre_event_1``, ``pre_event_2``, ``post_event`` (2 x float32:
  VV, VH linear backscatter, NaN = no data), ``dem`` (1 x float32), ``mask`` (1 x uint8, raw
  codes 0 no water, 1 permanent water, 2 flood, 3 no data) and ``invalid_data`` (1 x uint8).

Decoded: ``inputs["sar"]`` float32 ``(3, 2, H, W)``, the three acquisitions in time order
(always all three: no time mask needed); ``inputs["dem"]`` ``(1, H, W)``; both as stored, NaNs
included (``nodata`` declares NaN as their fill). ``targets["mask"]`` uint8: the raw codes
remapped as GEO-Bench-2's ``CLASS_MAPPING`` (0 -> 1 No Water, 1 -> 2 Permanent Water, 2 -> 3
Flood, 3 -> 0 No Data; any other code -> 0).
``targets["invalid_data"]`` uint8 ``(H, W)``: the validity mask as stored (GEO-Bench-2 multiplies
it into the normalised inputs), kept as an extra target.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

SAR_STEPS = ("pre_event_1", "pre_event_2", "post_event")  # the 'sar' time series, in time order
ASSETS = (*SAR_STEPS, "dem", "mask", "invalid_data")  # the official asset order
# GEO-Bench-2 CLASS_MAPPING: raw code in the mask asset -> class index of the manifest.
CLASS_MAPPING = {0: 1, 1: 2, 2: 3, 3: 0}
NO_DATA, NO_WATER, PERMANENT_WATER, FLOOD = 0, 1, 2, 3  # manifest class indices


def remap_mask(raw: np.ndarray) -> np.ndarray:
    """Raw Kuro Siwo codes -> manifest class indices (uint8); unknown codes become 0 (No Data),
    as in GEO-Bench-2, whose remapped mask starts as zeros."""
    out = np.zeros(raw.shape, dtype=np.uint8)
    for code, cls in CLASS_MAPPING.items():
        out[raw == code] = cls
    return out


class Adapter(DatasetAdapter):
    name = "kuro_siwo"
    # The source marks missing SAR and DEM pixels with NaN; GEO-Bench-2 sets them to 0 after
    # normalisation (it leaves the DEM's -32768 fills as they are, and so do we).
    nodata: ClassVar[dict[str, float]] = {"sar": float("nan"), "dem": float("nan")}

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets = self.assets_by_id(tortilla, sample, ASSETS)
        steps = [tortilla.read_raster(assets[a]) for a in SAR_STEPS]
        if len({s.shape for s in steps}) != 1:
            raise CorruptFileError(sample.path, f"sample {sample.id!r}: the SAR acquisitions "
                                   f"{', '.join(SAR_STEPS)} differ in shape "
                                   f"({[s.shape for s in steps]})", "not the kuro_siwo layout")
        raw = tortilla.read_raster(assets["mask"])[0]
        invalid = tortilla.read_raster(assets["invalid_data"])[0]
        return DecodedSample(
            inputs={"sar": np.stack(steps), "dem": tortilla.read_raster(assets["dem"])},
            targets={"mask": remap_mask(raw), "invalid_data": invalid.astype(np.uint8, copy=False)})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        k = m.num_classes
        cmap = synth.class_map(rng, image_size, k, cell=max(2, image_size // 8))
        # Before the flood, flooded pixels look like dry land: the flood shows as a change.
        before = np.where(cmap == FLOOD, NO_WATER, cmap)
        sar = m.modality("sar")
        sig = synth.signatures(self.name, sar.name, k, len(sar.bands))
        images = [synth.render(before, sig, rng, sar.dtype), synth.render(before, sig, rng, sar.dtype),
                  synth.render(cmap, sig, rng, sar.dtype)]
        dem = m.modality("dem")
        elevation = synth.render(cmap, synth.signatures(self.name, dem.name, k, 1), rng, dem.dtype)
        to_raw = {cls: code for code, cls in CLASS_MAPPING.items()}
        raw = np.vectorize(to_raw.__getitem__, otypes=[np.uint8])(cmap)
        arrays = [*images, elevation, raw[None], (cmap != NO_DATA).astype(np.uint8)[None]]
        assets = [synth.raster_asset(a, arr) for a, arr in zip(ASSETS, arrays, strict=True)]
        covered = float(np.mean(cmap != NO_DATA))
        meta = {
            "add_test_split": False,
            "actid": int(rng.integers(1, 500)), "aoiid": int(rng.integers(1, 20)),
            "flood_date": datetime(2015, 1, 1) + timedelta(days=int(rng.integers(0, 3000))),
            "pcovered": covered, "pwater": float(np.mean(cmap == PERMANENT_WATER)),
            "pflood": float(np.mean(cmap == FLOOD)),
            **synth.centroid_metadata(rng, lon=(-10.0, 30.0), lat=(35.0, 60.0)),
        }
        synth.repeat_sample_metadata(assets, meta)  # every official asset row repeats them
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
