"""Were these rows made under the published protocol? (``geobench2``, every setting unchanged)

``--protocol NAME`` of ``geobench.submit``/``geobench.validate`` accepts the rows of another
named protocol instead (``smoke``: a trial run of the whole submission path); the default, and
what the CI workflow checks, is ``geobench2``.

Every results row records the protocol preset's name and ``protocol_hash``, the hash of every
resolved setting of its (model, dataset) (:class:`geobench.protocol.DatasetSettings`). A row is
official when its protocol is ``geobench2`` and its hash equals the hash the ``geobench2`` preset
gives the same model and dataset. Where the run's resolved settings are at hand (the run
directory's ``protocol/<dataset>.json``, or ``geobench.json``'s ``protocol.settings``), the
message names each setting that differs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from geobench.config import OFFICIAL_PROTOCOL


@functools.lru_cache(maxsize=4096)
def official_hash(dataset: str, backbone: str) -> str:
    from geobench.protocol import official_settings

    return official_settings(dataset, backbone).hash()


@functools.lru_cache(maxsize=4096)
def _official_payload(dataset: str, backbone: str) -> str:
    from geobench.protocol import official_settings

    return json.dumps(official_settings(dataset, backbone).payload(), sort_keys=True)


def differing_settings(dataset: str, backbone: str, settings: Mapping[str, Any]) -> list[str]:
    """``name=value (geobench2: value)`` for each setting of ``settings`` that the ``geobench2``
    preset sets otherwise for (``backbone``, ``dataset``)."""
    official = json.loads(_official_payload(dataset, backbone))
    return [f"{k}={settings.get(k)!r} (geobench2: {v!r})" for k, v in official.items()
            if k != "protocol" and settings.get(k) != v]


def row_problem(row: Mapping[str, Any], settings: Mapping[str, Any] | None = None,
                accepted: str = OFFICIAL_PROTOCOL) -> str | None:
    """Why ``row`` is not an official ``geobench2`` row, or None when it is.

    ``accepted``: another protocol's name (``--protocol smoke``, a trial run) accepts the rows
    made under that protocol, whatever their settings (their ``protocol_hash`` and the
    submission's settings still say exactly what ran); the leaderboard takes ``geobench2`` only.
    """
    protocol, dataset, backbone = row.get("protocol"), str(row.get("dataset")), str(row.get("backbone"))
    if accepted != OFFICIAL_PROTOCOL:
        if protocol == accepted:
            return None
        return (f"{backbone} on {dataset} was run under protocol {protocol!r}, not {accepted!r} "
                f"(the protocol accepted by --protocol {accepted})")
    if protocol != OFFICIAL_PROTOCOL:
        return (f"{backbone} on {dataset} was run under protocol {protocol!r}, not {OFFICIAL_PROTOCOL!r}; "
                f"rerun it with protocol={OFFICIAL_PROTOCOL} (--protocol {protocol} accepts it for a "
                "trial run, which the leaderboard does not take)")
    from geobench.manifest import DATASETS

    if dataset not in DATASETS:
        return None  # another check reports the unknown dataset
    expected = official_hash(dataset, backbone)
    if row.get("protocol_hash") == expected:
        return None
    detail = ""
    if settings:
        diff = differing_settings(dataset, backbone, settings)
        detail = f": {'; '.join(diff)}" if diff else ""
    return (f"{backbone} on {dataset}: settings differ from the {OFFICIAL_PROTOCOL} preset of this geobench "
            f"(protocol_hash {row.get('protocol_hash')!r}, expected {expected!r}){detail}; rerun with "
            f"protocol={OFFICIAL_PROTOCOL} and no protocol overrides")


def run_settings(run_dirs: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """protocol_hash -> resolved settings, from the run directories' ``protocol/*.json``."""
    out: dict[str, dict[str, Any]] = {}
    for d in run_dirs:
        for path in sorted((Path(d) / "protocol").glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                out[str(data["protocol_hash"])] = dict(data["settings"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return out


def protocol_problems(rows: Iterable[Mapping[str, Any]],
                      settings_by_hash: Mapping[str, Mapping[str, Any]],
                      accepted: str = OFFICIAL_PROTOCOL) -> list[str]:
    """One message per (backbone, dataset) whose rows are not official ``geobench2`` rows (or,
    with ``accepted``, not rows of that protocol: see :func:`row_problem`)."""
    problems: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (str(row.get("backbone")), str(row.get("dataset")))
        if key in problems:
            continue
        msg = row_problem(row, settings_by_hash.get(str(row.get("protocol_hash"))), accepted)
        if msg:
            problems[key] = msg
    return [problems[k] for k in sorted(problems)]
