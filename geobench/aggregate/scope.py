"""Which capabilities a scoring covers: the nine official ones (the default), any named in
``conf/capability`` (``smoke``: display name "Smoke"), and *partial* ones.

With ``partial=True`` a capability is scored as it is when the inputs ran every one of its
datasets, as a :class:`PartialCapability` over the datasets they ran when they ran only some
(``Classification (partial: benv2)``: every backbone of the board, the published ones included, is
scored over those same datasets, so the entries compare with each other, not with a full
Classification score), and left out when they ran none. Without it every capability is scored
over all its datasets and a backbone that lacks one is left empty (the official computation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from geobench.capabilities import Capability, load_capability, official_capabilities
from geobench.errors import ConfigError

PARTIAL_NAMED = 3  # a partial capability's label names up to this many datasets, else counts them


@dataclass(frozen=True)
class PartialCapability(Capability):
    """A capability scored over only some of its datasets (those the inputs ran)."""

    of: str = ""  # the whole capability's key
    of_display_name: str = ""
    all_datasets: tuple[str, ...] = ()  # the whole capability's datasets


def partial_label(display_name: str, covered: Sequence[str], total: int) -> str:
    """``Classification (partial: benv2)``; ``Core (partial: 5 of 12 datasets)`` when long."""
    if len(covered) <= PARTIAL_NAMED:
        return f"{display_name} (partial: {' + '.join(covered)})"
    return f"{display_name} (partial: {len(covered)} of {total} datasets)"


def partial_of(cap: Capability, covered: Sequence[str]) -> PartialCapability:
    """``cap`` restricted to ``covered`` (in the capability's dataset order)."""
    keep = tuple(d for d in cap.datasets if d in set(covered))
    return PartialCapability(
        name=f"{cap.name}_partial", display_name=partial_label(cap.display_name, keep,
                                                               len(cap.datasets)),
        datasets=keep, synthetic=cap.synthetic, of=cap.name, of_display_name=cap.display_name,
        all_datasets=tuple(cap.datasets))


def resolve(names: Iterable[str | Capability] | None) -> list[Capability]:
    """Capability objects for names (``conf/capability/NAME.yaml``); ``None``: the official nine.

    Raises:
        UnknownNameError: a name without a capability file. ConfigError: none, or one twice.
    """
    if names is None:
        return official_capabilities()
    caps = [c if isinstance(c, Capability) else load_capability(str(c).strip()) for c in names]
    if not caps:
        raise ConfigError("no capability to score: name at least one (conf/capability/*.yaml)")
    seen = [c.name for c in caps]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise ConfigError(f"capability {dupes[0]!r} is named twice")
    return caps


def select(names: Iterable[str | Capability] | None, *, partial: bool,
           datasets: Iterable[str]) -> list[Capability]:
    """The capabilities to score. ``partial``: each one over the ``datasets`` (those the inputs
    ran) that it has; whole when it has them all, partial when some, left out when none.

    Raises:
        ConfigError: as :func:`resolve`, or with ``partial`` no capability has a dataset that ran.
    """
    caps = resolve(names)
    if not partial:
        return caps
    ran = set(datasets)
    out: list[Capability] = []
    for cap in caps:
        covered = [d for d in cap.datasets if d in ran]
        if len(covered) == len(cap.datasets):
            out.append(cap)
        elif covered:
            out.append(partial_of(cap, covered))
    if not out:
        raise ConfigError(f"none of the capabilities {', '.join(c.name for c in caps)} has a "
                          f"dataset the inputs ran ({', '.join(sorted(ran)) or 'none'})")
    return out


def describe(cap: Capability) -> dict[str, object]:
    """A capability as ``capability_datasets.json`` lists it: ``name``, ``display_name``,
    ``datasets``, and, only where they apply, ``synthetic: true`` and ``partial: {of,
    display_name, datasets}`` (the whole capability)."""
    out: dict[str, object] = {"name": cap.name, "display_name": cap.display_name,
                              "datasets": list(cap.datasets)}
    if cap.synthetic:
        out["synthetic"] = True
    if isinstance(cap, PartialCapability):
        out["partial"] = {"of": cap.of, "display_name": cap.of_display_name,
                          "datasets": list(cap.all_datasets)}
    return out
