"""How a ``model=`` value names a model outside the catalogue (no torch here).

Three doors besides the registry's own keys and aliases:

* **by name**: ``timm:NAME`` (any timm model with ``feature_info``) and ``terratorch:NAME`` (any
  entry of terratorch's ``BACKBONE_REGISTRY``). Their registry key is the file-safe spelling
  ``timm-NAME`` / ``terratorch-NAME`` (run directories, results rows, submissions); both
  spellings are accepted everywhere.
* **by config**: a key with a factory, ``_target_: module:function`` (a model YAML of your own).
* **by package**: a name of the entry-point group ``geobench.models`` (:mod:`.plugins`).

:class:`ModelRequest` carries what the run configuration says beyond the key (declared bands,
factory, keyword arguments) to :func:`geobench.models.registry.get_spec` and ``build_encoder``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from geobench.errors import ModelError

LIBRARIES = ("timm", "terratorch")
# A registry key of a model outside the catalogue: what results rows, run directories and
# submissions carry safely (the submission's BACKBONE_PATTERN, geobench.submission.schema).
KEY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}"
_KEY = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class ModelRequest:
    """A model as the run configuration names it: the key, and for models outside the catalogue
    the declared input bands (``model.bands``), the factory (``model._target_``) and the keyword
    arguments of the factory or library (``model.kwargs``)."""

    key: str
    target: str | None = None
    bands: tuple[str, ...] | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: Any) -> ModelRequest:
        """A request from a key, a request, or a ``ModelConfig`` (geobench.config)."""
        if isinstance(model, ModelRequest):
            return model
        if isinstance(model, str):
            return cls(model)
        bands = getattr(model, "bands", None)
        return cls(key=str(model.key), target=getattr(model, "_target_", None),
                   bands=tuple(str(b) for b in bands) if bands is not None else None,
                   kwargs=dict(getattr(model, "kwargs", None) or {}))

    @property
    def is_plain(self) -> bool:
        """True when only the key is given (nothing a catalogue model would ignore)."""
        return self.target is None and self.bands is None and not self.kwargs


def library_model(key: str) -> tuple[str, str] | None:
    """``timm:resnet18`` or ``timm-resnet18`` -> ``("timm", "resnet18")``; None for other keys.

    Raises:
        ModelError: the prefix without a name, or a name that is not a plain library name.
    """
    for lib in LIBRARIES:
        for sep in (":", "-"):
            if key.startswith(lib + sep):
                name = key[len(lib) + 1:]
                if not name or not _KEY.fullmatch(f"{lib}-{name}"):
                    raise ModelError(f"model {key!r}: write {lib}:NAME with NAME a {lib} model name "
                                     "(letters, digits, _ . + -), e.g. timm:resnet18")
                return lib, name
    return None


def library_key(lib: str, name: str) -> str:
    """The registry key of a library model (``timm-resnet18``)."""
    return f"{lib}-{name}"


def check_own_key(key: str, taken: Mapping[str, object]) -> None:
    """A key given to a model of your own must be file-safe and not a catalogue key or alias."""
    if not _KEY.fullmatch(key):
        raise ModelError(f"model.key={key!r}: a model's key may hold only letters, digits and "
                         "_ . + - (it names run directories and submission rows)")
    if key in taken or library_model(key) is not None:
        raise ModelError(f"model.key={key!r} names a registry model; give your model its own key")


def load_target(target: str) -> Callable[..., Any]:
    """The callable named by ``module:function`` or ``package.module.function``.

    Raises:
        ModelError: not importable, no such attribute, or not callable (the message says which).
    """
    text = target.strip()
    module_name, sep, attr = text.partition(":")
    if not sep:
        module_name, _, attr = text.rpartition(".")
    if not module_name or not attr:
        raise ModelError(f"_target_={target!r}: write module:function (or module.function) naming "
                         "your model factory, e.g. my_models.nets:build_encoder")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"_target_={target!r}: cannot import {module_name!r} ({exc}); install the "
                         "package that holds it or put its folder on PYTHONPATH") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"_target_={target!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"_target_={target!r} is not callable: name a function or class that "
                         "builds the model")
    return obj
