"""Build a leaderboard folder from submissions: aggregate per fine-tuning mode, render, swap in.

The output is a pure function of the inputs and options (fixed seeds, stable ordering, no
timestamps), so a rebuild without input changes writes identical files. It is built in a temporary
folder beside the target and renamed into place; an existing target is replaced only if it is a
leaderboard this module wrote (it has ``leaderboard.json``) or an empty folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobench.errors import ConfigError, ResultsError
from geobench.leaderboard.boards import (
    CapabilityPlotData,
    capability_plot_data,
    input_hash,
    make_board,
    short_submission,
    split_by_mode,
    submission_anchors,
)
from geobench.leaderboard.models import ModelCatalog
from geobench.leaderboard.pages import Site, render_site
from geobench.leaderboard.render import esc
from geobench.leaderboard.tables import ordered

if TYPE_CHECKING:
    from geobench.aggregate.inputs import Submission

MANIFEST = "leaderboard.json"
GENERATOR = "geobench.leaderboard"


@dataclass(frozen=True)
class BuildResult:
    out: Path
    files: int
    bytes: int
    boards: list[tuple[str, int]]  # (mode value, rows)


def _intro(mode: str, reps: int, normalizer_label: str) -> str:
    if mode == "official":
        how = (f"GEO-Bench-2-compatible computation: per capability the mean over {reps:,} "
               "stratified resamples of the IQM of normalized scores, ± its standard error "
               "(the published leaderboard's algorithm).")
    else:
        how = (f"Capability score: the IQM of all normalized (dataset, seed) scores of the "
               f"capability's datasets; brackets: 95% stratified-bootstrap confidence interval "
               f"({reps:,} resamples, seeds resampled within each dataset).")
    return (f'<p class="lead">{esc(how)} Scores are shown ×100; per dataset a score is normalized '
            f"as (v − min) / (max − min) with the {esc(normalizer_label)} normalizer.</p>")


def _normalizer_label(normalizer: Any, override: str | None) -> str:
    """``name (version)`` of the normalizer; ``override`` replaces the name."""
    name = override or getattr(normalizer, "name", "") or "official GEO-Bench-2"
    version = getattr(normalizer, "version", "")
    return f"{name} ({version})" if version else name


def _official_capabilities() -> list[Any]:
    from geobench.capabilities import official_capabilities

    return official_capabilities()


def _dataset_order(submissions: Sequence[Submission]) -> list[str]:
    from geobench.manifest import DATASETS

    seen = set()
    for sub in submissions:
        seen |= set(sub.rows["dataset"].astype(str))
    return [d for d in DATASETS if d in seen] + sorted(seen - set(DATASETS))


def build_files(submissions: Sequence[Submission], *, title: str, mode: str = "default",
                reps: int = 10_000, normalizer: str | Path | None = None,
                catalog: ModelCatalog | None = None, attribution: str = "",
                normalizer_name: str | None = None) -> dict[str, str]:
    """Every file of the leaderboard (relative path -> text), computed in memory.

    Raises:
        ConfigError: bad mode or reps, or no inputs.
        ResultsError: an input's rows cannot be aggregated (from :mod:`geobench.aggregate`).
    """
    from geobench.aggregate.core import aggregate
    from geobench.aggregate.normalize import load_normalizer

    if mode not in ("default", "official"):
        raise ConfigError(f"--mode {mode!r}: use default or official")
    if reps < 1:
        raise ConfigError(f"--reps {reps}: must be a positive number of resamples")
    if not submissions:
        raise ConfigError("no inputs: pass run directories, submission folders or official result folders")
    names = [s.name for s in submissions]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ResultsError(f"two inputs have the same submission name {dupes[0]!r}; each input "
                           "must be a separate submission")
    catalog = catalog or ModelCatalog()
    norm = load_normalizer(normalizer)
    caps = _official_capabilities()
    anchors = submission_anchors(names)
    boards: list[Any] = []
    keys: set[str] = set()
    for value, part in split_by_mode(submissions).items():
        result = aggregate(part, mode=mode, reps=reps, normalizer=norm)
        board = make_board(value, part, result, catalog, keys)
        board.anchors = anchors
        recs = board.capability_records
        for cap in caps:
            if cap.display_name not in result.capabilities.columns:
                continue
            values = {k: r.get(cap.display_name) for k, r in recs.items()}
            order = [e.label for e in ordered(board.entries, values)]
            board.plots[cap.name] = (capability_plot_data(board, cap.datasets, order, reps)
                                     if len(board.entries) > 1 else
                                     CapabilityPlotData([], {}, None, None, None, None))
        boards.append(board)
    hashes = {s.name: input_hash(s) for s in submissions}
    inputs = ", ".join(f"{esc(short_submission(s.name))} (sha256 {hashes[s.name][:12]})"
                       for s in submissions)
    footer = (f"Generated by geobench.leaderboard from {len(submissions)} input(s): {inputs}; "
              f"mode {esc(mode)}, {reps:,} resamples.")
    if attribution:
        footer += f"<br>{esc(attribution)}"
    site = Site(brand=title, boards=boards, capabilities=caps,
                datasets=_dataset_order(submissions), footer=footer,
                intro=_intro(mode, reps, _normalizer_label(norm, normalizer_name)),
                attribution=esc(attribution), hashes=hashes, anchors=anchors)
    files = render_site(site, [(s.name, dict(s.info)) for s in submissions])
    manifest = {
        "generator": GENERATOR,
        "title": title,
        "mode": mode,
        "reps": reps,
        "normalizer": _normalizer_label(norm, normalizer_name),
        "attribution": attribution,
        "inputs": [{"submission": s.name, "sha256": hashes[s.name], "rows": len(s.rows)}
                   for s in submissions],
        "leaderboards": [{"frozen_or_full_ft": b.value, "folder": b.key, "rows": len(b.entries)}
                         for b in boards],
        "files": {p: hashlib.sha256(t.encode("utf-8")).hexdigest() for p, t in sorted(files.items())},
    }
    files[MANIFEST] = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    return files


def _check_replaceable(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return
    try:
        generator = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("generator")
    except (OSError, ValueError, AttributeError):
        generator = None
    if generator != GENERATOR:
        raise ConfigError(f"{out} is not empty and is not a leaderboard written by geobench "
                          f"(no {MANIFEST}); refusing to replace it. Choose another --out.")


def write_tree(files: dict[str, str], out: str | Path) -> None:
    """Write ``files`` under a temporary folder beside ``out``, then swap it in for ``out``."""
    out = Path(out)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    old = None
    try:
        for rel, text in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
        for d in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
            d.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, old / "x")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "x").exists() and not out.exists():
            os.replace(old / "x", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def build(submissions: Sequence[Submission], out: str | Path, **options: Any) -> BuildResult:
    """Build the leaderboard of ``submissions`` into ``out`` (see :func:`build_files`)."""
    files = build_files(submissions, **options)
    write_tree(files, out)
    manifest = json.loads(files[MANIFEST])
    return BuildResult(Path(out), len(files), sum(len(t.encode("utf-8")) for t in files.values()),
                       [(b["frozen_or_full_ft"], b["rows"]) for b in manifest["leaderboards"]])
