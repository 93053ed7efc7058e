"""Faults on the data path, each with its exact outcome: raw files that are not what the manifest
says (sha256), undecodable samples, a kill during a synthetic write, temporary files of dead
writers, a full disk and a read-only output folder."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import rasterio

from geobench import fileio, integrity, paths
from geobench.datasets.base import get_adapter
from geobench.errors import (
    ChecksumError,
    CorruptFileError,
    DiskFullError,
    GeoBenchError,
    UnwritableError,
)
from geobench.fileio import host_tag
from geobench.integrity import CACHE_FILE, LOCK_FILE, read_lock, write_lock
from geobench.manifest import load_manifest
from geobench.prepare import main as prepare_main
from geobench.prepare import prepare_dataset
from geobench.synthetic import MARKER, write_synthetic
from geobench.tortilla.reader import Tortilla
from tests.test_prepare import _stage_fixture

REPO = Path(__file__).resolve().parents[1]
SMALL = {"train": 2, "validation": 1, "test": 1}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source(root: Path, ds: str) -> dict:
    with h5py.File(paths.prepared_file(root, ds, "train"), "r") as h5:
        return json.loads(h5.attrs["source"])


def _no_outputs(root: Path, ds: str) -> bool:
    d = paths.prepared_dir(root, ds)
    return not d.exists() or not any(d.iterdir())


def _flip(path: Path, offset: int, n: int = 1) -> None:
    data = bytearray(path.read_bytes())
    for k in range(n):
        data[offset + k] ^= 0xFF
    path.write_bytes(bytes(data))


def _relock(path: Path) -> None:
    """Record the file's current sha256 in the lock file (a damaged file that was 'verified')."""
    sums = read_lock(path.parent)
    sums[path.name] = _sha(path)
    write_lock(path.parent, "aialliance/x", sums)


def _caffe_pixel_offset(src: Path) -> int:
    """Offset in the file of the first tile of the first training sample's image (zstd data)."""
    t = Tortilla(src)
    a = t.asset(t.split("train")[0], "img")
    with rasterio.open(a.vsi_path()) as ds:
        return a.offset + int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))


def _error_lines(err: str) -> list[str]:
    """The lines of ``err`` that are errors (progress bars redraw their line with \\r)."""
    return [line for line in re.split(r"[\r\n]", err) if line.startswith("error:")]


# --- 1. integrity: sha256 of every raw file ---------------------------------------------------

