"""``python -m geobench.download dataset=<ds>|capability=<cap> data_root=DIR``.

Fetches a dataset's official tortilla files from the Hugging Face hub (``aialliance/<ds>``) into
``DIR/raw/<ds>/``: resumable (partial downloads continue), with a progress bar, and sha256-verified
against the manifest; where the manifest has no sha256 yet, the hub's LFS sha256 is recorded in
``DIR/raw/<ds>/geobench.lock.json`` on first download and checked from then on. Files already
present and verified are skipped. Offline or unreachable: one error naming the repository and the
manual alternative (put the files in ``DIR/raw/<ds>/``).

``hub=file:///PATH`` reads from a local mirror laid out as ``PATH/<repo>/<file>`` (tests, air-gapped
clusters); the default is the Hugging Face hub (``HF_ENDPOINT`` is honoured).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from geobench import paths
from geobench.errors import ChecksumError, DownloadError
from geobench.fileio import atomic_output, atomic_write_text
from geobench.manifest import DatasetManifest, HubFile, load_manifest

LOCK_FILE = "geobench.lock.json"
CHUNK = 8 << 20


@dataclass(frozen=True)
class RemoteFile:
    size: int | None
    sha256: str | None


class Hub(Protocol):
    """Where official files come from."""

    def info(self, repo: str, filename: str, revision: str) -> RemoteFile: ...

    def fetch(self, repo: str, filename: str, revision: str, dest: Path) -> None:
        """Download to ``dest`` (resuming a partial download if the hub supports it)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class HuggingFaceHub:
    """The Hugging Face hub through ``huggingface_hub`` (resumable, progress bar)."""

    def _manual(self, repo: str) -> str:
        return (f"https://huggingface.co/datasets/{repo}; download the files by hand and put them in "
                "DATA_ROOT/raw/<dataset>/")

    def info(self, repo: str, filename: str, revision: str) -> RemoteFile:
        from huggingface_hub import HfApi

        try:
            entries = HfApi().get_paths_info(repo, [filename], revision=revision, repo_type="dataset")
        except Exception as exc:  # network, auth, offline mode: all end the same way for the user
            raise DownloadError(f"cannot reach the hub for {repo} ({type(exc).__name__}: {exc}); "
                                f"{self._manual(repo)}") from None
        if not entries:
            raise DownloadError(f"{repo}: no file {filename!r} at revision {revision}; {self._manual(repo)}")
        e = entries[0]
        lfs = getattr(e, "lfs", None)
        return RemoteFile(size=getattr(e, "size", None), sha256=getattr(lfs, "sha256", None) if lfs else None)

    def fetch(self, repo: str, filename: str, revision: str, dest: Path) -> None:
        from huggingface_hub import hf_hub_download

        try:
            got = hf_hub_download(repo, filename, repo_type="dataset", revision=revision,
                                  local_dir=dest.parent / ".hf")
        except Exception as exc:
            raise DownloadError(f"download of {repo}/{filename} failed ({type(exc).__name__}: {exc}); "
                                f"{self._manual(repo)}") from None
        os.replace(got, dest)


