"""Download from a local fake hub: checksums, lock file, resume, offline errors (never the network)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from geobench import paths
from geobench.download import LOCK_FILE, HuggingFaceHub, LocalHub, download_dataset, main
from geobench.errors import ChecksumError, DownloadError
from geobench.integrity import CACHE_FILE
from geobench.manifest import Hub, HubFile, load_manifest


def _fake(tmp_path: Path, payloads: dict[str, bytes], pinned: bool, sidecar: bool = True):
    m = load_manifest("caffe")
    hub_root = tmp_path / "hub"
    files = []
    for name, data in payloads.items():
        p = hub_root / m.hub.repo / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if sidecar:
            (p.parent / (name + ".sha256")).write_text(digest + "\n")
        files.append(HubFile(name=name, sha256=digest if pinned else None, size=len(data)))
    m = dataclasses.replace(m, hub=Hub(repo=m.hub.repo, files=tuple(files)))
    return m, LocalHub(hub_root), hub_root


def test_download_verifies_and_skips(tmp_path: Path) -> None:
    m, hub, _ = _fake(tmp_path, {"a.0000.part.tortilla": b"A" * 1000, "a.0001.part.tortilla": b"B" * 10}, pinned=True)
    out = download_dataset(m, tmp_path / "d", hub=hub)
    assert [p.read_bytes() for p in out] == [b"A" * 1000, b"B" * 10]
    mt = [p.stat().st_mtime_ns for p in out]
    download_dataset(m, tmp_path / "d", hub=hub)  # verified, not fetched again
    assert [p.stat().st_mtime_ns for p in out] == mt


def test_lock_file_recorded_then_enforced(tmp_path: Path) -> None:
    m, hub, hub_root = _fake(tmp_path, {"x.tortilla": b"payload"}, pinned=False)
    out = download_dataset(m, tmp_path / "d", hub=hub)
    raw = paths.raw_dir(tmp_path / "d", "caffe")
    lock = json.loads((raw / LOCK_FILE).read_text())
    assert lock["sha256"] == {"x.tortilla": hashlib.sha256(b"payload").hexdigest()}
    # the local copy is damaged: the lock file's checksum catches it and the file is fetched again
    # (the damaged copy is kept beside it, never deleted)
    out[0].write_bytes(b"damaged")
    download_dataset(m, tmp_path / "d", hub=hub)
    assert out[0].read_bytes() == b"payload"
    aside = raw / f"x.tortilla.mismatch-{hashlib.sha256(b'damaged').hexdigest()[:12]}"
    assert aside.read_bytes() == b"damaged"
    # the hub now serves other bytes under the same name: the lock file refuses them
    (hub_root / m.hub.repo / "x.tortilla").write_bytes(b"tampered")
    (hub_root / m.hub.repo / "x.tortilla.sha256").unlink()
    out[0].unlink()
    with pytest.raises(ChecksumError, match="x.tortilla"):
        download_dataset(m, tmp_path / "d", hub=hub)
    assert not out[0].exists()


def test_resume_partial_download(tmp_path: Path) -> None:
    data = bytes(range(256)) * 100
    m, hub, _ = _fake(tmp_path, {"r.tortilla": data}, pinned=True)
    raw = paths.raw_dir(tmp_path / "d", "caffe")
    raw.mkdir(parents=True)
    (raw / "r.tortilla.download.part").write_bytes(data[:5000])  # an interrupted earlier download
    out = download_dataset(m, tmp_path / "d", hub=hub)
    assert out[0].read_bytes() == data
    assert not list(raw.glob("*.part"))


def test_missing_on_hub_names_repo(tmp_path: Path) -> None:
    m, hub, hub_root = _fake(tmp_path, {"y.tortilla": b"1"}, pinned=True)
    (hub_root / m.hub.repo / "y.tortilla").unlink()
    with pytest.raises(DownloadError, match=r"aialliance/caffe.*raw/<dataset>"):
        download_dataset(m, tmp_path / "d", hub=hub)


def test_offline_huggingface_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the hub unreachable (offline mode), one clear error naming the repo and the manual way."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True, raising=False)
    with pytest.raises(DownloadError, match=r"aialliance/caffe.*raw/<dataset>"):
        HuggingFaceHub().info("aialliance/caffe", "geobench_caffe.tortilla", "main")


def test_cli_synthetic_capability_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capability=smoke", f"data_root={tmp_path}"]) == 2
    assert "synthetic" in capsys.readouterr().err
    assert main(["datset=benv2"]) == 2
    assert "Did you mean 'dataset'" in capsys.readouterr().err
    assert main(["dataset=benv2", "hub=ftp://x"]) == 2


# --- never destroy a file in place ----------------------------------------------------------


def _names(raw: Path) -> list[str]:
    """The files in ``raw`` but the digest cache."""
    return sorted(p.name for p in raw.iterdir() if p.name != CACHE_FILE)


def _hand_placed(tmp_path: Path, m, data: bytes = b"my own copy") -> Path:
    raw = paths.raw_dir(tmp_path / "d", "caffe")
    raw.mkdir(parents=True, exist_ok=True)
    own = raw / m.hub.files[0].name
    own.write_bytes(data)
    return own


def test_hand_placed_file_is_kept_beside_the_verified_download(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    m, hub, _ = _fake(tmp_path, {"z.tortilla": b"official"}, pinned=True)
    own = _hand_placed(tmp_path, m)
    mine, official = hashlib.sha256(b"my own copy").hexdigest(), hashlib.sha256(b"official").hexdigest()
    download_dataset(m, tmp_path / "d", hub=hub)
    aside = own.with_name(f"z.tortilla.mismatch-{mine[:12]}")
    assert own.read_bytes() == b"official" and aside.read_bytes() == b"my own copy"
    err = capsys.readouterr().err
    assert (f"{own}: the manifest's sha256 (datasets_manifest/caffe.yaml) {official} differs from your "
            f"file's {mine}; your file stays in place until a verified copy is downloaded") in err
    assert f"{own}: your file (sha256 {mine}, which differs from the manifest's sha256" in err
    assert f"is kept as {aside}; the verified download is in its place" in err
    assert _names(own.parent) == sorted([own.name, aside.name])


def test_hand_placed_file_survives_an_unreachable_hub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m, hub, hub_root = _fake(tmp_path, {"z.tortilla": b"official"}, pinned=True)
    own = _hand_placed(tmp_path, m)
    shutil.rmtree(hub_root)  # the hub is gone
    with pytest.raises(DownloadError, match=rf"aialliance/caffe.*; your file {own} was left as it was$"):
        download_dataset(m, tmp_path / "d", hub=hub)
    assert own.read_bytes() == b"my own copy" and _names(own.parent) == [own.name]
    assert "differs from your file's" in capsys.readouterr().err


def test_corrupted_download_is_named_so_and_replaces_nothing(tmp_path: Path) -> None:
    m, hub, hub_root = _fake(tmp_path, {"z.tortilla": b"official"}, pinned=True)
    (hub_root / m.hub.repo / "z.tortilla").write_bytes(b"officiaL")  # damaged in transfer
    own = _hand_placed(tmp_path, m)
    with pytest.raises(ChecksumError) as ei:
        download_dataset(m, tmp_path / "d", hub=hub)
    msg = str(ei.value)
    assert msg.startswith(f"{own}: the downloaded file's sha256 {hashlib.sha256(b'officiaL').hexdigest()} "
                          f"does not match the expected {hashlib.sha256(b'official').hexdigest()}: "
                          "the download was corrupted (nothing was replaced)")
    assert msg.endswith(f"; your file {own} was left as it was")
    assert own.read_bytes() == b"my own copy" and _names(own.parent) == [own.name]
