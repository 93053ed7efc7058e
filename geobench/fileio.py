"""Crash-safe file writes: a file is either its complete new content or untouched.

Every writer of geobench goes through :func:`atomic_output` (or the text/bytes shortcuts): the
content goes to a hidden temporary file beside the target (``.<name>.<random>.tmp``), is flushed
and fsynced, then renamed over the target in one step. On any error (or interrupt) the temporary
file is removed and the target keeps its old content.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str | Path, *, mode: int = 0o644, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed to ``path``.

    Args:
        path: the final file.
        mode: permission bits of the final file (temporary files are created 0600).
        suffix: extra suffix before ``.tmp`` (e.g. ``.h5`` for libraries that check extensions).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix + TMP_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically. Returns ``path``."""
    with atomic_output(path, mode=mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, mode: int = 0o644) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically. Returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)
