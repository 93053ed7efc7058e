"""Which submission folders a pull request adds or changes (for the validation workflow).

Compares two checkouts' ``submissions/`` folders on disk, without running anything from them and
without following symbolic links.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from geobench.submission.report import Problem


def _fingerprint(path: Path) -> str:
    """A digest of a file or folder tree: names, kinds, bytes, link targets (links not followed)."""
    h = hashlib.sha256()

    def add(p: Path, rel: str) -> None:
        try:
            mode = os.lstat(p).st_mode
        except OSError:
            h.update(f"missing:{rel}\n".encode())
            return
        if stat.S_ISLNK(mode):
            h.update(f"link:{rel}:{os.readlink(p)}\n".encode(errors="surrogateescape"))
        elif stat.S_ISDIR(mode):
            h.update(f"dir:{rel}\n".encode(errors="surrogateescape"))
            for name in sorted(os.listdir(p)):
                add(p / name, f"{rel}/{name}")
        elif stat.S_ISREG(mode):
            h.update(f"file:{rel}:".encode(errors="surrogateescape"))
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            h.update(b"\n")
        else:
            h.update(f"other:{rel}\n".encode(errors="surrogateescape"))

    add(path, ".")
    return h.hexdigest()


def _entries(root: Path) -> dict[str, int]:
    try:
        return {e.name: e.stat(follow_symlinks=False).st_mode for e in os.scandir(root)}
    except OSError:
        return {}


def changed_submissions(head_root: str | Path, base_root: str | Path) -> tuple[list[Path], list[Problem]]:
    """Submission folders under ``head_root`` that are new or differ from ``base_root``'s.

    Returns the folders to validate and problems about the rest of the change: a file placed
    directly in the submissions folder (an error) and removed submissions (warnings).
    """
    head_root, base_root = Path(head_root), Path(base_root)
    head, base = _entries(head_root), _entries(base_root)
    changed: list[Path] = []
    problems: list[Problem] = []
    for name in sorted(head):
        if name.startswith("."):
            continue
        p = head_root / name
        differs = name not in base or _fingerprint(p) != _fingerprint(base_root / name)
        if not differs:
            continue
        if stat.S_ISDIR(head[name]):
            changed.append(p)
        else:
            problems.append(Problem(str(p), None, "error", "put each submission in its own folder, "
                                    f"{head_root.name}/<submission id>/, holding its files"))
    for name in sorted(set(base) - set(head)):
        if not name.startswith("."):
            problems.append(Problem(str(head_root / name), None, "warning",
                                    "this pull request removes a submission"))
    return changed, problems
