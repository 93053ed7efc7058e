"""Crash-safe file writes: a file is either its complete new content or untouched.

Every writer of geobench goes through :func:`atomic_output` (or the text/bytes shortcuts): the
content goes to a hidden temporary file beside the target (``.<name>.<pid>-<host>.<random>.tmp``:
the writer's process id and a short tag of its host name), is flushed and fsynced, then renamed
over the target in one step. On any error (or interrupt) the temporary file is removed and the
target keeps its old content. A writer killed outright (SIGKILL, power loss) leaves its temporary
file behind: :func:`sweep_stale_temps` removes those whose writer is gone (same host, process id
no longer alive) and never touches a live writer's.

Two variants share that contract: :func:`atomic_outputs` for several files that must appear
together (no target is replaced before every temporary file is complete), and
:func:`atomic_directory` for a whole new folder, staged as ``.<name>.<random>.tmp/<name>/`` and
renamed into place once complete. A folder that is not writable raises one
:class:`~geobench.errors.UnwritableError` (a ``PermissionError``) that names the target; a full
disk (``ENOSPC``/``EDQUOT`` inside the block) raises one :class:`~geobench.errors.DiskFullError`
after the temporary files are removed. :func:`guarded_file` opens a file for libraries (HDF5) that
must not see a failing write (HDF5 2.0 crashes when it closes a file whose writes failed).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from geobench.errors import DiskFullError, GeoBenchError, UnwritableError

TMP_SUFFIX = ".tmp"
# .<target name>.<pid>-<host tag>.<8 random chars of mkstemp><suffix>.tmp
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{6})\.[a-z0-9_]{8}(?P<suffix>[^/]*)\.tmp$")


def host_tag() -> str:
    """Six hex digits naming this host in temporary file names (a data root may be shared)."""
    return hashlib.sha1(socket.gethostname().encode("utf-8")).hexdigest()[:6]


def _writer_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}-{host_tag()}."


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file or staging folder of geobench (``.*.tmp``)."""
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def temp_writer(name: str) -> tuple[int, str] | None:
    """The ``(pid, host tag)`` of the process writing temporary file ``name``, or None when the
    name is not one of geobench's (or predates process ids in temporary names)."""
    m = _TEMP_NAME.match(name)
    return (int(m["pid"]), m["host"]) if m else None


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (``os.kill(pid, 0)``; another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary files (and staging folders) in ``folder`` whose writer is gone.

    Only names made by this module are considered, and only those of this host whose process id
    is no longer alive; a live writer's file, another host's, and anything else are kept. Errors
    (a read-only or vanished folder) are ignored. Returns the removed paths.
    """
    folder, here, removed = Path(folder), host_tag(), []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for p in entries:
        writer = temp_writer(p.name)
        if writer is None or writer[1] != here or writer[0] == os.getpid() or pid_alive(writer[0]):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            continue
        removed.append(p)
    return removed


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


def is_disk_full(exc: BaseException) -> bool:
    """An ``ENOSPC``/``EDQUOT`` error (HDF5 puts the errno in its message too)."""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, units = n / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while value >= 1024 and len(units) > 1:
        value, units = value / 1024, units[1:]
    return f"{value:.1f} {units[0]}"


def _disk_full_error(targets: list[Path], exc: OSError) -> DiskFullError:
    folder = targets[0].parent
    try:
        free = f"{_size(shutil.disk_usage(folder).free)} free"
    except OSError:
        free = "free space unknown"
    names = str(targets[0]) + (f" (and {len(targets) - 1} more)" if len(targets) > 1 else "")
    err = DiskFullError(f"cannot write {names}: the disk holding {folder} is full "
                        f"(No space left on device, {free}); nothing was replaced and no "
                        "temporary file was left. Free some space there, or write somewhere else "
                        "(another data_root)")
    err.errno = exc.errno if exc.errno in (errno.ENOSPC, errno.EDQUOT) else errno.ENOSPC
    return err


def _reraise(targets: list[Path], exc: BaseException) -> None:
    """Turn a full disk into one :class:`DiskFullError` (the temporary files are gone already)."""
    if is_disk_full(exc) and not isinstance(exc, GeoBenchError):
        raise _disk_full_error(targets, exc) from exc  # type: ignore[arg-type]


def _prepare_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if _unwritable(exc):
            raise _unwritable_error(target, exc) from None
        raise


def _temp_file(target: Path, suffix: str) -> Path:
    """A new empty hidden ``.<name>.<pid>-<host>.<random><suffix>.tmp`` beside ``target`` (0600)."""
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=_writer_prefix(target), suffix=suffix + TMP_SUFFIX)
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
        DiskFullError: the disk filled up (the temporary file is removed, ``path`` untouched).
    """
    target = Path(path)
    _prepare_parent(target)
    tmp = _temp_file(target, suffix)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        _reraise([target], exc)
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
        DiskFullError: the disk filled up (every temporary file removed, no target replaced).
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
    except BaseException as exc:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        _reraise(targets, exc)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, mode: int = 0o755, replace: bool = False) -> Iterator[Path]:
    """A new folder, all or nothing: yield an empty folder to fill; on success it becomes ``path``.

    The yielded folder has the final name (``.<name>.<pid>-<host>.<random>.tmp/<name>/``), so
    checks that look at the folder's name see the real one. On success every file and folder in it
    is fsynced and it is renamed to ``path``; on any error (or interrupt) the staging folder is
    removed. ``path`` must not exist, unless ``replace``: then an existing folder is moved aside
    and swapped for the new one in two renames (put back if the second fails) and deleted.

    Raises:
        FileExistsError: ``path`` exists when the block ends (the staged folder is discarded).
        UnwritableError: the folder of ``path`` cannot be written (nothing is written).
    """
    target = Path(path)
    _prepare_parent(target)
    try:
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=_writer_prefix(target), suffix=TMP_SUFFIX))
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
        if replace and target.is_dir() and not target.is_symlink():
            aside = staging / f"{target.name}.old"
            os.rename(target, aside)
            try:
                os.rename(folder, target)
            except BaseException:
                os.rename(aside, target)
                raise
            return
        if target.exists() or target.is_symlink():
            raise FileExistsError(errno.EEXIST, "already exists; the new folder was not moved there",
                                  str(target))
        os.rename(folder, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        _reraise([target], exc)
        raise
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


class WriteGuard(io.FileIO):
    """A binary file whose failed writes are recorded instead of raised.

    For libraries that cannot survive a failing write: HDF5 2.0 segfaults when it frees a file
    whose write failed (ENOSPC). After the first failure every further write and truncate is
    skipped (reported as done), so the library closes cleanly; :meth:`check` (and
    :func:`guarded_file` on exit) raises the recorded error. The content is then garbage: the
    caller must discard the file (``atomic_output`` does).
    """

    error: OSError | None = None

    def _write_all(self, view: memoryview) -> None:
        done = 0
        while done < len(view):
            n = super().write(view[done:])
            if not n:
                raise OSError(errno.EIO, "write made no progress", self.name)
            done += n

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                self._write_all(view)
            except OSError as exc:
                self.error = exc
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return super().truncate(size)
            except OSError as exc:
                self.error = exc
        return self.tell() if size is None else size

    def check(self) -> None:
        """Raise the first write error, if any."""
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def guarded_file(path: str | Path) -> Iterator[WriteGuard]:
    """Open ``path`` for reading and writing (truncated) as a :class:`WriteGuard`; on exit it is
    closed and its first write error, if any, is raised (``ENOSPC`` stays an ``OSError`` with
    that errno, which :func:`atomic_output` turns into a :class:`DiskFullError`)."""
    fh = WriteGuard(str(path), "w+")
    try:
        yield fh
    except Exception as exc:
        fh.close()
        if fh.error is not None and exc is not fh.error:
            raise fh.error from exc  # the cause (a full disk), not what it led to
        raise
    finally:
        fh.close()
    fh.check()
