"""Models offered by installed packages: the entry-point group ``geobench.models``.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."geobench.models"]
    tinygeo_cnn = "geobench_example_model:tiny_cnn"

where ``tiny_cnn`` is a zero-argument callable returning a :class:`~geobench.models.entry.ModelEntry`
(or the entry itself). ``model=tinygeo_cnn`` then runs it; ``python -m geobench.models`` lists it
beside the catalogue with the package it comes from. Listing reads package metadata only; an
entry is imported when it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from geobench.errors import ModelError
from geobench.models.entry import ModelEntry
from geobench.models.sources import KEY_PATTERN, library_model

GROUP = "geobench.models"


@dataclass(frozen=True)
class Plugin:
    """One entry point of group ``geobench.models``: its name, target and distribution."""

    name: str
    value: str  # "package.module:attribute"
    distribution: str  # "geobench-example-model 0.1.0"
    entry_point: Any  # importlib.metadata.EntryPoint

    @property
    def source(self) -> str:
        return f"{self.distribution} ({self.value})"


def installed() -> dict[str, list[Plugin]]:
    """Entry-point name -> the installed entry points of that name (two: a conflict)."""
    from importlib.metadata import entry_points

    out: dict[str, list[Plugin]] = {}
    for ep in entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        where = f"{dist.name} {dist.version}" if dist is not None else "an installed package"
        plugin = Plugin(ep.name, ep.value, where, ep)
        if all(p.source != plugin.source for p in out.get(ep.name, [])):
            out.setdefault(ep.name, []).append(plugin)
    return out


def find(name: str, taken: dict[str, Any]) -> Plugin | None:
    """The installed entry point named ``name`` (None if there is none).

    Raises:
        ModelError: two packages offer the name, or the name is not usable as a model key.
    """
    found = installed().get(name)
    if not found:
        return None
    if len(found) > 1:
        raise ModelError(f"model {name!r} is offered by several packages ("
                         + "; ".join(p.source for p in found) + "); uninstall all but one")
    problem = name_problem(name, taken)
    if problem:
        raise ModelError(f"model {name!r} ({found[0].source}): {problem}")
    return found[0]


def name_problem(name: str, taken: dict[str, Any]) -> str | None:
    """Why an entry-point name cannot be a model key (None when it can)."""
    if not re.fullmatch(KEY_PATTERN, name):
        return "an entry-point name may hold only letters, digits and _ . + - (rename it)"
    try:
        lib = library_model(name)
    except ModelError:
        lib = ("?", "?")
    if name in taken or lib is not None:
        return "the name is taken by geobench's registry; the package must rename its entry point"
    return None


def load(plugin: Plugin) -> ModelEntry:
    """Import the entry point and return its :class:`ModelEntry`.

    Raises:
        ModelError: the import or the call fails, or it does not give a ModelEntry.
    """
    try:
        obj = plugin.entry_point.load()
    except Exception as exc:  # the package's own code: report it in one line
        raise ModelError(f"model {plugin.name!r} ({plugin.source}): cannot import it: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(obj, ModelEntry):
        if not callable(obj):
            raise ModelError(f"model {plugin.name!r} ({plugin.source}) names a "
                             f"{type(obj).__name__}; it must name a callable returning a ModelEntry")
        try:
            obj = obj()
        except Exception as exc:
            raise ModelError(f"model {plugin.name!r} ({plugin.source}): calling it raised "
                             f"{type(exc).__name__}: {exc}") from None
    if not isinstance(obj, ModelEntry):
        raise ModelError(f"model {plugin.name!r} ({plugin.source}) returned a {type(obj).__name__}; "
                         "it must return geobench.models.ModelEntry(build=..., bands=..., ...)")
    return obj
