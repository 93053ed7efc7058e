"""``PreparedDataset``: a torch Dataset over ``prepared/<ds>/<split>.h5`` for every task type.

A sample is a dict (the batch format the training loop consumes):

- ``inputs``: modality -> float32 ``(C, H, W)`` or ``(T, C, H, W)``: selected bands and time
  steps, z-scored (``normalization="official"``: the official dataset class's statistics from
  the manifest; ``"train_stats"``: the train split's ``stats.json``; no-data fills declared by
  the adapter become 0), resized to ``image_size`` (:mod:`geobench.data.transforms`);
- ``time_mask``: bool ``(T,)`` for time series whose steps can be missing (True = real step:
  present in at least one modality; a modality's missing steps are zeros after normalization);
  time series of one sample share one length T (the longest; shorter ones are zero-padded);
- ``target``: int64 scalar (classification), float32 ``(K,)`` (multi-label), int64 ``(H, W)``
  (segmentation; padding -> ignore index), float32 ``(H, W)`` (regression, with ``valid_mask``),
  or a dict ``boxes`` float32 ``(M, 4)`` xyxy, ``labels`` int64 ``(M,)`` the class index in the
  manifest's classes, which list the background first (objects 1..K, 0 is torchvision's
  background, as GEO-Bench-2's dataset classes label them), ``masks`` uint8 ``(M, H, W)``
  (instance segmentation);
- ``index``: int.

The HDF5 file is opened lazily in each worker process (never shared across a fork).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geobench import paths
from geobench.data.transforms import resize_boxes, resize_image, resize_mask, select_steps, zscore
from geobench.errors import ConfigError, DatasetNotFoundError
from geobench.manifest import TimeSelection
from geobench.prepared import FORMAT_VERSION, load_stats, read_json_attr

NORMALIZATION = ("official", "train_stats", "none")

BandSelection = Mapping[str, Sequence[str | float]]
_DETECTION = ("detection", "instance_segmentation")


def select_bands(available: Sequence[str], wavelengths: Sequence[float | None],
                 wanted: Sequence[str | float], where: str) -> list[int]:
    """Indices of ``wanted`` bands: a name matches exactly (case-insensitive), a number picks
    the band with the nearest centre wavelength (nm)."""
    lower = [a.lower() for a in available]
    out = []
    for w in wanted:
        if isinstance(w, str):
            if w.lower() not in lower:
                raise ConfigError(f"{where}: no band {w!r}; available: {', '.join(available)}")
            out.append(lower.index(w.lower()))
        else:
            cands = [(abs(float(wl) - float(w)), i) for i, wl in enumerate(wavelengths) if wl is not None]
            if not cands:
                raise ConfigError(f"{where}: no band has a wavelength to match {w} nm")
            out.append(min(cands)[1])
    return out


class PreparedDataset(torch.utils.data.Dataset):
    """One split of one prepared dataset.

    Args:
        data_root: the data folder (holds ``prepared/<dataset>/``).
        dataset: dataset key.
        split: ``train``, ``validation`` or ``test``.
        modalities: modalities to load (default: all).
        bands: modality -> band names or wavelengths (nm) to select, in that order (default: all).
        normalization: ``official`` (the manifest's official statistics; raw values where the
            official loader does not normalise; bands without official statistics fall back to
            the train split's), ``train_stats`` or ``none``.
        image_size: resize inputs and targets to this side (default: keep).
        time_steps: which steps of each time series to load (default: all).
        transform: augmentation hook, called on the finished sample dict.
    """

    def __init__(self, data_root: str | Path, dataset: str, split: str, *,
                 modalities: Sequence[str] | None = None, bands: BandSelection | None = None,
                 normalization: str = "train_stats", image_size: int | None = None,
                 time_steps: TimeSelection | None = None,
                 transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        import h5py

        if split not in paths.SPLITS:
            raise ConfigError(f"split {split!r}: expected one of {', '.join(paths.SPLITS)}")
        if normalization not in NORMALIZATION:
            raise ConfigError(f"normalization={normalization!r}: expected one of {', '.join(NORMALIZATION)}")
        self.time_steps = time_steps if time_steps is not None and time_steps.rule != "all" else None
        self.path = paths.prepared_file(data_root, dataset, split)
        if not self.path.exists():
            raise DatasetNotFoundError(f"{self.path}: prepared file not found; run `python -m geobench.prepare "
                                       f"dataset={dataset} data_root={data_root}`")
        self.dataset, self.split = dataset, split
        self.image_size, self.transform = image_size, transform
        with h5py.File(self.path, "r") as h5:
            self._read_header(h5, modalities, bands)
        self.official = None
        self.nodata_from: str | None = None
        if normalization == "official":
            from geobench.manifest import load_manifest

            self.official = load_manifest(dataset).protocol
            self.nodata_from = self.official.nodata_from
            if not self.official.normalize:
                normalization = "none"
        self.normalization = normalization
        self.norm: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # mean, std as (C, 1, 1)
        if normalization != "none":
            self._init_norm()
        self._h5: Any = None
        self._pid: int | None = None
        self._nodes: dict[str, Any] = {}

    def _read_header(self, h5: Any, modalities: Sequence[str] | None, bands: BandSelection | None) -> None:
        """Task, sizes, targets' attributes, modalities, band names, no-data fills of the file."""
        fmt = int(h5.attrs.get("geobench_format", -1))
        if fmt != FORMAT_VERSION:
            raise DatasetNotFoundError(f"{self.path}: prepared format {fmt}, this geobench reads {FORMAT_VERSION}; "
                                       "prepare again with force=true")
        self.task = str(h5.attrs["task"])
        self.num_samples = int(h5.attrs["num_samples"])
        self.sample_ids = [s.decode() if isinstance(s, bytes) else s for s in h5["sample_ids"][:]]
        tg = h5["targets"]
        self.classes = read_json_attr(tg, "classes", [])
        self.ignore_index = read_json_attr(tg, "ignore_index", None)
        self.target_scale = read_json_attr(tg, "target_scale", None)
        self.target_names = [k for k in tg if k != "offsets"]
        self.offsets = tg["offsets"][:] if "offsets" in tg else None
        all_mods = list(h5["inputs"])
        self.modalities = list(modalities) if modalities is not None else all_mods
        for m in self.modalities:
            if m not in all_mods:
                raise ConfigError(f"{self.path}: no modality {m!r}; available: {', '.join(all_mods)}")
        self.band_names: dict[str, list[str]] = {}
        self.nodata: dict[str, float] = {}
        self.band_index: dict[str, list[int] | None] = {}
        self.has_time_mask = {m: ("time_mask" in h5 and m in h5["time_mask"]) for m in all_mods}
        self.has_valid_hw = "valid_hw" in h5
        for m in all_mods:
            nodata = read_json_attr(h5["inputs"][m], "nodata", None)
            if nodata is not None:
                self.nodata[m] = float(nodata)
        for m in self.modalities:
            ds = h5["inputs"][m]
            names = read_json_attr(ds, "bands")
            wls = read_json_attr(ds, "wavelengths_nm", [None] * len(names))
            idx = None
            if bands and m in bands:
                idx = select_bands(names, wls, bands[m], f"{self.path}:inputs/{m}")
            self.band_index[m] = idx
            self.band_names[m] = [names[i] for i in idx] if idx is not None else list(names)

    def _init_norm(self) -> None:
        official = self.official.normalization if self.official is not None else {}
        stats: dict[str, Any] | None = None
        for m in self.modalities:
            pairs = []
            for b in self.band_names[m]:
                if b in official.get(m, {}):
                    pairs.append(official[m][b])
                    continue
                if stats is None:
                    stats = load_stats(self.path.parent)
                if m not in stats:
                    raise DatasetNotFoundError(f"{self.path.parent}/stats.json: no statistics for {m!r}; prepare again")
                pairs.append((stats[m][b]["mean"], max(stats[m][b]["std"], 1e-6)))
            mean = np.array([p[0] for p in pairs], dtype=np.float32)
            std = np.array([p[1] for p in pairs], dtype=np.float32)
            self.norm[m] = (mean[:, None, None], std[:, None, None])

    # -- file handle, opened once per process ------------------------------------------------
    def _file(self) -> Any:
        import h5py

        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
            self._nodes = {}
        return self._h5

    def _node(self, name: str) -> Any:
        """A dataset of the open file, looked up once per process (h5py lookups are slow)."""
        node = self._nodes.get(name)
        if node is None:
            node = self._nodes[name] = self._file()[name]
        return node

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5"], state["_pid"], state["_nodes"] = None, None, {}
        return state

    def __len__(self) -> int:
        return self.num_samples

    # -- one sample --------------------------------------------------------------------------
    def _read_raw(self, m: str, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """One modality of sample ``i`` as stored (all bands), its time steps selected; and its
        time mask (None: every step is real, or not a series)."""
        arr = self._node(f"inputs/{m}")[i]
        mask = self._node(f"time_mask/{m}")[i].astype(bool) if self.has_time_mask.get(m) else None
        if self.time_steps is not None and arr.ndim == 4:
            arr, mask = select_steps(arr, mask, self.time_steps)
        return arr, mask

    def _read_input(self, m: str, i: int) -> tuple[torch.Tensor, np.ndarray | None]:
        arr, mask = self._read_raw(m, i)
        idx = self.band_index[m]
        if idx is not None:
            arr = arr[..., idx, :, :]
        # numpy, single-threaded: per-sample arrays are small, and torch's intra-op threads only
        # add synchronisation cost inside DataLoader workers.
        x = arr.astype(np.float32)
        missing = None
        if m in self.nodata:
            nd = self.nodata[m]
            missing = np.isnan(arr) if np.isnan(nd) else arr == nd
        if m in self.norm:
            zscore(x, *self.norm[m])
        if missing is not None:
            x[missing] = 0.0  # no-data fills: the band mean after normalization
        return torch.from_numpy(x), mask

    def _nodata_pixels(self, i: int) -> torch.Tensor | None:
        """Pixels (per step) where the ``nodata_from`` modality has a fill in any band."""
        m = self.nodata_from
        if m is None or m not in self.nodata:
            return None
        arr, _ = self._read_raw(m, i)
        nd = self.nodata[m]
        bad = np.isnan(arr) if np.isnan(nd) else arr == nd
        return torch.from_numpy(bad.any(axis=-3))  # (H, W) or (T, H, W)

    def _resize(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        if self.image_size is None:
            return x
        return resize_mask(x, self.image_size) if mode == "nearest" else resize_image(x, self.image_size)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.num_samples:
            raise IndexError(i)
        hw: tuple[int, int] | None = None
        if self.has_valid_hw:
            h_, w_ = (int(v) for v in self._node("valid_hw")[i])
            hw = (h_, w_)
        sample: dict[str, Any] = {"index": i, "inputs": {}}
        in_hw = None
        spread = self._nodata_pixels(i)
        for m in self.modalities:
            x, mask = self._read_input(m, i)
            if spread is not None and spread.shape[0] == (x.shape[0] if x.ndim == 4 else spread.shape[0]):
                x = x.masked_fill(spread.unsqueeze(-3), 0.0)  # every band at the fill pixels
            if hw is not None:
                x = x[..., : hw[0], : hw[1]]
            in_hw = x.shape[-2:]
            if mask is not None:
                # Missing steps are zero in the normalized space (the band mean).
                tm = torch.from_numpy(mask)
                x[~tm] = 0.0
                sample.setdefault("_masks", {})[m] = tm
            sample["inputs"][m] = self._resize(x, "bilinear")
        self._common_time_axis(sample)
        sample.update(self._target(i, hw, in_hw))
        if self.transform is not None:
            sample = self.transform(sample)
        return sample

    @staticmethod
    def _common_time_axis(sample: dict[str, Any]) -> None:
        """Give the time series of a sample one common length T (the longest; shorter ones are
        zero-padded at the end) and one ``time_mask``: a step is real if any modality has it."""
        masks: dict[str, torch.Tensor] = sample.pop("_masks", {})
        series = {m: x for m, x in sample["inputs"].items() if x.ndim == 4}
        if not series:
            return
        t = max(x.shape[0] for x in series.values())
        union = torch.zeros(t, dtype=torch.bool)
        for m, x in series.items():
            mask = masks.get(m, torch.ones(x.shape[0], dtype=torch.bool))
            if x.shape[0] < t:
                sample["inputs"][m] = torch.cat([x, x.new_zeros((t - x.shape[0], *x.shape[1:]))])
                mask = torch.cat([mask, torch.zeros(t - mask.shape[0], dtype=torch.bool)])
            union |= mask
        if masks or any(x.shape[0] < t for x in series.values()):
            sample["time_mask"] = union

    def _target(self, i: int, hw: tuple[int, int] | None, in_hw: Any) -> dict[str, Any]:
        task = self.task

        def tg_get(name: str, idx: Any) -> np.ndarray:
            return self._node(f"targets/{name}")[idx]

        if task == "classification":
            return {"target": torch.tensor(int(tg_get("label", i)), dtype=torch.int64)}
        if task == "multilabel_classification":
            return {"target": torch.from_numpy(tg_get("labels", i).astype(np.float32))}
        if task == "segmentation":
            mask = torch.from_numpy(tg_get("mask", i).astype(np.int64))
            if hw is not None:
                mask = mask[: hw[0], : hw[1]]
            return {"target": self._resize(mask, "nearest")}
        if task == "regression":
            t = torch.from_numpy(tg_get("target", i).astype(np.float32))
            if self.target_scale:
                t = t / self.target_scale
            if hw is not None:
                t = t[: hw[0], : hw[1]]
            valid = torch.isfinite(t)
            t = torch.nan_to_num(t)
            return {"target": self._resize(t, "nearest"), "valid_mask": self._resize(valid, "nearest")}
        if task in _DETECTION:
            assert self.offsets is not None
            a, b = int(self.offsets[i]), int(self.offsets[i + 1])
            boxes = torch.from_numpy(tg_get("boxes", slice(a, b)).astype(np.float32)).reshape(-1, 4)
            # GEO-Bench-2's boxes from masks use the last pixel inside as max (zero width for a
            # one-pixel parcel); detectors need x2 > x1, so such boxes get one pixel of extent.
            boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)
            # The manifests list the background first (as GEO-Bench-2's class lists do), so a box
            # label is the object's class index there: 1..K, 0 left to the background.
            labels = torch.from_numpy(tg_get("box_labels", slice(a, b)).astype(np.int64))
            out: dict[str, Any] = {"boxes": boxes, "labels": labels}
            if task == "instance_segmentation":
                masks = torch.from_numpy(tg_get("instance_masks", slice(a, b)).astype(np.uint8))
                if hw is not None:
                    masks = masks[:, : hw[0], : hw[1]]
                out["masks"] = self._resize(masks, "nearest")
            if self.image_size is not None and in_hw is not None:
                out["boxes"] = resize_boxes(boxes, (int(in_hw[0]), int(in_hw[1])), self.image_size)
            return {"target": out}
        raise ConfigError(f"{self.path}: unknown task {task!r}")


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of samples; detection targets stay a list of per-sample dicts."""
    out: dict[str, Any] = {"index": torch.tensor([b["index"] for b in batch], dtype=torch.int64)}
    out["inputs"] = {m: torch.stack([b["inputs"][m] for b in batch]) for m in batch[0]["inputs"]}
    for key in ("time_mask", "valid_mask"):
        if key in batch[0]:
            out[key] = torch.stack([b[key] for b in batch])
    t0 = batch[0]["target"]
    out["target"] = [b["target"] for b in batch] if isinstance(t0, dict) else torch.stack([b["target"] for b in batch])
    return out


def describe(data_root: str | Path, dataset: str) -> dict[str, Any]:
    """Shapes and dtypes of a prepared dataset's splits (for the README and tests)."""
    import h5py

    out: dict[str, Any] = {}
    for split in paths.SPLITS:
        with h5py.File(paths.prepared_file(data_root, dataset, split), "r") as h5:
            out[split] = {f"{g}/{k}": (tuple(h5[g][k].shape), str(h5[g][k].dtype))
                          for g in ("inputs", "targets") for k in h5[g]}
    return json.loads(json.dumps(out))
