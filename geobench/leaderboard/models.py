"""Model display names and sizes for the leaderboard pages.

A backbone key (as the results rows name it) is shown with a display name and a parameter count,
looked up in this order:

1. the submission's own metadata (geobench's ``geobench.json`` model entries, or the official
   ``additional_info.json`` "New model info" list);
2. an official ``model_info.json`` (``{"BACKBONE_NAMES": {...}, "MODEL_SIZE": {...}}``) found in a
   folder passed to ``import-official``;
3. :data:`KNOWN_MODELS` below;
4. the key itself, size unknown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geobench.errors import ResultsError
from geobench.published import PUBLISHED_MODELS

# Display names and sizes of the backbones in the published GEO-Bench-2 results.
KNOWN_MODELS: dict[str, tuple[str, str]] = PUBLISHED_MODELS

_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMbBgG]?)\s*$")
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}


@dataclass(frozen=True)
class ModelMeta:
    """What the pages show about one backbone."""

    key: str
    display_name: str
    size: str  # as written ("300M"), "" when unknown
    count: int | None = None  # exact parameter count when the submission records it

    @property
    def parameters(self) -> float | None:
        """The number of parameters (for sorting), None when unknown or unparsable."""
        return float(self.count) if self.count else parse_size(self.size)


def parse_size(size: Any) -> float | None:
    """``"300M"`` -> 3e8, ``"1.2B"`` -> 1.2e9, ``25000000`` -> 2.5e7; None when not a size."""
    if isinstance(size, bool) or size is None:
        return None
    if isinstance(size, int | float):
        return float(size) if math.isfinite(size) and size > 0 else None
    match = _SIZE_RE.match(str(size))
    if not match:
        return None
    return float(match.group(1)) * _SCALE[match.group(2).lower()]


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return str(value).strip()


def entries_from_info(info: Mapping[str, Any]) -> dict[str, ModelMeta]:
    """Model entries that a submission's metadata declares, keyed by backbone.

    Understands the official ``additional_info.json`` ("New model info": a list of
    ``{model_display_name, model_size, unique_backbone_key}``) and geobench's ``geobench.json``
    (under ``info["geobench"]`` as :mod:`geobench.aggregate.inputs` loads it, or at the top level:
    ``models``, a list of ``{backbone, display_name, size, parameters}``), which wins. Empty
    placeholder entries (as in the official template) are ignored.
    """
    out: dict[str, ModelMeta] = {}
    official = info.get("New model info")
    if isinstance(official, list):
        for item in official:
            if isinstance(item, Mapping):
                key = _text(item.get("unique_backbone_key"))
                name = _text(item.get("model_display_name"))
                if key and name:
                    out[key] = ModelMeta(key, name, _text(item.get("model_size")))
    own = info.get("geobench")
    models = own.get("models") if isinstance(own, Mapping) else info.get("models")
    items: list[tuple[str, Any]] = []
    if isinstance(models, Mapping):
        items = [(str(k), v) for k, v in models.items()]
    elif isinstance(models, list):
        items = [(_text(m.get("backbone")), m) for m in models if isinstance(m, Mapping)]
    for key, item in items:
        if key and isinstance(item, Mapping):
            name = _text(item.get("display_name") or item.get("name"))
            count = item.get("parameters")
            count = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None
            size = _text(item.get("size") or item.get("model_size")) or (str(count) if count else "")
            if name:
                out[key] = ModelMeta(key, name, size, count)
    return out


def load_official_model_info(path: str | Path) -> dict[str, ModelMeta]:
    """Read an official ``model_info.json`` (``BACKBONE_NAMES`` and ``MODEL_SIZE`` mappings).

    Raises:
        ResultsError: the file is not JSON or lacks the ``BACKBONE_NAMES`` mapping.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read model info ({exc})") from exc
    names = data.get("BACKBONE_NAMES") if isinstance(data, dict) else None
    sizes = data.get("MODEL_SIZE", {}) if isinstance(data, dict) else {}
    if not isinstance(names, dict) or not isinstance(sizes, dict):
        raise ResultsError(f"{path}: expected {{'BACKBONE_NAMES': {{...}}, 'MODEL_SIZE': {{...}}}}")
    out = {}
    for key, name in names.items():
        key, name = _text(key), _text(name)
        if key and name and key != "TBD":
            out[key] = ModelMeta(key, name, _text(sizes.get(key)))
    return out


class ModelCatalog:
    """Resolves (submission info, backbone) to :class:`ModelMeta` in the documented order."""

    def __init__(self, official: Mapping[str, ModelMeta] | None = None) -> None:
        self.official = dict(official or {})

    def lookup(self, backbone: str, info: Mapping[str, Any] | None = None) -> ModelMeta:
        own = entries_from_info(info or {})
        if backbone in own:
            return own[backbone]
        if backbone in self.official:
            return self.official[backbone]
        if backbone in KNOWN_MODELS:
            name, size = KNOWN_MODELS[backbone]
            return ModelMeta(backbone, name, size)
        return ModelMeta(backbone, backbone, "")
