"""Weights: local state dicts load strictly and reproduce outputs; bad files give one clear error;
the pretrained cache is hash-checked and works offline with files put there by hand."""

from __future__ import annotations

import json
import os

import pytest
import torch

from geobench.errors import ModelError
from geobench.manifest import Band
from geobench.models import band_sets as bs
from geobench.models import weights as w
from geobench.models.registry import build_encoder, get_spec

S2 = [Band(n, bs.S2_NM[n], 10.0) for n in
      ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")]
S1 = [Band("VV", None, 10.0), Band("VH", None, 10.0)]
DATASET = {"s2": S2, "s1": S1}


def _build(key: str, seed: int, **kw: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    mods = ["s2", "s1"] if get_spec(key).multi_modal else None
    return build_encoder(key, dataset_modalities=DATASET, modalities=mods, image_size=32,
                         **kw).eval()  # type: ignore[arg-type]


def _inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {"s2": torch.randn(2, 12, 32, 32, generator=g), "s1": torch.randn(2, 2, 32, 32, generator=g)}


def _run(enc) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return enc(_inputs())


@pytest.fixture
def cache(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GEOBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GEOBENCH_OFFLINE", "1")
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def smoke_pair(tmp_path_factory):  # type: ignore[no-untyped-def]
    a = _build("smoke", 0)
    path = tmp_path_factory.mktemp("w") / "smoke.pt"
    torch.save(a.backbone.state_dict(), path)
    return a, path


@pytest.mark.parametrize("key", ["smoke", "resnet50", "ssl4eos12_resnet50_sentinel2_all_decur",
                                 "terramind_v1_base"])
def test_saved_state_dict_loads_and_reproduces_outputs(key: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = _build(key, 0)
    path = tmp_path / "w.pt"
    torch.save(a.backbone.state_dict(), path)
    expected = _run(a)
    del a
    b = _build(key, 1, weights_path=str(path))
    for x, y in zip(expected, _run(b), strict=True):
        assert torch.equal(x, y)


def test_without_loading_the_outputs_differ(smoke_pair) -> None:  # type: ignore[no-untyped-def]
    a, _ = smoke_pair
    assert not torch.equal(_run(a)[-1], _run(_build("smoke", 1))[-1])


def test_encoder_state_dict_and_safetensors_also_load(smoke_pair, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import save_file

    a, _ = smoke_pair
    full = tmp_path / "encoder.pt"
    torch.save({"state_dict": a.state_dict()}, full)  # keys "backbone.*", in a container
    st = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in a.backbone.state_dict().items()}, str(st))
    for path in (full, st):
        assert torch.equal(_run(_build("smoke", 5, weights_path=str(path)))[-1], _run(a)[-1])


def test_corrupt_and_truncated_files_name_the_file(smoke_pair, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, good = smoke_pair
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for path in (junk, truncated):
        with pytest.raises(ModelError, match=f"{path.name}: not a readable PyTorch"):
            _build("smoke", 0, weights_path=str(path))
    with pytest.raises(ModelError, match="weights file not found"):
        _build("smoke", 0, weights_path=str(tmp_path / "absent.pt"))
    notdict = tmp_path / "notdict.pt"
    torch.save({"epoch": 3, "note": "no tensors"}, notdict)
    with pytest.raises(ModelError, match="notdict.pt: holds no state dict"):
        _build("smoke", 0, weights_path=str(notdict))


def test_missing_unexpected_and_misshapen_keys_are_listed(smoke_pair, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, _ = smoke_pair
    sd = a.backbone.state_dict()
    missing = {k: v for k, v in sd.items() if k != "layer4.0.bn2.running_var"}
    extra = {**sd, "extra.weight": torch.zeros(3)}
    for name, bad, pattern in [
        ("missing.pt", missing, r"1 missing key\(s\): layer4\.0\.bn2\.running_var"),
        ("extra.pt", extra, r"1 unexpected key\(s\): extra\.weight"),
    ]:
        torch.save(bad, tmp_path / name)
        with pytest.raises(ModelError, match=pattern):
            _build("smoke", 0, weights_path=str(tmp_path / name))
    # the same architecture with other bands: the first convolution's shape differs
    rgb = build_encoder("smoke", dataset_modalities={"rgb": [Band("red", 665.0)] * 3})
    torch.save(rgb.backbone.state_dict(), tmp_path / "rgb.pt")
    with pytest.raises(ModelError, match=r"rgb\.pt: not a state dict of smoke .*shape mismatch.*conv1\.weight"):
        _build("smoke", 0, weights_path=str(tmp_path / "rgb.pt"))


# ---- the pretrained cache ---------------------------------------------------------------------


def test_offline_without_cached_file_says_where_to_put_it(cache) -> None:  # type: ignore[no-untyped-def]
    where = cache / "weights" / "resnet50" / "model.safetensors"
    with pytest.raises(ModelError) as err:
        _build("resnet50", 0, pretrained=True)
    msg = str(err.value)
    assert "model.safetensors" in msg and str(where) in msg and "huggingface.co/timm/resnet50" in msg


def test_unreachable_hub_is_one_clear_error(cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import huggingface_hub

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Connection refused")

    monkeypatch.delenv("GEOBENCH_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(ModelError, match=r"could not download the pretrained weights of "
                                         r"'dofa_large_patch16_224' \(dofa_large_patch16_224-0ff904d3"
                                         r"\.pth .*Connection refused.*put it at"):
        build_encoder("dofa", dataset_modalities=DATASET, pretrained=True)


def test_smoke_has_no_pretrained_weights(cache) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="has no pretrained weights"):
        _build("smoke", 0, pretrained=True)


def test_file_put_in_the_cache_by_hand_is_loaded_offline(cache) -> None:  # type: ignore[no-untyped-def]
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(7)
    source = timm.create_model("resnet50").state_dict()  # a full classifier checkpoint
    path = w.weights_file(get_spec("resnet50"))
    path.parent.mkdir(parents=True)
    save_file(source, str(path))
    enc = _build("resnet50", 0, pretrained=True)
    own = enc.backbone.state_dict()
    assert own and all(torch.equal(own[k], source[k]) for k in own)
    record = json.loads(path.with_name(path.name + ".sha256").read_text())
    assert record["sha256"] == w.sha256_of(path) and record["size"] == path.stat().st_size


def test_published_hash_prefix_is_checked(cache) -> None:  # type: ignore[no-untyped-def]
    spec = get_spec("ssl4eos12_resnet50_sentinel2_all_decur")
    path = w.weights_file(spec)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the published file")
    with pytest.raises(ModelError, match=r"does not match the expected fc6b09ff.*delete it"):
        w.fetch_weights(spec)


def test_a_file_changed_after_download_fails_the_hub_hash(cache) -> None:  # type: ignore[no-untyped-def]
    spec = get_spec("clay_v1_base")
    path = w.weights_file(spec)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"downloaded bytes")
    digest = w.recorded_sha256(path)
    side = path.with_name(path.name + ".sha256")
    side.write_text(json.dumps({**json.loads(side.read_text()), "hub_sha256": digest}))
    assert w.fetch_weights(spec) == path  # intact: accepted
    path.write_bytes(b"bytes changed on disk")
    with pytest.raises(ModelError, match="clay-v1-base.ckpt: SHA-256 .* does not match"):
        w.fetch_weights(spec)


def test_hash_is_recorded_and_reused(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = []
    real = w.sha256_of
    monkeypatch.setattr(w, "sha256_of", lambda p: calls.append(p) or real(p))
    f = tmp_path / "weights.bin"
    f.write_bytes(b"abc")
    first = w.recorded_sha256(f)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert w.recorded_sha256(f) == first and len(calls) == 1
    f.write_bytes(b"abcd")
    assert w.recorded_sha256(f) != first and len(calls) == 2


def _fake_hub(monkeypatch, payload: bytes, etag: str):  # type: ignore[no-untyped-def]
    """A stand-in for the hub: downloads write ``payload`` where huggingface_hub would."""
    import types

    import huggingface_hub

    calls = []

    def download(repo_id: str, filename: str, *, revision: str, local_dir) -> str:  # type: ignore[no-untyped-def]
        calls.append((repo_id, filename, revision))
        target = local_dir / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
        return str(target)

    monkeypatch.delenv("GEOBENCH_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata",
                        lambda url: types.SimpleNamespace(etag=f'"{etag}"'))
    return calls


def test_download_lands_in_the_cache_and_is_checked_against_the_hub(cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    payload = b"clay weights"
    calls = _fake_hub(monkeypatch, payload, hashlib.sha256(payload).hexdigest())
    spec = get_spec("clay_v1_base")
    path = w.fetch_weights(spec)
    assert path == cache / "weights" / "clay_v1_base" / "v1" / "clay-v1-base.ckpt"
    assert path.read_bytes() == payload
    assert calls == [("made-with-clay/Clay-legacy", "v1/clay-v1-base.ckpt", "main")]
    record = json.loads(path.with_name(path.name + ".sha256").read_text())
    assert record["hub_sha256"] == record["sha256"] == hashlib.sha256(payload).hexdigest()
    assert w.fetch_weights(spec) == path and len(calls) == 1  # cached: no second download


def test_download_not_matching_the_hub_hash_is_refused(cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _fake_hub(monkeypatch, b"truncated", "0" * 64)
    spec = get_spec("terramind_v1_base")
    for _ in range(2):  # the bad file is not kept, so a second call is refused as well
        with pytest.raises(ModelError, match="does not match the expected 0000000000000000.*removed"):
            w.fetch_weights(spec)
    assert not w.weights_file(spec).exists()