def test_mismatching_raw_file_is_refused_with_one_error(fixtures_dir: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    src = _stage_fixture(fixtures_dir, "caffe", tmp_path)
    expected = read_lock(src.parent)[src.name]
    _flip(src, _caffe_pixel_offset(src) + 2000)  # a flipped bit that still decodes (wrong values)
    actual = _sha(src)
    with pytest.raises(ChecksumError) as ei:
        prepare_dataset("caffe", tmp_path, progress=False)
    msg = str(ei.value)
    assert msg.startswith(f"{src}: sha256 {actual} does not match the expected ")
    assert expected in msg and load_manifest("caffe").hub.files[0].sha256 in msg
    assert f"`python -m geobench.download dataset=caffe data_root={tmp_path}`" in msg and "verify=false" in msg
    assert _no_outputs(tmp_path, "caffe")
    capsys.readouterr()
    assert prepare_main(["dataset=caffe", f"data_root={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {src}: sha256 {actual}") and "Traceback" not in err


def test_verify_false_prepares_anyway_and_records_it(fixtures_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    src = _stage_fixture(fixtures_dir, "caffe", tmp_path)
    _flip(src, _caffe_pixel_offset(src) + 2000)
    capsys.readouterr()
    assert prepare_main(["dataset=caffe", f"data_root={tmp_path}", "verify=false", "workers=1"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {src}: sha256 {_sha(src)} differs from the expected "
                        f"{load_manifest('caffe').hub.files[0].sha256} or {read_lock(src.parent)[src.name]}; "
                        "prepared anyway (verify=false, recorded)"]
    assert _source(tmp_path, "caffe")["files"] == [
        {"name": src.name, "size": src.stat().st_size, "sha256": _sha(src), "check": "mismatch (verify=false)"}]
    with pytest.raises(ChecksumError, match="does not match"):  # verify=true refuses it again
        prepare_dataset("caffe", tmp_path, progress=False)


def test_lock_and_manifest_hashes_verify_and_go_into_source(fixtures_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    src = _stage_fixture(fixtures_dir, "caffe", tmp_path)
    prepare_dataset("caffe", tmp_path, progress=False)
    files = _source(tmp_path, "caffe")["files"]
    assert files == [{"name": src.name, "size": src.stat().st_size, "sha256": _sha(src), "check": "lock"}]
    # the manifest's own sha256 (here: one pinned to the fixture) verifies without a lock file
    (src.parent / LOCK_FILE).unlink()
    adapter = get_adapter("caffe")
    hub = adapter.manifest.hub
    adapter.manifest = dataclasses.replace(adapter.manifest, hub=dataclasses.replace(
        hub, files=(dataclasses.replace(hub.files[0], sha256=_sha(src)),)))
    monkeypatch.setattr("geobench.prepare.get_adapter", lambda name: adapter)
    prepare_dataset("caffe", tmp_path, progress=False)
    assert _source(tmp_path, "caffe")["files"][0]["check"] == "manifest"


def test_file_without_known_hash_warns_once_and_is_recorded(fixtures_dir: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    raw = paths.raw_dir(tmp_path, "caffe")
    raw.mkdir(parents=True)
    own = raw / "my_caffe_copy.tortilla"  # not a hub file name: nothing to check it against
    shutil.copyfile(fixtures_dir / "caffe.tortilla", own)
    prepare_dataset("caffe", tmp_path, progress=False)
    assert capsys.readouterr().err == (
        f"warning: {own}: no known sha256 (not in datasets_manifest/caffe.yaml nor {LOCK_FILE}); "
        f"its sha256 {_sha(own)} is recorded in the prepared files\n")
    assert _source(tmp_path, "caffe")["files"] == [
        {"name": own.name, "size": own.stat().st_size, "sha256": _sha(own), "check": "unknown"}]


def test_each_file_is_hashed_once(fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _stage_fixture(fixtures_dir, "caffe", tmp_path)
    old = src.stat().st_mtime_ns - 10**10
    os.utime(src, ns=(old, old))  # older than the "racy" window: its digest may be cached
    hashed: list[str] = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    outs = prepare_dataset("caffe", tmp_path, progress=False)
    mtimes = [o.stat().st_mtime_ns for o in outs]
    prepare_dataset("caffe", tmp_path, progress=False)  # up to date: the cached digest is used
    assert hashed == [src.name] and [o.stat().st_mtime_ns for o in outs] == mtimes
    cache = json.loads((src.parent / CACHE_FILE).read_text())["files"][src.name]
    st = src.stat()
    assert cache == {"key": [st.st_size, st.st_mtime_ns, st.st_ino], "sha256": _sha(src)}
    os.utime(src, ns=(old + 1, old + 1))  # touched: hashed again, same content, still up to date
    prepare_dataset("caffe", tmp_path, progress=False)
    assert hashed == [src.name, src.name] and [o.stat().st_mtime_ns for o in outs] == mtimes


def test_synthetic_files_are_exempt_but_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_synthetic("so2sat", tmp_path, samples=SMALL, image_size=8)
    prepare_dataset("so2sat", tmp_path, progress=False)
    assert "warning" not in capsys.readouterr().err
    marker = json.loads((files[0].parent / MARKER).read_text())
    assert marker["sha256"] == {f.name: _sha(f) for f in files}
    assert _source(tmp_path, "so2sat")["files"] == [
        {"name": f.name, "size": f.stat().st_size, "sha256": _sha(f), "check": "synthetic"} for f in files]
    _flip(files[0], 300)  # no longer the file geobench wrote: checked against the manifest
    with pytest.raises(ChecksumError, match=rf"{files[0].name}: sha256 {_sha(files[0])} does not match"):
        prepare_dataset("so2sat", tmp_path, progress=False)


# --- 2. undecodable samples: one error naming file, sample and asset -------------------------

def test_hdf5_filter_failure_is_one_error(fixtures_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    src = _stage_fixture(fixtures_dir, "pastis", tmp_path)
    t = Tortilla(src)
    sample = t.split("train")[0]
    a = t.asset(sample, "s2")
    with h5py.File(io.BytesIO(t.read_bytes(a)), "r") as f:
        chunk = f["data"].id.get_chunk_info(0)
    _flip(src, a.offset + chunk.byte_offset + chunk.size // 2)  # inside gzip-compressed pixels
    _relock(src)  # the sha256 check passes: the decoder is what fails
    with pytest.raises(CorruptFileError) as ei:
        prepare_dataset("pastis", tmp_path, progress=False, workers=2)
    msg = str(ei.value)
    assert msg.startswith(f"{src}: sample {sample.id!r} (asset 's2'): cannot decode it (OSError: ")
    assert "filter returned failure" in msg and "\n" not in msg
    assert _no_outputs(tmp_path, "pastis")
    capsys.readouterr()
    assert prepare_main(["dataset=pastis", f"data_root={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert _error_lines(err) == [f"error: {msg}"] and "Traceback" not in err


def test_geotiff_decode_failure_is_one_error(fixtures_dir: Path, tmp_path: Path) -> None:
    src = _stage_fixture(fixtures_dir, "caffe", tmp_path)
    _flip(src, _caffe_pixel_offset(src), 4)  # the tile's zstd frame header
    _relock(src)
    sample = Tortilla(src).split("train")[0]
    with pytest.raises(CorruptFileError) as ei:
        prepare_dataset("caffe", tmp_path, progress=False)
    msg = str(ei.value)
    assert msg.startswith(f"{src}: sample {sample.id!r} (asset 'img'): GDAL cannot decode it (RasterioIOError: ")
    assert "IReadBlock failed" in msg and "\n" not in msg
    assert _no_outputs(tmp_path, "caffe")


# --- 3. a kill during a multi-part synthetic write --------------------------------------------

KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from geobench.synthetic import write_synthetic
real, calls = os.replace, [0]
def replace(src, dst):
    calls[0] += 1
    if calls[0] == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
os.replace = replace
write_synthetic("pastis", {root!r}, seed=1, samples={samples!r}, image_size=8)
"""
PASTIS = {"train": 3, "validation": 2, "test": 2}


@pytest.mark.parametrize(("kill_at", "earlier_set"), [(1, True), (2, True), (3, True), (4, True), (3, False)],
                         ids=["before-renames", "after-marker", "after-part0", "after-part1", "fresh-after-part0"])
def test_killed_synthetic_write_is_replaced_by_the_next(tmp_path: Path, kill_at: int, earlier_set: bool) -> None:
    """SIGKILL at each rename of pastis's 3 parts + marker: the next write neither refuses the
    folder nor keeps a mix of old and new parts, and removes the dead writer's temporary files."""
    root, clean = tmp_path / "root", tmp_path / "clean"
    if earlier_set:
        write_synthetic("pastis", root, seed=0, samples=PASTIS, image_size=8)
    script = KILL_SCRIPT.format(repo=str(REPO), kill_at=kill_at, root=str(root), samples=PASTIS)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    raw = paths.raw_dir(root, "pastis")
    assert list(raw.glob(".*.tmp"))  # the killed writer's leftovers
    files = write_synthetic("pastis", root, seed=1, samples=PASTIS, image_size=8)
    expected = write_synthetic("pastis", clean, seed=1, samples=PASTIS, image_size=8)
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in expected]
    assert list(raw.glob(".*.tmp")) == []
    prepare_dataset("pastis", root, progress=False)


def test_refusal_ignores_temp_files_and_still_protects_real_files(fixtures_dir: Path, tmp_path: Path) -> None:
    raw = paths.raw_dir(tmp_path, "so2sat")
    raw.mkdir(parents=True)
    live = raw / f".geobench_so2sat.tortilla.{os.getpid()}-{host_tag()}.abcd1234.tmp"  # a live writer's
    live.write_bytes(b"partial")
    write_synthetic("so2sat", tmp_path, samples=SMALL, image_size=8)
    assert live.exists()
    real = raw / "real.tortilla"
    shutil.copyfile(fixtures_dir / "caffe.tortilla", real)  # not written by geobench.synthetic
    with pytest.raises(GeoBenchError, match=r"not geobench's synthetic ones \(real\.tortilla\); refusing"):
        write_synthetic("so2sat", tmp_path, seed=3, samples=SMALL, image_size=8)
    assert _sha(real) == _sha(fixtures_dir / "caffe.tortilla")


# --- 4. temporary files of dead writers --------------------------------------------------------

def test_prepare_sweeps_dead_writers_temps_only(tmp_path: Path) -> None:
    write_synthetic("so2sat", tmp_path, samples=SMALL, image_size=8)
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        out, raw = paths.prepared_dir(tmp_path, "so2sat"), paths.raw_dir(tmp_path, "so2sat")
        out.mkdir(parents=True)
        stale = [out / f".train.h5.{dead.pid}-{host_tag()}.abcd1234.tmp",
                 raw / f".{CACHE_FILE}.{dead.pid}-{host_tag()}.wxyz5678.tmp"]
        kept = [out / f".test.h5.{alive.pid}-{host_tag()}.abcd1234.tmp",  # a live writer
                out / f".test.h5.{dead.pid}-000000.abcd1234.tmp"]  # another host's writer
        for p in stale + kept:
            p.write_bytes(b"x")
        prepare_dataset("so2sat", tmp_path, progress=False)
        assert [p.exists() for p in stale + kept] == [False, False, True, True]
    finally:
        alive.kill()
        alive.wait()


# --- 5. full disk and read-only outputs --------------------------------------------------------

def _prepared_state(root: Path, ds: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(paths.prepared_dir(root, ds).iterdir())}


def _enospc_after(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    real, calls = fileio.WriteGuard._write_all, [0]

    def write_all(self: fileio.WriteGuard, view: memoryview) -> None:
        calls[0] += 1
        if calls[0] > n:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, view)

    monkeypatch.setattr(fileio.WriteGuard, "_write_all", write_all)


@pytest.mark.parametrize("where", ["hdf5", "stats.json"])
def test_full_disk_is_one_error_and_keeps_old_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], where: str) -> None:
    write_synthetic("so2sat", tmp_path, samples=SMALL, image_size=8)
    prepare_dataset("so2sat", tmp_path, progress=False)
    before = _prepared_state(tmp_path, "so2sat")
    if where == "hdf5":
        _enospc_after(monkeypatch, 3)
    else:
        real = Path.write_text

        def write_text(self: Path, *args: object, **kwargs: object) -> int:
            if self.name.startswith(".stats.json."):
                raise OSError(errno.ENOSPC, "No space left on device", str(self))
            return real(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "write_text", write_text)
    out = paths.prepared_dir(tmp_path, "so2sat")
    with pytest.raises(DiskFullError) as ei:
        prepare_dataset("so2sat", tmp_path, progress=False, force=True)
    assert str(ei.value).startswith(f"cannot write {out / 'train.h5'} (and 3 more): the disk holding {out} "
                                    "is full (No space left on device, ")
    assert ei.value.errno == errno.ENOSPC and isinstance(ei.value, OSError)
    assert _prepared_state(tmp_path, "so2sat") == before  # old outputs intact, no temporary file
    capsys.readouterr()
    assert prepare_main(["dataset=so2sat", f"data_root={tmp_path}", "force=true"]) == 2
    err = capsys.readouterr().err
    assert len(_error_lines(err)) == 1 and "is full" in err and "Traceback" not in err
    assert _prepared_state(tmp_path, "so2sat") == before


def test_read_only_output_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Root ignores directory permissions: every folder (raw's digest cache too) refuses new files."""
    write_synthetic("so2sat", tmp_path, samples=SMALL, image_size=8)

    def refuse(*args: object, dir: str = "", **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", dir)

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    assert prepare_main(["dataset=so2sat", f"data_root={tmp_path}"]) == 2
    err = capsys.readouterr().err
    out = paths.prepared_dir(tmp_path, "so2sat")
    assert err == (f"error: cannot write {out / 'train.h5'}: its folder {out} is not writable (Read-only file "
                   "system); make it writable or write somewhere else\n")
    with pytest.raises(UnwritableError):
        prepare_dataset("so2sat", tmp_path, progress=False)
    assert _no_outputs(tmp_path, "so2sat")


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("cannot mount a tmpfs here")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode(errors='replace').strip()})")


@pytest.mark.slow
def test_real_full_and_read_only_disks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 1 MiB tmpfs fills up under HDF5 (no segfault: HDF5 never sees the failed write), and a
    read-only tmpfs refuses the outputs, each with one error line."""
    mnt = tmp_path / "prepared"
    _mount_tmpfs(mnt, "size=1m")
    try:
        write_synthetic("so2sat", tmp_path, samples=SMALL, image_size=8)
        prepare_dataset("so2sat", tmp_path, progress=False)
        before = _prepared_state(tmp_path, "so2sat")
        write_synthetic("so2sat", tmp_path, samples={"train": 64, "validation": 8, "test": 8}, image_size=32)
        with pytest.raises(DiskFullError, match=r"the disk holding .*prepared/so2sat is full"):
            prepare_dataset("so2sat", tmp_path, progress=False)
        assert _prepared_state(tmp_path, "so2sat") == before
        capsys.readouterr()
        assert prepare_main(["dataset=so2sat", f"data_root={tmp_path}"]) == 2
        assert len(_error_lines(capsys.readouterr().err)) == 1
        assert _prepared_state(tmp_path, "so2sat") == before
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
    _mount_tmpfs(mnt, "ro,size=1m")
    try:
        assert prepare_main(["dataset=so2sat", f"data_root={tmp_path}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: cannot write ") and "Read-only file system" in err
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
