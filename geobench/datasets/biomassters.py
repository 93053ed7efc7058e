"""BioMassters (``biomassters``): above-ground biomass regression from monthly S1 and S2 series.

Official layout (``geobench_biomassters.*.part.tortilla``; checked against the real fixture):

- outer sample ``sample_<n>`` (column ``add_test_split`` only);
- assets, in order: ``<chip>_S1_<Month>`` for the 12 months September..August (GeoTIFF float32,
  4 bands, ``-9999`` = no data, e.g. a missing descending orbit), then ``<chip>_S2_<Month>`` for
  the months that have an acquisition (GeoTIFF uint16, 11 bands; some months are absent), then
  ``<chip>_AGBM`` (GeoTIFF float32, 1 band, the target in Mg/ha). Each asset row carries
  ``modality`` (``S1``/``S2``/``AGBM``), ``month`` (month name, null for AGBM) and
  ``source_img_file``.

Decoded: ``inputs["s1"]``, ``inputs["s2"]`` as ``(12, C, H, W)`` in the fixed month order
September..August (the BioMassters year), values as stored (``-9999`` kept); a month without an
asset is zeros and ``time_mask[m][t]`` is False. ``targets["target"]`` float32 ``(H, W)``.

GEO-Bench-2 differs in how it *uses* the series (not in the values): it takes the first
``num_time_steps`` S1 and S2 assets in file order (so S2 steps shift when a month is missing),
pads S2 with zeros at the front, and after normalization zeroes S1 and S2 wherever an S1 band is
``-9999``. The loader's time mask plays the part of the padding here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from geobench.datasets import synth
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import AssetRef, SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec

MONTHS = ("September", "October", "November", "December", "January", "February", "March",
          "April", "May", "June", "July", "August")
TARGET = "AGBM"
S1_NODATA = -9999.0


def _parse(asset: AssetRef) -> tuple[str, str | None]:
    """``(MODALITY, Month)`` of an asset: from its ``modality``/``month`` columns, else its id."""
    parts = asset.id.rsplit("_", 2)
    modality = asset.metadata.get("modality") or (parts[-1] if parts[-1] == TARGET else
                                                  parts[-2] if len(parts) == 3 else "")
    month = asset.metadata.get("month")
    if month is None and len(parts) == 3 and parts[-1] in MONTHS:
        month = parts[-1]
    return str(modality).upper(), month


class Adapter(DatasetAdapter):
    name = "biomassters"
    nodata: ClassVar[dict[str, float]] = {"s1": S1_NODATA}

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        m = self.manifest
        steps: dict[str, dict[int, AssetRef]] = {mod.name: {} for mod in m.modalities}
        target: AssetRef | None = None
        for asset in tortilla.assets(sample):
            modality, month = _parse(asset)
            if modality == TARGET:
                target = asset
            elif modality.lower() in steps:
                if month not in MONTHS:
                    raise CorruptFileError(sample.path, f"sample {sample.id!r}, asset {asset.id!r}: "
                                           f"unknown month {month!r}", "expected one of "
                                           + ", ".join(MONTHS))
                steps[modality.lower()][MONTHS.index(month)] = asset
        if target is None:
            raise CorruptFileError(sample.path, f"sample {sample.id!r} has no {TARGET!r} asset "
                                   "(the biomass target)", "not the biomassters layout")
        agb = tortilla.read_raster(target)
        h, w = agb.shape[-2:]
        inputs, time_mask = {}, {}
        for mod in m.modalities:
            series = np.zeros((mod.time_steps, len(mod.bands), h, w), dtype=np.dtype(mod.dtype))
            present = np.zeros(mod.time_steps, dtype=bool)
            for t, asset in steps[mod.name].items():
                arr = tortilla.read_raster(asset)
                if arr.shape != series.shape[1:] or arr.dtype != series.dtype:
                    raise CorruptFileError(sample.path, f"sample {sample.id!r}, asset {asset.id!r}:"
                                           f" {arr.dtype} {arr.shape}, expected {series.dtype} "
                                           f"{series.shape[1:]}", "see datasets_manifest/"
                                           "biomassters.yaml")
                series[t] = arr
                present[t] = True
            inputs[mod.name] = series
            time_mask[mod.name] = present
        return DecodedSample(inputs=inputs, targets={"target": agb[0].astype(np.float32)},
                             time_mask=time_mask)

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        """Biomass is a fixed linear function of the chip's S2 surface (without the cloud band);
        each month shows that surface plus a little noise; some S2 months are missing and some
        chips lack the descending S1 orbit (``-9999``), as in the real files."""
        from geobench.tortilla.writer import SampleSpec

        m = self.manifest
        s1, s2 = m.modality("s1"), m.modality("s2")
        n_types = 6  # land-cover types that set the spectra; AGB varies within them too
        cmap = synth.class_map(rng, image_size, n_types)
        surface = np.clip(synth.signatures(self.name, "s2", n_types, len(s2.bands))[cmap]
                          .transpose(2, 0, 1) + rng.normal(0, 0.05, (len(s2.bands), *cmap.shape)),
                          0.0, 1.0)
        agb = synth.regression_from_image(surface[:-1]) * 3.0
        s1_sig = synth.signatures(self.name, "s1", n_types, len(s1.bands))
        chip = f"{int(rng.integers(0, 2**32)):08x}"
        no_desc = rng.random() < 0.25
        s2_months = np.ones(len(MONTHS), dtype=bool)
        if rng.random() < 0.5:
            s2_months[rng.choice(len(MONTHS), size=int(rng.integers(1, 4)), replace=False)] = False
        assets = []
        for month in MONTHS:
            img = synth.render(cmap, s1_sig, rng, s1.dtype)
            if no_desc:
                img[2:] = S1_NODATA
            assets.append(synth.raster_asset(f"{chip}_S1_{month}", img, **self._meta("S1", month, chip)))
        for t, month in enumerate(MONTHS):
            if s2_months[t]:
                unit = np.clip(surface + rng.normal(0, 0.01, surface.shape), 0.0, 1.0)
                assets.append(synth.raster_asset(f"{chip}_S2_{month}", synth.to_dtype(unit, s2.dtype),
                                                 **self._meta("S2", month, chip)))
        assets.append(synth.raster_asset(f"{chip}_{TARGET}", agb[None].astype(np.float32),
                                         **self._meta(TARGET, None, chip)))
        return SampleSpec(synth.synthetic_sample_id(split, index), assets, split,
                          {"add_test_split": False})

    @staticmethod
    def _meta(modality: str, month: str | None, chip: str) -> dict[str, object]:
        folder = "train_agbm" if modality == TARGET else "train_features"
        name = f"{chip}_{modality}" + (f"_{MONTHS.index(month):02d}" if month else "")
        return {"month": month, "source_img_file": f"{folder}/{name}.tif", "modality": modality}
