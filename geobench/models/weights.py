"""Pretrained weights: download on demand into the cache, hash checks, strict state-dict loading.

Layout: ``<cache>/weights/<model key>/<file name>`` where ``<cache>`` is ``$GEOBENCH_CACHE`` or
``~/.cache/geobench``. A file put there by hand is used as is (after the hash check). Beside each
file, ``<file name>.sha256`` records its SHA-256, size and modification time, so later loads re-hash
only a file that changed. The expected hash is the spec's (full or prefix) when published, else the
hub's LFS hash (its etag) read at download time. ``GEOBENCH_OFFLINE=1`` forbids downloads (a
missing file is then an error that says where to put it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobench.errors import ModelError
from geobench.fileio import atomic_write_text
from geobench.models.spec import ModelSpec, WeightsSource

if TYPE_CHECKING:
    from torch import Tensor, nn

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def cache_dir() -> Path:
    """``$GEOBENCH_CACHE`` or ``~/.cache/geobench``."""
    env = os.environ.get("GEOBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "geobench"


def weights_file(spec: ModelSpec) -> Path:
    """Where the pretrained weights of ``spec`` live in the cache (downloaded or put by hand)."""
    if spec.weights is None:
        raise ModelError(f"model {spec.key!r} has no pretrained weights; build it with "
                         "pretrained=false")
    return cache_dir() / "weights" / spec.key / spec.weights.filename


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def recorded_sha256(path: Path) -> str:
    """The file's SHA-256, from its sidecar record when size and mtime are unchanged."""
    st = path.stat()
    side = _sidecar(path)
    try:
        rec = json.loads(side.read_text())
        if rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
            return str(rec["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    digest = sha256_of(path)
    atomic_write_text(side, json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    return digest


def verify_file(path: Path, expected: str | None, where: str) -> str:
    """Check ``path``'s SHA-256 against ``expected`` (full digest or prefix); return the digest."""
    digest = recorded_sha256(path)
    if expected and not digest.startswith(expected.lower()):
        raise ModelError(f"{path}: SHA-256 {digest[:16]}... does not match the expected "
                         f"{expected[:16]}... of {where}; the file is corrupt or not the "
                         "published one: delete it so that it is downloaded again")
    return digest


def _hub_sha256(ws: WeightsSource) -> str | None:
    """The hub's LFS hash of the file (None when the hub does not give one)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    meta = get_hf_file_metadata(hf_hub_url(ws.repo_id, ws.filename, revision=ws.revision))
    etag = (meta.etag or "").strip('"').lower()
    return etag if _HEX64.match(etag) else None


def fetch_weights(spec: ModelSpec) -> Path:
    """The local path of ``spec``'s pretrained weights, downloading them first if needed.

    Raises:
        ModelError: no weights for this model; the download failed (offline, hub unreachable,
            gated repository), naming the file, its URL and where to put it by hand; or the file's
            hash does not match.
    """
    path = weights_file(spec)
    ws = spec.weights
    assert ws is not None  # weights_file raised otherwise
    where = f"{spec.key} ({ws.url})"
    if path.is_file():
        expected = ws.sha256
        side = _sidecar(path)
        if expected is None and side.exists():
            try:
                expected = json.loads(side.read_text()).get("hub_sha256")
            except (OSError, ValueError):
                expected = None
        verify_file(path, expected, where)
        return path
    if os.environ.get("GEOBENCH_OFFLINE", "") not in ("", "0"):
        raise ModelError(
            f"the pretrained weights of {spec.key!r} ({ws.filename}) are not in the cache and "
            f"GEOBENCH_OFFLINE is set: download {ws.url} yourself and put it at {path}, "
            "or pass weights_path=...")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from huggingface_hub import hf_hub_download

        hub_sha = _hub_sha256(ws)
        downloaded = Path(hf_hub_download(ws.repo_id, ws.filename, revision=ws.revision,
                                          local_dir=cache_dir() / "weights" / spec.key))
    except Exception as exc:  # huggingface_hub raises many types (offline, HTTP, gated)
        raise ModelError(
            f"could not download the pretrained weights of {spec.key!r} ({ws.filename} from "
            f"{ws.url}): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            f"Download the file yourself and put it at {path}, or pass weights_path=...") from None
    path = downloaded  # the same place: local_dir keeps the hub's sub-folders (v1/...)
    try:
        verify_file(path, ws.sha256 or hub_sha, where)
    except ModelError as exc:  # never keep (and later trust) a bad download
        path.unlink(missing_ok=True)
        _sidecar(path).unlink(missing_ok=True)
        raise ModelError(f"{exc} [the download was removed; try again]") from None
    if hub_sha:
        side = _sidecar(path)
        rec = json.loads(side.read_text())
        rec["hub_sha256"] = hub_sha
        atomic_write_text(side, json.dumps(rec))
    return path


# ----------------------------------------------------------------------------------------------
# reading and loading state dicts


def read_checkpoint(path: str | Path) -> Any:
    """Read a ``.safetensors`` file or a PyTorch checkpoint (``weights_only``: no code runs).

    Raises:
        ModelError: the file is missing, or is not a readable checkpoint (truncated, wrong format).
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: weights file not found")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(p), device="cpu")
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # zipfile, pickle, safetensors and torch errors all mean "unreadable"
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelError(f"{p}: not a readable PyTorch or safetensors checkpoint ({msg}); "
                         "re-download it or check that it is the right file") from None


def unwrap_state_dict(obj: Any, path: str | Path) -> dict[str, Tensor]:
    """The tensor mapping inside a checkpoint (``state_dict``/``model``/``module`` containers)."""
    import torch

    for _ in range(3):
        if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
        if isinstance(obj, Mapping):
            for key in ("state_dict", "model", "module", "encoder"):
                if key in obj and isinstance(obj[key], Mapping):
                    obj = obj[key]
                    break
            else:
                break
        else:
            break
    raise ModelError(f"{path}: holds no state dict (a mapping of parameter names to tensors)")


def strip_prefix(sd: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Remove ``prefix`` from every key that has it (all keys must, else unchanged)."""
    if sd and all(k.startswith(prefix) for k in sd):
        return {k[len(prefix):]: v for k, v in sd.items()}
    return dict(sd)


def _list(keys: list[str], n: int = 8) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" ... (+{len(keys) - n} more)" if len(keys) > n else "")


def key_mismatch(module: nn.Module, sd: Mapping[str, Tensor]) -> tuple[list[str], list[str], list[str]]:
    """``(missing, unexpected, wrong_shape)`` keys of ``sd`` against ``module``."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in set(own) & set(sd)
                    if tuple(sd[k].shape) != tuple(own[k].shape))
    return missing, unexpected, shapes


def load_strict(module: nn.Module, sd: Mapping[str, Tensor], path: str | Path, what: str) -> None:
    """Load ``sd`` into ``module`` requiring exactly its keys and shapes.

    Raises:
        ModelError: naming the file and listing missing, unexpected and wrongly shaped keys.
    """
    missing, unexpected, shapes = key_mismatch(module, sd)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_list(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_list(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es): {_list(shapes, 4)}")
        raise ModelError(f"{path}: not a state dict of {what}: " + "; ".join(parts)
                         + ". Use a file saved from the same model and band setup "
                         "(torch.save(encoder.backbone.state_dict(), path))")
    module.load_state_dict(dict(sd), strict=True)
