"""PASTIS-R parcels (``pastis_r``): the PASTIS files read as crop-parcel instances.

Reads the same official files as :mod:`geobench.datasets.pastis` (``aialliance/pastis``; raw
files in ``raw/pastis``; layout described there), as GEO-Bench-2's ``label_type='instance_seg'``:

- inputs: the S2, S1 ascending and S1 descending series, exactly as ``pastis`` decodes them;
- ``instance_masks`` uint8 ``(M, H, W)``: one mask per nonzero id of the ``instance`` asset, in
  increasing id order;
- ``box_labels`` int64: the *smallest* value of ``semantic`` channel 0 inside the mask (GEO-
  Bench-2 takes ``torch.unique(values)[0]``; a parcel normally holds one class, 19 = void
  included as a class);
- ``boxes`` float32 xyxy ``[xmin, ymin, xmax, ymax]`` where ``xmax``/``ymax`` are the largest
  column/row index *inside* the mask (GEO-Bench-2's convention: inclusive, so a parcel one pixel
  wide has ``xmin == xmax``), not one past it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geobench.datasets import pastis
from geobench.datasets.base import DatasetAdapter, DecodedSample
from geobench.errors import CorruptFileError

if TYPE_CHECKING:
    from geobench.tortilla.reader import SampleRef, Tortilla
    from geobench.tortilla.writer import SampleSpec


def instances(semantic: np.ndarray, instance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(masks uint8 (M, H, W), boxes float32 (M, 4), labels int64 (M,))`` of the parcels of an
    instance-id map, with GEO-Bench-2's labels (smallest class inside) and inclusive boxes."""
    ids = np.unique(instance)
    ids = ids[ids != 0]
    masks = instance[None] == ids[:, None, None]
    h, w = instance.shape
    if len(ids) == 0:
        return (np.zeros((0, h, w), dtype=np.uint8), np.zeros((0, 4), dtype=np.float32),
                np.zeros(0, dtype=np.int64))
    rows, cols = masks.any(axis=2), masks.any(axis=1)  # (M, H), (M, W)
    ymin, ymax = rows.argmax(axis=1), h - 1 - rows[:, ::-1].argmax(axis=1)
    xmin, xmax = cols.argmax(axis=1), w - 1 - cols[:, ::-1].argmax(axis=1)
    boxes = np.stack([xmin, ymin, xmax, ymax], axis=1).astype(np.float32)
    big = np.iinfo(np.int64).max
    labels = np.where(masks, semantic.astype(np.int64)[None], big).min(axis=(1, 2))
    return masks.astype(np.uint8), boxes, labels.astype(np.int64)


class Adapter(DatasetAdapter):
    name = "pastis_r"

    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        assets = self.assets_by_id(tortilla, sample, pastis.ASSETS)
        inputs, time_mask = pastis.read_series(self.manifest, tortilla, sample, assets)
        semantic, instance = pastis.read_labels(tortilla, assets)
        if semantic.shape != instance.shape:
            raise CorruptFileError(sample.path, f"sample {sample.id!r}: 'semantic' is "
                                   f"{semantic.shape[0]}x{semantic.shape[1]} but 'instance' is "
                                   f"{instance.shape[0]}x{instance.shape[1]}", "not the pastis layout")
        masks, boxes, labels = instances(semantic, instance)
        if len(labels) and int(labels.max()) >= self.manifest.num_classes:
            raise CorruptFileError(sample.path, f"sample {sample.id!r}: asset 'semantic' holds class "
                                   f"{int(labels.max())}, the manifest has {self.manifest.num_classes}")
        return DecodedSample(inputs=inputs, time_mask=time_mask,
                             targets={"boxes": boxes, "box_labels": labels, "instance_masks": masks})

    def synthesize(self, index: int, split: str, rng: np.random.Generator,
                   image_size: int) -> SampleSpec:
        """A sample of the PASTIS files (pastis_r has no files of its own)."""
        return pastis.Adapter().synthesize(index, split, rng, image_size)
