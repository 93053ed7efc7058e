"""geobench.fileio: a target is its old content or its complete new content, never half-written,
and no temporary file outlives a failed (or interrupted) write."""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from geobench import fileio
from geobench.errors import DiskFullError, GeoBenchError, UnwritableError
from geobench.fileio import (
    atomic_directory,
    atomic_output,
    atomic_outputs,
    atomic_write_bytes,
    atomic_write_text,
)

INTERRUPTS = [ValueError("boom"), KeyboardInterrupt()]


def _leftovers(folder: Path) -> list[Path]:
    """Hidden temporary files or staging folders left in ``folder``."""
    return sorted(folder.glob(".*.tmp"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------------------------------------
# atomic_output


@pytest.mark.parametrize("exc", INTERRUPTS, ids=["ValueError", "KeyboardInterrupt"])
def test_error_in_block_keeps_old_content_and_removes_temp(tmp_path: Path, exc: BaseException) -> None:
    target = tmp_path / "data.json"
    target.write_text("old")
    with pytest.raises(type(exc)), atomic_output(target) as tmp:
        tmp.write_text("new, half written")
        raise exc
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []
    assert sorted(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("exc", INTERRUPTS, ids=["ValueError", "KeyboardInterrupt"])
def test_error_in_block_creates_no_target(tmp_path: Path, exc: BaseException) -> None:
    target = tmp_path / "sub" / "new.bin"
    with pytest.raises(type(exc)), atomic_output(target) as tmp:
        tmp.write_bytes(b"x" * 1000)
        raise exc
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_temp_file_is_hidden_beside_target_and_found_by_sweepers(tmp_path: Path) -> None:
    results = tmp_path / "run" / "results"  # the sweep runner removes results/.*.tmp of killed writers
    target = results / "abc.json"
    with atomic_output(target, suffix=".h5") as tmp:
        assert tmp.parent == results
        assert re.fullmatch(r"\.abc\.json\.[^/]+\.h5\.tmp", tmp.name)
        assert _mode(tmp) == 0o600  # not readable by others while incomplete
        assert list(results.glob(".*.tmp")) == [tmp]
        tmp.write_text("{}")
    assert target.read_text() == "{}" and list(results.glob(".*.tmp")) == []


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o640, 0o664])
def test_final_file_has_requested_mode_whatever_the_umask(tmp_path: Path, mode: int) -> None:
    old = os.umask(0o077)
    try:
        a = atomic_write_text(tmp_path / "a.txt", "text", mode=mode)
        b = atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01", mode=mode)
        c = atomic_write_text(tmp_path / "c.txt", "default")
    finally:
        os.umask(old)
    assert (_mode(a), _mode(b), _mode(c)) == (mode, mode, 0o644)
    assert a.read_text() == "text" and b.read_bytes() == b"\x00\x01"


def test_replaces_existing_file_and_writes_utf8(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    assert atomic_write_text(target, "naïve — ünïcode") == target
    assert target.read_bytes() == "naïve — ünïcode".encode()


def test_readers_only_ever_see_old_or_new_content(tmp_path: Path) -> None:
    """A writer replaces a large file again and again in slow chunks while a reader polls it: every
    read is one complete version, never a prefix or a mix."""
    size, chunk = 2 << 20, 64 << 10
    versions = [bytes([65 + i]) * size for i in range(6)]  # AAAA..., BBBB..., ...
    target = tmp_path / "big.bin"
    atomic_write_bytes(target, versions[0])
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for data in versions[1:]:
                with atomic_output(target) as tmp, open(tmp, "wb") as fh:
                    for i in range(0, size, chunk):
                        fh.write(data[i:i + chunk])
                        fh.flush()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    seen: set[bytes] = set()
    reads = 0
    t = threading.Thread(target=writer)
    t.start()
    try:
        while not done.is_set() or reads == 0:
            data = target.read_bytes()  # the target always exists
            reads += 1
            assert len(data) == size, f"read {len(data)} bytes: a half-written file"
            assert data in versions, "read a mix of versions"
            seen.add(data[:1])
    finally:
        t.join()
    assert not errors
    assert target.read_bytes() == versions[-1]
    assert reads > 0 and seen <= {v[:1] for v in versions}
    assert _leftovers(tmp_path) == []


def test_unwritable_error_naming_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error path, runnable as root: the folder refuses new files (EACCES)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / ".x.json.abc123.tmp"))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(fileio.tempfile, "mkdtemp", refuse)
    target = tmp_path / "x.json"
    with pytest.raises(UnwritableError) as ei:
        atomic_write_text(target, "{}")
    msg = str(ei.value)
    assert msg.startswith(f"cannot write {target}: its folder {tmp_path} is not writable (Permission denied)")
    assert "abc123" not in msg  # names the target, not a random temporary name
    assert isinstance(ei.value, PermissionError) and ei.value.errno == 13
    with pytest.raises(UnwritableError, match="cannot write .*/d: its folder"):
        with atomic_directory(tmp_path / "d"):
            pass  # pragma: no cover
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------
# atomic_outputs: several files, all or nothing


