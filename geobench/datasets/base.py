"""The contract between a dataset's official tortilla layout and geobench's prepared HDF5 files.

One adapter module per dataset (``geobench/datasets/<ds>.py``) subclasses :class:`DatasetAdapter`
and knows two things about its dataset's official layout: how to *decode* one tortilla sample into
arrays (``decode``) and how to *write* a synthetic sample in the same layout (``synthesize``). The
facts (bands, classes, sizes) come from the manifest; the adapter holds only the layout.

Decoded arrays, fixed by the prepared format (README, "Prepared format"):
- ``inputs[modality]``: ``(C, H, W)``, or ``(T, C, H, W)`` for a modality with ``time_steps > 1``,
  in the source dtype, bands in the manifest's order.
- ``time_mask[modality]``: bool ``(T,)`` for a time series whose steps can be missing (True = real).
- ``targets`` by task (names fixed):
    classification             ``label``: int64 scalar (class index)
    multilabel_classification  ``labels``: uint8 ``(K,)`` multi-hot
    segmentation               ``mask``: integer ``(H, W)`` class indices (ignore_index per manifest)
    regression                 ``target``: float32 ``(H, W)``
    detection                  ``boxes``: float32 ``(M, 4)`` xyxy pixels; ``box_labels``: int64 ``(M,)`` class index
                               in the manifest's classes (background first, so objects are 1..K)
    instance_segmentation      the two above plus ``instance_masks``: uint8 ``(M, H, W)``
  A dataset may add extra targets (e.g. pastis ``instance_ids``); they are stored too.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from geobench.errors import CorruptFileError, GeoBenchError, UnknownNameError
from geobench.manifest import DATASETS, DatasetManifest, load_manifest

if TYPE_CHECKING:
    from geobench.tortilla.reader import AssetRef, SampleRef, Tortilla
    from geobench.tortilla.writer import AssetSpec, SampleSpec

# Targets whose first axis is ragged (a variable number of objects per sample).
RAGGED_TARGETS: frozenset[str] = frozenset({"boxes", "box_labels", "instance_masks"})


@dataclass
class DecodedSample:
    inputs: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    time_mask: dict[str, np.ndarray] = field(default_factory=dict)


class DatasetAdapter(ABC):
    """Decode and synthesize samples of one dataset's official tortilla layout."""

    name: ClassVar[str]
    # Bump when decode() changes its output, so that prepared files are rebuilt.
    version: ClassVar[int] = 1
    # No-data fill values kept as stored in the decoded inputs, per modality (e.g. BioMassters S1
    # -9999 for a missing orbit). Band statistics should skip them; GEO-Bench-2 sets such pixels
    # to 0 after normalization.
    nodata: ClassVar[dict[str, float]] = {}

    def __init__(self, manifest: DatasetManifest | None = None) -> None:
        self.manifest = manifest if manifest is not None else load_manifest(self.name)

    @abstractmethod
    def decode(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        """Read one sample of an official (or synthetic) file into arrays."""

    def decode_checked(self, tortilla: Tortilla, sample: SampleRef) -> DecodedSample:
        """:meth:`decode`, with every decoder failure as one :class:`CorruptFileError`.

        A damaged asset can make GDAL, HDF5 (e.g. a gzip filter failure on a flipped bit) or the
        adapter's array code raise anything; this names the file, the sample and the asset read
        last: ``<file>: sample <id> (asset <id>): cannot decode it (<error>)``.
        """
        try:
            return self.decode(tortilla, sample)
        except GeoBenchError:
            raise
        except (OSError, ValueError, RuntimeError, KeyError, IndexError, EOFError) as exc:
            asset = tortilla.last_asset()
            if asset is not None and asset.sample_id == sample.id and asset.path == sample.path:
                raise tortilla.decode_error(asset, "cannot decode it", exc) from exc
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise CorruptFileError(sample.path, f"sample {sample.id!r}: cannot decode it ({detail})",
                                   f"not the {self.name} layout, or a damaged file") from exc

    @abstractmethod
    def synthesize(
        self, index: int, split: str, rng: np.random.Generator, image_size: int
    ) -> SampleSpec:
        """One synthetic sample in the official layout (assets, ids, metadata columns).

        Deterministic given ``rng``; learnable: the target depends on the spectra
        (see :mod:`geobench.datasets.synth`). ``image_size`` is the side in pixels.
        """

    @property
    def raw_dataset(self) -> str:
        """The folder under ``raw/`` holding this dataset's files: the hub repository's name
        (pastis_r reads the PASTIS files, ``aialliance/pastis``, as instances)."""
        return self.manifest.hub.repo.rsplit("/", 1)[-1]

    def assets_by_id(self, tortilla: Tortilla, sample: SampleRef,
                     required: tuple[str, ...] = ()) -> dict[str, AssetRef]:
        """The sample's assets keyed by ``tortilla:id`` (source order kept).

        Raises:
            CorruptFileError: an asset named in ``required`` is missing (names the file, the
                sample and the ids it has).
        """
        found = {a.id: a for a in tortilla.assets(sample)}
        missing = [r for r in required if r not in found]
        if missing:
            raise CorruptFileError(sample.path, f"sample {sample.id!r} has no asset "
                                   f"{', '.join(map(repr, missing))} (it has {list(found)})",
                                   f"not the {self.name} layout; check the file is the official "
                                   f"{self.name} tortilla")
        return found

    def read_inputs(self, tortilla: Tortilla, sample: SampleRef, extra: tuple[str, ...] = ()
                    ) -> tuple[dict[str, AssetRef], dict[str, np.ndarray]]:
        """The sample's assets by id (each modality's and ``extra`` required) and the raster of
        every modality whose asset id is its name (the common GeoTIFF layout)."""
        names = self.manifest.modality_names
        assets = self.assets_by_id(tortilla, sample, (*names, *extra))
        return assets, {m: tortilla.read_raster(assets[m]) for m in names}

    def render_inputs(self, cmap: np.ndarray, rng: np.random.Generator, noise: float = 0.03,
                      num_classes: int | None = None, **metadata: object) -> list[AssetSpec]:
        """One GeoTIFF asset per modality, in the official order, showing class map ``cmap``
        with each class's spectral signature (the learnable synthetic content)."""
        from geobench.datasets import layouts, synth

        k = num_classes or self.manifest.num_classes
        return [synth.raster_asset(mod.name, layouts.render_modality(self.name, mod, cmap, k, rng, noise), **metadata)
                for mod in self.manifest.modalities]

    def class_index(self, value: object, sample: SampleRef, column: str) -> int:
        """A class index from a metadata value: a class name of the manifest or an integer index.

        Raises:
            CorruptFileError: an unknown class name or an index out of range (names the file,
                the sample and the column).
        """
        classes = self.manifest.classes
        if isinstance(value, str):
            if value in classes:
                return classes.index(value)
            raise CorruptFileError(sample.path, f"sample {sample.id!r}, column {column!r}: unknown "
                                   f"class {value!r}", f"known classes: {', '.join(classes)}")
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
                and 0 <= int(value) < len(classes):
            return int(value)
        raise CorruptFileError(sample.path, f"sample {sample.id!r}, column {column!r}: {value!r} "
                               f"is not a class name or an index below {len(classes)}")

    def multi_hot(self, names: object, sample: SampleRef, column: str) -> np.ndarray:
        """uint8 ``(K,)`` multi-hot vector, in the manifest's class order, of a list of class names.

        Raises:
            CorruptFileError: the value is not a list of known class names.
        """
        if isinstance(names, str) or not isinstance(names, (list, tuple, np.ndarray)):
            raise CorruptFileError(sample.path, f"sample {sample.id!r}, column {column!r}: expected "
                                   f"a list of class names, got {names!r}")
        out = np.zeros(self.manifest.num_classes, dtype=np.uint8)
        for name in names:
            if not isinstance(name, str):
                raise CorruptFileError(sample.path, f"sample {sample.id!r}, column {column!r}: "
                                       f"{name!r} is not a class name")
            out[self.class_index(name, sample, column)] = 1
        return out

    def raw_file_names(self) -> list[str]:
        """The tortilla files of this dataset in ``raw/<ds>/`` (the hub file names, in order)."""
        return [f.name for f in self.manifest.hub.files]


def get_adapter(name: str) -> DatasetAdapter:
    """The adapter of dataset ``name`` (module ``geobench.datasets.<name>``)."""
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, list(DATASETS))
    module = importlib.import_module(f"geobench.datasets.{name}")
    cls = module.Adapter
    return cls()