class LocalHub:
    """A local mirror ``ROOT/<repo>/<file>`` (tests and air-gapped sites). Resumes ``.part`` files."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _src(self, repo: str, filename: str) -> Path:
        src = self.root / repo / filename
        if not src.exists():
            raise DownloadError(f"{repo}: {filename!r} not found in the local hub {self.root}; "
                                "put the files in DATA_ROOT/raw/<dataset>/ by hand")
        return src

    def info(self, repo: str, filename: str, revision: str) -> RemoteFile:
        src = self._src(repo, filename)
        sidecar = src.with_name(src.name + ".sha256")
        return RemoteFile(size=src.stat().st_size,
                          sha256=sidecar.read_text().split()[0] if sidecar.exists() else None)

    def fetch(self, repo: str, filename: str, revision: str, dest: Path) -> None:
        from tqdm.auto import tqdm

        src = self._src(repo, filename)
        part = dest.with_name(dest.name + ".part")
        done = part.stat().st_size if part.exists() else 0
        total = src.stat().st_size
        with src.open("rb") as fi, part.open("ab") as fo, tqdm(total=total, initial=done, unit="B",
                                                               unit_scale=True, desc=filename, file=sys.stderr) as bar:
            fi.seek(done)
            while chunk := fi.read(CHUNK):
                fo.write(chunk)
                bar.update(len(chunk))
        os.replace(part, dest)


def make_hub(spec: str | None) -> Hub:
    if spec is None or spec in ("", "huggingface", "hf"):
        return HuggingFaceHub()
    if spec.startswith("file://"):
        return LocalHub(spec[len("file://"):])
    raise DownloadError(f"hub={spec!r}: expected 'huggingface' or file:///PATH")


def _read_lock(raw: Path) -> dict[str, str]:
    lock = raw / LOCK_FILE
    if not lock.exists():
        return {}
    try:
        return dict(json.loads(lock.read_text())["sha256"])
    except (ValueError, KeyError, TypeError):
        raise ChecksumError(f"{lock}: unreadable lock file; delete it to record the hub's checksums again") from None


def _write_lock(raw: Path, repo: str, sums: dict[str, str]) -> None:
    atomic_write_text(raw / LOCK_FILE, json.dumps({"repo": repo, "sha256": sums}, indent=1, sort_keys=True))


def download_dataset(dataset: str | DatasetManifest, data_root: str | Path, *, hub: Hub | None = None,
                     verify: bool = True) -> list[Path]:
    """Download (or verify) every hub file of a dataset. Returns the local paths."""
    m = dataset if isinstance(dataset, DatasetManifest) else load_manifest(dataset)
    hub = hub or HuggingFaceHub()
    raw = paths.raw_dir(data_root, m.hub.repo.rsplit("/", 1)[-1])  # pastis_r shares pastis's files
    raw.mkdir(parents=True, exist_ok=True)
    lock = _read_lock(raw)
    out = []
    for f in m.hub.files:
        out.append(_download_file(m, f, raw, hub, lock, verify))
    return out


def _download_file(m: DatasetManifest, f: HubFile, raw: Path, hub: Hub, lock: dict[str, str], verify: bool) -> Path:
    dest = raw / f.name
    expected = f.sha256 or lock.get(f.name)
    if dest.exists():
        if not verify:
            return dest
        if expected is None:
            expected = hub.info(m.hub.repo, f.name, m.hub.revision).sha256
        if expected is None or sha256_file(dest) == expected:
            if expected and f.name not in lock and not f.sha256:
                lock[f.name] = expected
                _write_lock(raw, m.hub.repo, lock)
            return dest
        print(f"{dest}: checksum mismatch, downloading again", file=sys.stderr)
        dest.unlink()
    remote = hub.info(m.hub.repo, f.name, m.hub.revision)
    if expected is None:
        expected = remote.sha256
    if f.sha256 and remote.sha256 and remote.sha256 != f.sha256:
        raise ChecksumError(f"{m.hub.repo}/{f.name}: the hub's sha256 {remote.sha256} differs from the "
                            f"manifest's {f.sha256} (datasets_manifest/{m.name}.yaml); the hub file changed — "
                            "check the release and update the manifest")
    tmp = raw / (f.name + ".download")
    hub.fetch(m.hub.repo, f.name, m.hub.revision, tmp)
    if verify and expected is not None:
        got = sha256_file(tmp)
        if got != expected:
            tmp.unlink(missing_ok=True)
            raise ChecksumError(f"{dest}: sha256 {got} does not match the expected {expected}; "
                                "the download was corrupted — run the command again")
    with atomic_output(dest) as placed:  # the verified download, fsynced, then renamed into place
        os.replace(tmp, placed)
    if expected is not None and not f.sha256 and lock.get(f.name) != expected:
        lock[f.name] = expected
        _write_lock(raw, m.hub.repo, lock)
    return dest


ALLOWED = {
    "dataset": "a dataset key (e.g. benv2) or a list [a,b]",
    "capability": "download every dataset of a capability",
    "data_root": "data folder (default $GEOBENCH_DATA_ROOT or ./data)",
    "hub": "huggingface (default) or file:///PATH for a local mirror PATH/<repo>/<file>",
    "verify": "true (default): check sha256 of every file",
}


def main(argv: Sequence[str] | None = None) -> int:
    from geobench.cli import datasets_from_args, main_guard, parse_bool, parse_overrides, usage

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(usage("geobench.download", "Download official GEO-Bench-2 files from the Hugging Face hub.", ALLOWED))
        return 0

    @main_guard
    def run() -> int:
        args = parse_overrides(argv, ALLOWED)
        datasets, cap = datasets_from_args(args)
        if cap is not None and cap.synthetic:
            raise DownloadError(f"capability {cap.name!r} is synthetic: nothing to download; "
                                f"run `python -m geobench.prepare capability={cap.name}`")
        hub = make_hub(args.get("hub"))
        data_root = Path(args.get("data_root", paths.default_data_root()))
        verify = parse_bool(args.get("verify", "true"), "verify")
        seen = set()
        for ds in datasets:
            m = load_manifest(ds)
            if m.hub.repo in seen:
                continue
            seen.add(m.hub.repo)
            for p in download_dataset(m, data_root, hub=hub, verify=verify):
                print(p)
        return 0

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