def test_outputs_all_written_with_mode(tmp_path: Path) -> None:
    targets = [tmp_path / "train.h5", tmp_path / "test.h5", tmp_path / "sub" / "stats.json"]
    with atomic_outputs(targets, mode=0o640) as temps:
        assert [t.parent for t in temps] == [t.parent for t in targets]
        assert all(re.fullmatch(rf"\.{re.escape(g.name)}\.[^/]+\.tmp", t.name) for t, g in zip(temps, targets, strict=True))
        for i, t in enumerate(temps):
            t.write_text(str(i))
        assert not any(g.exists() for g in targets)  # nothing is replaced before the block ends
    assert [g.read_text() for g in targets] == ["0", "1", "2"]
    assert all(_mode(g) == 0o640 for g in targets)
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "sub") == []


@pytest.mark.parametrize("exc", INTERRUPTS, ids=["ValueError", "KeyboardInterrupt"])
def test_outputs_error_replaces_nothing(tmp_path: Path, exc: BaseException) -> None:
    targets = [tmp_path / f"{s}.h5" for s in ("train", "validation", "test")]
    for g in targets:
        g.write_text(f"old {g.name}")
    with pytest.raises(type(exc)), atomic_outputs(targets) as temps:
        temps[0].write_text("new train")
        temps[1].write_text("new validation")
        raise exc  # the last split fails
    assert [g.read_text() for g in targets] == [f"old {g.name}" for g in targets]
    assert _leftovers(tmp_path) == []


