"""Crash-safe file writes: a file is either its complete new content or untouched.

Every writer of geobench goes through :func:`atomic_output` (or the text/bytes shortcuts): the
content goes to a hidden temporary file beside the target (``.<name>.<random>.tmp``), is flushed
and fsynced, then renamed over the target in one step. On any error (or interrupt) the temporary
file is removed and the target keeps its old content.

Two variants share that contract: :func:`atomic_outputs` for several files that must appear
together (no target is replaced before every temporary file is complete), and
:func:`atomic_directory` for a whole new folder, staged as ``.<name>.<random>.tmp/<name>/`` and
renamed into place once complete. A folder that is not writable raises one
:class:`~geobench.errors.UnwritableError` (a ``PermissionError``) that names the target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from geobench.errors import UnwritableError

TMP_SUFFIX = ".tmp"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unwritable(exc: OSError) -> bool:
    return isinstance(exc, PermissionError) or exc.errno == errno.EROFS


def _unwritable_error(target: Path, exc: OSError) -> UnwritableError:
    err = UnwritableError(f"cannot write {target}: its folder {target.parent} is not writable "
                          f"({exc.strerror or exc}); make it writable or write somewhere else")
    err.errno = exc.errno
    return err


def _prepare_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if _unwritable(exc):
            raise _unwritable_error(target, exc) from None
        raise


def _temp_file(target: Path, suffix: str) -> Path:
    """A new empty hidden ``.<name>.<random><suffix>.tmp`` beside ``target`` (mode 0600)."""
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix + TMP_SUFFIX)
    except OSError as exc:
        if _unwritable(exc):
            raise _unwritable_error(target, exc) from None
        raise
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_output(path: str | Path, *, mode: int = 0o644, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed to ``path``.

    Args:
        path: the final file.
        mode: permission bits of the final file (temporary files are created 0600).
        suffix: extra suffix before ``.tmp`` (e.g. ``.h5`` for libraries that check extensions).

    Raises:
        UnwritableError: the folder of ``path`` cannot be written (nothing is written).
    """
    target = Path(path)
    _prepare_parent(target)
    tmp = _temp_file(target, suffix)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_outputs(paths: Iterable[str | Path], *, mode: int = 0o644, suffix: str = "") -> Iterator[list[Path]]:
    """Several files, all or nothing: yield one temporary path per target (same order).

    Only when the block succeeds are the temporary files fsynced and then renamed over their
    targets, one after the other; an error (or interrupt) in the block removes every temporary file
    and replaces no target. Each file is replaced atomically; the set of renames is not a single
    step (a crash between two renames can leave old and new files side by side).

    Raises:
        ValueError: the same target twice.
        UnwritableError: a target's folder cannot be written (nothing is written).
    """
    targets = [Path(p) for p in paths]
    if len({os.path.abspath(t) for t in targets}) != len(targets):
        raise ValueError(f"atomic_outputs: a target is named twice in {[str(t) for t in targets]}")
    temps: list[Path] = []
    try:
        for target in targets:
            _prepare_parent(target)
            temps.append(_temp_file(target, suffix))
        yield list(temps)
        for tmp in temps:
            _fsync(tmp)
            os.chmod(tmp, mode)
        for tmp, target in zip(temps, targets, strict=True):
            os.replace(tmp, target)
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, mode: int = 0o755) -> Iterator[Path]:
    """A new folder, all or nothing: yield an empty folder to fill; on success it becomes ``path``.

    The yielded folder has the final name (``.<name>.<random>.tmp/<name>/`` beside ``path``), so
    checks that look at the folder's name see the real one. On success every file and folder in it
    is fsynced and it is renamed to ``path``; on any error (or interrupt) the staging folder is
    removed. ``path`` must not exist: the folder never replaces an existing one.

    Raises:
        FileExistsError: ``path`` exists when the block ends (the staged folder is discarded).
        UnwritableError: the folder of ``path`` cannot be written (nothing is written).
    """
    target = Path(path)
    _prepare_parent(target)
    try:
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=TMP_SUFFIX))
    except OSError as exc:
        if _unwritable(exc):
            raise _unwritable_error(target, exc) from None
        raise
    try:
        folder = staging / target.name
        folder.mkdir()
        os.chmod(folder, mode)
        yield folder
        for p in sorted(folder.rglob("*"), reverse=True):  # files before the folders holding them
            if not p.is_symlink() and (p.is_file() or p.is_dir()):
                _fsync(p)
        _fsync(folder)
        if target.exists() or target.is_symlink():
            raise FileExistsError(errno.EEXIST, "already exists; the new folder was not moved there",
                                  str(target))
        os.rename(folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically. Returns ``path``."""
    with atomic_output(path, mode=mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, mode: int = 0o644) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically. Returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)
