"""The model registry: the GEO-Bench-2 seed backbones under their official keys.

``list_models``, ``get_spec`` and ``build_encoder`` live in :mod:`geobench.models.registry`
(importing this package imports no torch).
"""

from geobench.models.registry import aliases, build_encoder, get_spec, list_models
from geobench.models.spec import BandSpec, ModelSpec

__all__ = ["BandSpec", "ModelSpec", "aliases", "build_encoder", "get_spec", "list_models"]
