"""The prepared HDF5 format: ``<data_root>/prepared/<ds>/<split>.h5`` plus ``stats.json``.

Fixed interface (other stages and checks rely on it; bump ``FORMAT_VERSION`` on any change):

- root attributes: ``geobench_format`` (int), ``dataset``, ``split``, ``task``,
  ``num_samples``, ``source`` (JSON: the tortilla files' names, sizes and mtimes and the adapter
  version the file was made from; a file whose ``source`` matches is up to date);
- ``sample_ids``: the tortilla sample ids (``tortilla:id``) in source order (utf-8 strings);
- ``inputs/<modality>``: ``(N, C, H, W)`` or ``(N, T, C, H, W)`` in the source dtype; attributes
  ``bands`` (JSON list of names), ``wavelengths_nm`` (JSON list), ``time_steps``;
- ``time_mask/<modality>``: bool ``(N, T)`` where time steps can be missing (True = real step;
  missing steps are zero-filled);
- ``valid_hw``: int32 ``(N, 2)`` real height and width where sample sizes vary (samples are
  zero-padded at the bottom/right to the split's maximum size);
- ``targets/<name>``: per-sample arrays ``(N, ...)``; ragged targets (``boxes``, ``box_labels``,
  ``instance_masks``) are concatenated along the first axis with ``targets/offsets`` ``(N + 1,)``
  giving each sample's slice; group attributes ``task``, ``classes`` (JSON), ``ignore_index``,
  ``target_scale`` (regression targets are divided by it when loaded; BioMassters 289.89).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2
STATS_FILE = "stats.json"


def read_json_attr(obj: Any, name: str, default: Any = None) -> Any:
    value = obj.attrs.get(name)
    if value is None:
        return default
    if isinstance(value, bytes):
        value = value.decode()
    return json.loads(value)


def load_stats(prepared_dir: str | Path) -> dict[str, dict[str, dict[str, float]]]:
    """``stats.json``: modality -> band -> {mean, std, p1, p99, min, max, count}."""
    from geobench.errors import DatasetNotFoundError

    path = Path(prepared_dir) / STATS_FILE
    if not path.exists():
        raise DatasetNotFoundError(f"{path}: statistics file missing; run `python -m geobench.prepare "
                                   f"dataset={Path(prepared_dir).name}` again")
    return json.loads(path.read_text())["modalities"]