def test_outputs_failing_to_create_a_temp_removes_the_others(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    targets = [tmp_path / "a.json", tmp_path / "file" / "b.json"]
    with pytest.raises(OSError):
        with atomic_outputs(targets):
            pass  # pragma: no cover
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_outputs_reject_a_repeated_target(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="named twice"):
        with atomic_outputs([tmp_path / "a", tmp_path / "." / "a"]):
            pass  # pragma: no cover
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------
# atomic_directory: a new folder, all or nothing


def test_directory_staged_under_its_own_name_then_renamed(tmp_path: Path) -> None:
    target = tmp_path / "subs" / "my-id"
    with atomic_directory(target) as folder:
        assert folder.name == "my-id" and folder != target
        assert re.fullmatch(r"\.my-id\.[^/]+\.tmp", folder.parent.name)
        assert folder.parent.parent == target.parent
        (folder / "results.csv").write_text("a,b\n")
        (folder / "nested").mkdir()
        (folder / "nested" / "x.json").write_text("{}")
        assert not target.exists()
    assert (target / "results.csv").read_text() == "a,b\n"
    assert (target / "nested" / "x.json").read_text() == "{}"
    assert _mode(target) == 0o755
    assert _leftovers(target.parent) == []


@pytest.mark.parametrize("exc", INTERRUPTS, ids=["ValueError", "KeyboardInterrupt"])
def test_directory_error_leaves_nothing(tmp_path: Path, exc: BaseException) -> None:
    target = tmp_path / "sub"
    with pytest.raises(type(exc)), atomic_directory(target) as folder:
        (folder / "results.csv").write_text("partial")
        raise exc
    assert list(tmp_path.iterdir()) == []


def test_directory_never_replaces_an_existing_folder(tmp_path: Path) -> None:
    target = tmp_path / "sub"
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_directory(target) as folder:
            (folder / "new.txt").write_text("new")
            target.mkdir()  # appeared while the folder was being written
            (target / "theirs.txt").write_text("theirs")
    assert sorted(p.name for p in target.iterdir()) == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_sweeper_glob_matches_every_temporary_name() -> None:
    """geobench.sweep.runner removes ``results/.*.tmp``: the names fileio makes must match it."""
    with tempfile.TemporaryDirectory() as d:
        results = Path(d)
        with atomic_output(results / "r1.json") as one, atomic_outputs([results / "r2.json"]) as two, \
                atomic_directory(results / "r3") as three:
            assert set(results.glob(".*.tmp")) == {one, two[0], three.parent}


# ------------------------------------------------------------------------------------------------
# temporary files name their writer; stale ones of dead writers are swept


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: os.kill(pid, 0) now fails
    return proc.pid


def test_temp_names_carry_the_writers_pid_and_host(tmp_path: Path) -> None:
    me = f"{os.getpid()}-{fileio.host_tag()}"
    with atomic_output(tmp_path / "abc.json", suffix=".h5") as one, atomic_directory(tmp_path / "d") as d:
        assert re.fullmatch(rf"\.abc\.json\.{me}\.[a-z0-9_]{{8}}\.h5\.tmp", one.name)
        assert re.fullmatch(rf"\.d\.{me}\.[a-z0-9_]{{8}}\.tmp", d.parent.name)
        assert fileio.temp_writer(one.name) == fileio.temp_writer(d.parent.name) == (os.getpid(), fileio.host_tag())
    assert fileio.temp_writer(".abc.json.k2j3h4g5.tmp") is None  # an older geobench's: writer unknown
    assert fileio.temp_writer("abc.json") is None


def test_sweep_removes_dead_writers_temps_only(tmp_path: Path) -> None:
    here, dead = fileio.host_tag(), _dead_pid()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        stale_file = tmp_path / f".train.h5.{dead}-{here}.abcd1234.tmp"
        stale_dir = tmp_path / f".sub.{dead}-{here}.abcd1234.tmp"
        (stale_dir / "sub").mkdir(parents=True)
        (stale_dir / "sub" / "x.csv").write_text("partial")
        kept = [tmp_path / f".a.json.{alive.pid}-{here}.abcd1234.tmp",  # a live writer
                tmp_path / f".b.json.{os.getpid()}-{here}.abcd1234.tmp",  # this process
                tmp_path / f".c.json.{dead}-{'0' * 6 if here != '000000' else '111111'}.abcd1234.tmp",  # other host
                tmp_path / ".d.json.abcd1234.tmp",  # no pid in the name
                tmp_path / "train.h5", tmp_path / ".hidden"]
        for p in [stale_file, *kept]:
            p.write_text("x")
        assert sorted(fileio.sweep_stale_temps(tmp_path)) == sorted([stale_file, stale_dir])
        assert all(p.exists() for p in kept) and not stale_file.exists() and not stale_dir.exists()
    finally:
        alive.kill()
        alive.wait()
    assert fileio.sweep_stale_temps(tmp_path / "missing") == []


def test_pid_alive() -> None:
    assert fileio.pid_alive(os.getpid()) and fileio.pid_alive(1)
    assert not fileio.pid_alive(_dead_pid()) and not fileio.pid_alive(0)


# ------------------------------------------------------------------------------------------------
# a full disk: one DiskFullError, nothing replaced, no temporary file


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_in_atomic_output_is_one_error(tmp_path: Path) -> None:
    target = tmp_path / "stats.json"
    target.write_text("old")
    with pytest.raises(DiskFullError) as ei, atomic_output(target) as tmp:
        tmp.write_text("new, half")
        raise _enospc()
    assert str(ei.value).startswith(f"cannot write {target}: the disk holding {tmp_path} is full "
                                    "(No space left on device, ")
    assert ei.value.errno == errno.ENOSPC and isinstance(ei.value, OSError) and isinstance(ei.value, GeoBenchError)
    assert isinstance(ei.value.__cause__, OSError)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_full_disk_in_atomic_outputs_and_directory(tmp_path: Path) -> None:
    targets = [tmp_path / "train.h5", tmp_path / "test.h5"]
    with pytest.raises(DiskFullError, match=r"cannot write .*train\.h5 \(and 1 more\): the disk holding"):
        with atomic_outputs(targets) as temps:
            temps[0].write_text("x")
            raise OSError(None, "Can't write data (file write failed: errno = 28, error message = "
                          "'No space left on device')")  # as HDF5 words it: no errno attribute
    with pytest.raises(DiskFullError, match=r"cannot write .*/sub: the disk holding"):
        with atomic_directory(tmp_path / "sub") as folder:
            (folder / "a").write_text("x")
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
    assert list(tmp_path.iterdir()) == []


def test_guarded_file_records_the_first_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library writing through the guard never sees the failure; the caller gets it on exit."""
    calls = []

    def full(self: fileio.WriteGuard, view: memoryview) -> None:
        calls.append(len(view))
        raise _enospc()

    with fileio.guarded_file(tmp_path / "ok.bin") as fh:
        assert fh.write(b"abc") == 3
    assert (tmp_path / "ok.bin").read_bytes() == b"abc"
    monkeypatch.setattr(fileio.WriteGuard, "_write_all", full)
    with pytest.raises(OSError) as ei, fileio.guarded_file(tmp_path / "x.bin") as fh:
        assert fh.write(b"abcd") == 4 and fh.write(memoryview(b"ef")) == 2  # reported as written
        assert fh.truncate(10) == 10
    assert ei.value.errno == errno.ENOSPC and calls == [4]  # only the first write was tried
    with pytest.raises(OSError) as ei, fileio.guarded_file(tmp_path / "y.bin") as fh:
        fh.write(b"abcd")
        raise ValueError("what the failed write led to")
    assert ei.value.errno == errno.ENOSPC and isinstance(ei.value.__cause__, ValueError)


def test_atomic_directory_replaces_a_folder_all_or_nothing(tmp_path: Path) -> None:
    from geobench.fileio import atomic_directory

    target = tmp_path / "board"
    target.mkdir()
    (target / "old.html").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target, replace=True) as staged:
        (staged / "new.html").write_text("new")
        raise RuntimeError("killed while writing")
    assert sorted(p.name for p in target.iterdir()) == ["old.html"]  # the old folder, untouched
    with atomic_directory(target, replace=True) as staged:
        (staged / "new.html").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board"]  # no staging or old copy left
