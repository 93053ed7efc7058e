"""Download from a local fake hub: checksums, lock file, resume, offline errors (never the network)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from geobench import paths
from geobench.download import LOCK_FILE, HuggingFaceHub, LocalHub, download_dataset, main
from geobench.errors import ChecksumError, DownloadError
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
    out[0].write_bytes(b"damaged")
    download_dataset(m, tmp_path / "d", hub=hub)
    assert out[0].read_bytes() == b"payload"
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
