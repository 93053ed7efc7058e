"""The frozen-feature cache: a frozen run trains on the same batches with and without it — the same
scores bit for bit with float32 storage on a CPU, within a stated tolerance with bfloat16 —, it is
built once and reused, and its size is checked against the disk before it is built."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from geobench.config import RunConfig, register, to_run_config
from geobench.paths import CONF_DIR
from geobench.prepare import prepare_dataset
from geobench.sweep.plan import make_plan
from geobench.sweep.trainer import train_unit
from geobench.synthetic import write_synthetic

register()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for ds in ("burn_scars", "so2sat", "biomassters"):
        write_synthetic(ds, root, samples={"train": 12, "validation": 6, "test": 6}, image_size=16)
        prepare_dataset(ds, root, progress=False)
    return root


def _run(dataset: str, data_root: Path, *extra: str) -> RunConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=[
            "capability=smoke", f"dataset={dataset}", "protocol.finetune=frozen", "protocol.max_epochs=3",
            "protocol.image_size=16", f"data_root={data_root}", "device=cpu", "num_workers=0", *extra])
    return to_run_config(cfg)


def _train(run: RunConfig, dataset: str) -> object:
    plan = make_plan(run, dataset)
    return train_unit(run, plan, 5e-3, 4, 205, score_test=True)


@pytest.mark.parametrize("dataset", ["burn_scars", "so2sat", "biomassters"])
def test_cached_frozen_run_equals_the_uncached_run(dataset: str, data_root: Path, tmp_path: Path) -> None:
    off = _train(_run(dataset, data_root, "feature_cache=off"), dataset)
    run = _run(dataset, data_root, f"feature_cache_dir={tmp_path / 'cache'}")
    cached = _train(run, dataset)
    assert make_plan(run, dataset).settings.flips  # the train split is cached under 4 flip variants
    for field in ("val_metric_per_epoch", "val_loss_per_epoch", "test_metrics_raw", "train_loss_per_epoch",
                  "best_epoch", "epochs"):
        assert getattr(cached, field) == getattr(off, field), field  # bit for bit on a CPU
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*.h5"))
    assert files == ["test.h5", "train.h5", "validation.h5"]
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.h5")}
    again = _train(run, dataset)  # a second trial/seed with the same encoder reuses the cache
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.h5")} == stamp
    assert again.test_metrics_raw == cached.test_metrics_raw


def test_bfloat16_cache_is_close_and_half_the_size(data_root: Path, tmp_path: Path) -> None:
    """bfloat16 keeps 8 bits of mantissa: the head sees features rounded by ~0.4 %, so scores move
    a little; the tolerance below is what that rounding allows on this small run."""
    f32 = _run("so2sat", data_root, f"feature_cache_dir={tmp_path / 'f32'}")
    bf16 = dataclasses.replace(f32, feature_cache="bfloat16", feature_cache_dir=str(tmp_path / "bf16"))
    a, b = _train(f32, "so2sat"), _train(bf16, "so2sat")
    assert abs(a.val_loss_per_epoch[-1] - b.val_loss_per_epoch[-1]) < 0.05  # type: ignore[attr-defined]
    size = {n: sum(p.stat().st_size for p in (tmp_path / n).rglob("train.h5")) for n in ("f32", "bf16")}
    assert size["bf16"] < 0.6 * size["f32"]
    assert make_plan(f32, "so2sat").config_hash != make_plan(bf16, "so2sat").config_hash  # recorded


def test_full_finetuning_and_detection_do_not_use_the_cache(data_root: Path, tmp_path: Path) -> None:
    from geobench.sweep.frozen_cache import applies

    run = _run("so2sat", data_root, f"feature_cache_dir={tmp_path}")
    assert applies(run, make_plan(run, "so2sat"))
    full = _run("so2sat", data_root, "protocol.finetune=full")
    assert not applies(full, make_plan(full, "so2sat"))
    det = _run("everwatch", data_root)
    assert not applies(det, make_plan(det, "everwatch"))


def test_a_disk_too_small_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from geobench.errors import DiskFullError
    from geobench.train.feature_cache import CacheShape, check_space, estimate_bytes

    shape = CacheShape(((64, 8, 8), (128, 4, 4)), 4)
    assert shape.bytes_per_sample == (64 * 64 + 128 * 16) * 4
    need = estimate_bytes(shape, 1000, 4)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage._replace(free=need // 2))
    with pytest.raises(DiskFullError, match=r"the frozen-feature cache needs .* GiB .* only .* GiB are free"):
        check_space(tmp_path / "cache", need)
