"""Raw files' sha256: hashing (once, cached), the download lock file, and prepare's verification.

Where a raw file's expected sha256 comes from, in order: ``datasets_manifest/<ds>.yaml``
(``hub.files[].sha256``) and ``raw/<ds>/geobench.lock.json`` (what ``geobench.download`` verified
into this data root; a file matching either is accepted). Files that ``geobench.synthetic`` wrote
(listed with their sha256 in ``raw/<ds>/SYNTHETIC.json``) are exempt. Each file is hashed once:
the digest is cached in ``raw/<ds>/geobench.sha256-cache.json`` keyed by name, size, mtime and inode.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geobench.errors import ChecksumError
from geobench.fileio import atomic_write_text
from geobench.manifest import DatasetManifest

LOCK_FILE = "geobench.lock.json"
CACHE_FILE = "geobench.sha256-cache.json"
MARKER = "SYNTHETIC.json"
CHUNK = 8 << 20
# A digest of a file modified this recently is not cached: the file may still change within the
# file system's timestamp resolution without its mtime changing (the "racy" case of git's index).
RACY_NS = 2_000_000_000
_warned: set[tuple[str, str]] = set()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def read_lock(raw: Path) -> dict[str, str]:
    """``{file name: sha256}`` of ``raw/geobench.lock.json`` ({} when there is none)."""
    lock = raw / LOCK_FILE
    if not lock.exists():
        return {}
    try:
        return dict(json.loads(lock.read_text())["sha256"])
    except (ValueError, KeyError, TypeError):
        raise ChecksumError(f"{lock}: unreadable lock file; delete it to record the hub's checksums again") from None


def write_lock(raw: Path, repo: str, sums: dict[str, str]) -> None:
    atomic_write_text(raw / LOCK_FILE, json.dumps({"repo": repo, "sha256": sums}, indent=1, sort_keys=True))


def _key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ino]


class DigestCache:
    """The sha256 of the files of one folder, keyed by ``(name, size, mtime_ns, inode)``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CACHE_FILE
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        try:
            data = json.loads(self.path.read_text())
            self.entries = {k: v for k, v in data["files"].items() if isinstance(v, dict)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.entries = {}  # none yet, or unreadable: hash again

    def digest(self, path: Path) -> str:
        st = path.stat()
        hit = self.entries.get(path.name)
        if hit is not None and hit.get("key") == _key(st) and isinstance(hit.get("sha256"), str):
            return str(hit["sha256"])
        digest = sha256_file(path)
        if path.stat().st_mtime_ns == st.st_mtime_ns and time.time_ns() - st.st_mtime_ns > RACY_NS:
            self.record(path, digest, st)
        return digest

    def record(self, path: Path, digest: str, st: os.stat_result | None = None) -> None:
        """Remember ``digest`` for ``path`` as it is now (e.g. a file just written from known bytes)."""
        self.entries[path.name] = {"key": _key(st or path.stat()), "sha256": digest}
        self.dirty = True

    def save(self) -> None:
        """Write the cache (atomically); a read-only or full folder just keeps no cache."""
        if not self.dirty:
            return
        live = {k: v for k, v in self.entries.items() if (self.path.parent / k).exists()}
        try:
            atomic_write_text(self.path, json.dumps({"files": live}, indent=1, sort_keys=True))
            self.dirty = False
        except OSError:
            pass


def synthetic_digests(raw: Path) -> dict[str, str | None]:
    """``{file name: sha256}`` of the files geobench.synthetic wrote into ``raw`` (None: a marker
    of an older geobench, which recorded names only); {} when ``raw`` holds no synthetic set."""
    try:
        data = json.loads((raw / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    sums = data.get("sha256")
    if isinstance(sums, dict):
        return {str(k): str(v) for k, v in sums.items()}
    return {str(n): None for n in data.get("files", []) if isinstance(n, str)}


def _warn(path: Path, digest: str, text: str) -> None:
    if (str(path), digest) not in _warned:
        _warned.add((str(path), digest))
        print(f"warning: {path}: {text}", file=sys.stderr)


def _mismatch(path: Path, digest: str, expected: dict[str, str], dataset: str) -> str:
    where = " or ".join(f"{h} ({src})" for src, h in expected.items())
    root = path.parent.parent.parent
    return (f"{path}: sha256 {digest} does not match the expected {where}: the file is damaged or "
            f"not the official one. Download it again with `python -m geobench.download "
            f"dataset={dataset} data_root={root}`, or prepare it anyway with verify=false "
            "(recorded in the prepared files)")


def check_raw_files(files: Sequence[Path], manifest: DatasetManifest, *, dataset: str,
                    verify: bool = True) -> list[dict[str, Any]]:
    """Hash every raw file (cached) and check it against the manifest or the lock file.

    Returns one entry per file: ``name``, ``size``, ``sha256`` and ``check`` (``manifest``,
    ``lock``, ``synthetic``, ``unknown``: no expected hash, a warning is printed, or
    ``mismatch (verify=false)``).

    Raises:
        ChecksumError: a file's sha256 differs from the expected one and ``verify`` is true; one
            error naming the file, both hashes and what to do.
    """
    if not files:
        return []
    raw = files[0].parent
    pinned = {f.name: f.sha256 for f in manifest.hub.files if f.sha256}
    lock, synthetic, cache = read_lock(raw), synthetic_digests(raw), DigestCache(raw)
    out: list[dict[str, Any]] = []
    try:
        for path in files:
            digest = cache.digest(path)
            expected = {src: sums[path.name] for src, sums in
                        ((f"datasets_manifest/{manifest.name}.yaml", pinned), (f"{raw / LOCK_FILE}", lock))
                        if path.name in sums}
            if path.name in synthetic and synthetic[path.name] in (None, digest):
                check = "synthetic"
            elif digest in expected.values():
                check = "manifest" if pinned.get(path.name) == digest else "lock"
            elif expected and verify:
                raise ChecksumError(_mismatch(path, digest, expected, dataset))
            elif expected:
                check = "mismatch (verify=false)"
                _warn(path, digest, f"sha256 {digest} differs from the expected "
                      f"{' or '.join(expected.values())}; prepared anyway (verify=false, recorded)")
            else:
                check = "unknown"
                _warn(path, digest, f"no known sha256 (not in datasets_manifest/{manifest.name}.yaml "
                      f"nor {LOCK_FILE}); its sha256 {digest} is recorded in the prepared files")
            out.append({"name": path.name, "size": path.stat().st_size, "sha256": digest, "check": check})
    finally:
        cache.save()
    return out
