"""What the pages say about partial and synthetic capabilities (escaped HTML fragments).

A *partial* capability is scored over only the datasets the inputs ran (``Classification
(partial: benv2)``); every model on the board is scored over those same datasets, so its scores
compare with each other, not with the full capability. A *synthetic* one (Smoke) is scored on
data that geobench generates, which the published models never ran.
"""

from __future__ import annotations

from collections.abc import Sequence

from geobench.capabilities import Capability
from geobench.leaderboard.reader import CapabilityScope
from geobench.leaderboard.render import esc


def partial_item(cap: Capability, scope: CapabilityScope) -> str:
    """One partial capability: which datasets it covers and which of the whole one it lacks."""
    whole = scope.of_display_name or scope.of
    lacking = [d for d in scope.all_datasets if d not in cap.datasets]
    return (f"<strong>{esc(cap.display_name)}</strong> is a partial score: {esc(whole)} over "
            f"{esc(', '.join(cap.datasets))} only, {len(cap.datasets)} of its "
            f"{len(scope.all_datasets)} datasets (not run: {esc(', '.join(lacking))}). Every model "
            f"here is scored over the same datasets, so these scores compare with each other, "
            f"not with a full {esc(whole)} score.")


def synthetic_item(cap: Capability) -> str:
    return (f"<strong>{esc(cap.display_name)}</strong> is scored on synthetic data that geobench "
            f"generates ({esc(', '.join(cap.datasets))}): the published GEO-Bench-2 models have "
            "no results on it, so this leaderboard shows only the runs given as inputs, no "
            "published model.")


def scope_items(caps: Sequence[Capability], scopes: dict[str, CapabilityScope]) -> list[str]:
    """The notes of every partial or synthetic capability, in column order."""
    items = []
    for cap in caps:
        scope = scopes.get(cap.name, CapabilityScope())
        if scope.synthetic:
            items.append(synthetic_item(cap))
        if scope.partial:
            items.append(partial_item(cap, scope))
    return items


def column_title(cap: Capability, scope: CapabilityScope | None) -> str:
    """The overview column's tooltip (plain text; the table escapes it)."""
    if scope is not None and scope.partial:
        return (f"{scope.of_display_name or scope.of} over {', '.join(cap.datasets)} only "
                f"(partial: {len(cap.datasets)} of {len(scope.all_datasets)} datasets): "
                "normalized IQM ×100")
    return f"{cap.display_name}: normalized IQM ×100"
