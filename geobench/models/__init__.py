"""The model registry: the GEO-Bench-2 seed backbones under their official keys, and the doors for
models of your own (``timm:NAME``, ``terratorch:NAME``, a factory, an installed entry point).

``list_models``, ``get_spec`` and ``build_encoder`` live in :mod:`geobench.models.registry`
(importing this package imports no torch). For your own model: :class:`ModelEntry` (what an
entry point of group ``geobench.models`` returns) and :class:`UserEncoder` (the base class of an
encoder you write; importing it imports torch).
"""

from typing import Any

from geobench.models.entry import ModelEntry
from geobench.models.registry import aliases, build_encoder, get_spec, list_models
from geobench.models.spec import BandSpec, ModelSpec

__all__ = ["BandSpec", "ModelEntry", "ModelSpec", "UserEncoder", "aliases", "build_encoder",
           "get_spec", "list_models"]


def __getattr__(name: str) -> Any:
    if name == "UserEncoder":  # torch: imported only when asked for
        from geobench.models.user import UserEncoder

        return UserEncoder
    raise AttributeError(f"module 'geobench.models' has no attribute {name!r}")
