"""``python -m geobench.download dataset=<ds>|capability=<cap> data_root=DIR``.

Fetches a dataset's official tortilla files from the Hugging Face hub (``aialliance/<ds>``) into
``DIR/raw/<ds>/``: resumable (partial downloads continue), with a progress bar, and sha256-verified
against the manifest; where the manifest has no sha256 yet, the hub's LFS sha256 is recorded in
``DIR/raw/<ds>/geobench.lock.json`` on first download and checked from then on. Files already
present and verified are skipped. Offline or unreachable: one error naming the repository and the
manual alternative (put the files in ``DIR/raw/<ds>/``).

Nothing is ever destroyed: a file is fetched to ``<name>.download`` and verified before it replaces
anything. A file already in place whose sha256 differs from the expected one (a hand-placed file,
a damaged copy) stays where it is until a verified copy has been downloaded; it is then renamed to
``<name>.mismatch-<first 12 hex digits of its sha256>`` beside it, with a message saying so. If the
hub is unreachable or the download is corrupted, the file is left untouched.

``hub=file:///PATH`` reads from a local mirror laid out as ``PATH/<repo>/<file>`` (tests, air-gapped
clusters); the default is the Hugging Face hub (``HF_ENDPOINT`` is honoured).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from geobench import paths
from geobench.errors import ChecksumError, DownloadError, GeoBenchError
from geobench.fileio import atomic_output, sweep_stale_temps
from geobench.integrity import CHUNK, LOCK_FILE, DigestCache, read_lock, sha256_file, write_lock
from geobench.manifest import DatasetManifest, HubFile, load_manifest

__all__ = ["LOCK_FILE", "HuggingFaceHub", "LocalHub", "RemoteFile", "download_dataset", "main",
           "make_hub", "sha256_file"]


@dataclass(frozen=True)
class RemoteFile:
    size: int | None
    sha256: str | None


class Hub(Protocol):
    """Where official files come from."""

    def info(self, repo: str, filename: str, revision: str) -> RemoteFile: ...

    def fetch(self, repo: str, filename: str, revision: str, dest: Path) -> None:
        """Download to ``dest`` (resuming a partial download if the hub supports it)."""


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


def download_dataset(dataset: str | DatasetManifest, data_root: str | Path, *, hub: Hub | None = None,
                     verify: bool = True) -> list[Path]:
    """Download (or verify) every hub file of a dataset. Returns the local paths.

    Raises:
        DownloadError: the hub is unreachable or lacks a file (files in place are left as they are).
        ChecksumError: the download was corrupted, or the hub's file differs from the manifest.
    """
    m = dataset if isinstance(dataset, DatasetManifest) else load_manifest(dataset)
    hub = hub or HuggingFaceHub()
    raw = paths.raw_dir(data_root, m.hub.repo.rsplit("/", 1)[-1])  # pastis_r shares pastis's files
    raw.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(raw)
    lock, cache = read_lock(raw), DigestCache(raw)  # digests are kept for prepare's check
    out = []
    try:
        for f in m.hub.files:
            out.append(_download_file(m, f, raw, hub, lock, cache, verify))
    finally:
        cache.save()
    return out


def _expected(m: DatasetManifest, f: HubFile, raw: Path, lock: dict[str, str]) -> tuple[str | None, str]:
    """The sha256 a file must have and where it comes from (for messages)."""
    if f.sha256:
        return f.sha256, f"the manifest's sha256 (datasets_manifest/{m.name}.yaml)"
    if f.name in lock:
        return lock[f.name], f"the sha256 recorded in {raw / LOCK_FILE} at the first download"
    return None, "the hub's sha256"


def _record(m: DatasetManifest, f: HubFile, raw: Path, lock: dict[str, str], digest: str | None) -> None:
    """Pin the hub's sha256 in the lock file where the manifest has none."""
    if digest is not None and not f.sha256 and lock.get(f.name) != digest:
        lock[f.name] = digest
        write_lock(raw, m.hub.repo, lock)


def _download_file(m: DatasetManifest, f: HubFile, raw: Path, hub: Hub, lock: dict[str, str],
                   cache: DigestCache, verify: bool) -> Path:
    dest = raw / f.name
    expected, source = _expected(m, f, raw, lock)
    kept = None  # sha256 of a file in place that differs: kept until a verified copy exists
    if dest.exists():
        if not verify:
            return dest
        if expected is None:
            expected = hub.info(m.hub.repo, f.name, m.hub.revision).sha256
        got = cache.digest(dest)
        if expected is None or got == expected:
            _record(m, f, raw, lock, expected)
            return dest
        kept = got
        print(f"{dest}: {source} {expected} differs from your file's {got}; your file stays in place "
              "until a verified copy is downloaded", file=sys.stderr)
    try:
        tmp, expected, digest = _fetch_verified(m, f, raw, hub, expected, verify)
    except GeoBenchError as exc:
        if kept is not None:
            exc.args = (f"{exc}; your file {dest} was left as it was",)
        raise
    if kept is not None:
        aside = dest.with_name(f"{dest.name}.mismatch-{kept[:12]}")
        os.replace(dest, aside)
        print(f"{dest}: your file (sha256 {kept}, which differs from {source}) is kept as {aside}; "
              "the verified download is in its place (delete the kept file when you no longer need it)",
              file=sys.stderr)
    with atomic_output(dest) as placed:  # the verified download, fsynced, then renamed into place
        os.replace(tmp, placed)
    if digest is not None:
        cache.record(dest, digest)
    _record(m, f, raw, lock, expected)
    return dest


def _fetch_verified(m: DatasetManifest, f: HubFile, raw: Path, hub: Hub, expected: str | None,
                    verify: bool) -> tuple[Path, str | None, str | None]:
    """Fetch ``f`` to ``raw/<name>.download`` and check it; returns it, its expected sha256 and its
    sha256 (None when not checked)."""
    remote = hub.info(m.hub.repo, f.name, m.hub.revision)
    if expected is None:
        expected = remote.sha256
    if f.sha256 and remote.sha256 and remote.sha256 != f.sha256:
        raise ChecksumError(f"{m.hub.repo}/{f.name}: the hub's sha256 {remote.sha256} differs from the "
                            f"manifest's {f.sha256} (datasets_manifest/{m.name}.yaml); the hub file changed — "
                            "check the release and update the manifest")
    tmp = raw / (f.name + ".download")
    hub.fetch(m.hub.repo, f.name, m.hub.revision, tmp)
    got = None
    if verify and expected is not None:
        got = sha256_file(tmp)
        if got != expected:
            tmp.unlink(missing_ok=True)
            raise ChecksumError(f"{raw / f.name}: the downloaded file's sha256 {got} does not match the "
                                f"expected {expected}: the download was corrupted (nothing was replaced) "
                                "— run the command again")
    return tmp, expected, got


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
