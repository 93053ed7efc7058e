"""Read the official GEO-Bench-2-Leaderboard repository's layout from a folder.

Accepted layouts (the repository itself, or a copy of its result folders)::

    PATH/results/<uuid>/results_and_parameters.csv + additional_info.json
    PATH/<uuid>/results_and_parameters.csv + additional_info.json

with the model names in ``PATH/model_info.json`` or ``PATH/utils/model_info.json`` and the frozen
normalizer in ``PATH/normalizer.json`` or ``PATH/utils/normalizer/leaderboard_combined/
normalizer.json`` (both optional).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from geobench.errors import ResultsError

RESULTS_CSV = "results_and_parameters.csv"
INFO_JSON = "additional_info.json"
SOURCE_REPO = "The-AI-Alliance/GEO-Bench-2-Leaderboard"
SOURCE_LICENSE = "Apache-2.0"
MODEL_INFO_PLACES = ("model_info.json", "utils/model_info.json")
NORMALIZER_PLACES = ("normalizer.json", "utils/normalizer/leaderboard_combined/normalizer.json")


@dataclass(frozen=True)
class OfficialLayout:
    root: Path
    submissions: list[Path]  # result folders, sorted by name
    model_info: Path | None
    normalizer: Path | None
    commit: str | None  # short commit when PATH is a git checkout


def _first(root: Path, places: tuple[str, ...]) -> Path | None:
    return next((root / p for p in places if (root / p).is_file()), None)


def _git_commit(root: Path) -> str | None:
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=7", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def find_layout(path: str | Path) -> OfficialLayout:
    """Locate the submissions, model info and normalizer of an official leaderboard folder.

    Raises:
        ResultsError: the folder does not exist or holds no result folder; a result folder lacks
            ``additional_info.json``.
    """
    root = Path(path)
    if not root.is_dir():
        raise ResultsError(f"{root}: not a folder; pass a checkout of {SOURCE_REPO} (or a folder "
                           f"of its results/<uuid>/ folders)")
    base = root / "results" if (root / "results").is_dir() else root
    subs = sorted(p for p in base.iterdir() if p.is_dir() and (p / RESULTS_CSV).is_file())
    if not subs:
        raise ResultsError(f"{root}: no result folders found (expected results/<uuid>/{RESULTS_CSV} "
                           f"or <uuid>/{RESULTS_CSV})")
    for sub in subs:
        if not (sub / INFO_JSON).is_file():
            raise ResultsError(f"{sub}: {RESULTS_CSV} without {INFO_JSON}; an official submission "
                               "has both files")
    return OfficialLayout(root, subs, _first(root, MODEL_INFO_PLACES),
                          _first(root, NORMALIZER_PLACES), _git_commit(root))


def attribution(layout: OfficialLayout, commit: str | None) -> str:
    commit = (commit or layout.commit or "").strip()
    if re.fullmatch(r"[0-9a-fA-F]{7,40}", commit):
        commit = commit[:7].lower()  # the short form, whichever form was given
    commit = commit or "unknown commit"
    return (f"Published results from {SOURCE_REPO} (commit {commit}, {SOURCE_LICENSE}); "
            "capability scores recomputed by geobench.")
