"""DynamicEarthNet (``dynamic_earthnet``): monthly land-cover segmentation from daily Planet images.

Official layout (``geobench_dynamic_earthnet.*.part.tortilla``; checked against the real
fixture):

- outer sample ``sample_<n>``; columns ``area_id``, ``original_id``, ``lon``, ``lat``,
  ``add_test_split`` and ``stac:*``;
- assets, in order: ``planet_0`` .. ``planet_{N-1}`` (GeoTIFF, 4 x int16 B, G, R, NIR; one per
  day of the label's month, N = 28..31), ``s1`` (GeoTIFF, 8 x float32; not a GEO-Bench-2 input),
  ``s2`` (GeoTIFF, 12 x int16; monthly) and ``label`` (GeoTIFF, 1 x uint8, class index 0-6).
  Every asset has a ``modality`` column (``planet``, ``s1``, ``s2``, ``label``) and its day in
  ``stac:time_start``.

Decoded: ``inputs["planet"]`` int16 ``(N, 4, H, W)``, the days in the order of their index (GEO-
Bench-2's 'daily' setting), with ``time_mask["planet"]`` True for the N real days of the
manifest's ``time_steps`` (the prepared file pads the rest); ``inputs["s2"]`` as stored, or zeros
when a sample has no ``s2`` asset (as GEO-Bench-2 fills it); ``targets["mask"]`` uint8 ``(H, W)``
from ``label`` as stored. ``s1`` is not read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import layouts, synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import AssetSpec, SampleSpec

PLANET = "planet"
DAY_ASSET = re.compile(r"planet_(\d+)")
S1_BANDS = 8  # the unused 's1' asset's band count (band meaning undocumented)


class Adapter(DatasetAdapter):
    name = "dynamic_earthnet"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets = self.assets_by_id(tortilla, sample, ("label",))
        days = sorted((int(mt.group(1)), a) for aid, a in assets.items()
                      if (mt := DAY_ASSET.fullmatch(aid)))
        planet = self.manifest.modality(PLANET)
        time_mask = layouts.series_mask(len(days), planet.time_steps, sample, PLANET)
        series = [tortilla.read_raster(a) for _, a in days]
        if len({s.shape for s in series}) != 1:
            raise CorruptFileError(sample.path, f"sample {sample.id!r}: the planet days differ in "
                                   f"shape ({sorted({s.shape for s in series})})",
                                   "not the dynamic_earthnet layout")
        label = tortilla.read_raster(assets["label"])[0]
        if "s2" in assets:
            s2 = tortilla.read_raster(assets["s2"])
        else:  # GEO-Bench-2 fills a missing S2 image with zeros
            mod = self.manifest.modality("s2")
            s2 = np.zeros((len(mod.bands), *label.shape), dtype=mod.dtype)
        return DecodedSample(inputs={PLANET: np.stack(series), "s2": s2},
                             targets={"mask": label.astype(np.uint8, copy=False)},
                             time_mask={PLANET: time_mask})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        k = m.num_classes
        planet = m.modality(PLANET)
        # A month of 28..31 days; consecutive samples differ, so padding and time masks occur.
        n_days = planet.time_steps - index % 4
        cmap = synth.class_map(rng, image_size, k, cell=max(2, image_size // 8))
        month = datetime(2018 + index % 2, 1 + index % 12, 1, tzinfo=UTC).timestamp()
        common = {"area_id": f"synthetic_{index % 5}", **synth.centroid_metadata(
            rng, lon=(-120.0, 140.0), lat=(-40.0, 60.0)), "add_test_split": False}
        sig = synth.signatures(self.name, PLANET, k, len(planet.bands))
        assets: list[AssetSpec] = []
        for day in range(n_days):
            assets.append(synth.raster_asset(f"{PLANET}_{day}", synth.render(cmap, sig, rng, planet.dtype),
                                             modality=PLANET, **{"stac:time_start": month + day * 86400.0}))
        s1 = synth.render(cmap, synth.signatures(self.name, "s1", k, S1_BANDS), rng, "float32")
        s2 = layouts.render_modality(self.name, m.modality("s2"), cmap, k, rng)
        assets += [synth.raster_asset("s1", s1, modality="s1", **{"stac:time_start": month}),
                   synth.raster_asset("s2", s2, modality="s2", **{"stac:time_start": month}),
                   synth.raster_asset("label", cmap.astype(np.uint8)[None], modality="label",
                                      **{"stac:time_start": month})]
        meta = {**common, "original_id": f"{common['area_id']}_{index:05d}", "stac:time_start": month}
        synth.repeat_sample_metadata(assets, meta)  # as the official rows (GEO-Bench-2 reads them)
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split, meta)
