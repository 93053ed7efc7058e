"""Splits held on the device give the loader path's batches, number for number (real fixtures:
resize, time steps, no-data spreading; synthetic: every smoke task), and a resident run trains to
the same results."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geobench.data import PreparedDataset, collate
from geobench.data.resident import ResidentSplit, supports
from geobench.manifest import load_manifest
from geobench.prepare import prepare_dataset
from geobench.synthetic import write_synthetic
from geobench.train.loaders import make_loader
from tests.conftest import FIXTURES
from tests.test_prepare import _stage_fixture

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resident")
    for ds in ("spacenet7", "pastis", "biomassters", "benv2"):
        _stage_fixture(FIXTURES, ds, root)
        prepare_dataset(ds, root, progress=False)
    for ds in ("so2sat", "burn_scars"):
        write_synthetic(ds, root, samples={"train": 10, "validation": 4, "test": 4}, image_size=16)
        prepare_dataset(ds, root, progress=False)
    return root


def _same(a: object, b: object, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    else:
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), where
        assert a.shape == b.shape and a.dtype == b.dtype, where
        assert torch.equal(a, b), where


@pytest.mark.parametrize(("ds", "kwargs"), [
    ("spacenet7", {"image_size": 64}),                                         # resize, uint8 input
    ("pastis", {"time_steps": "official"}),                                    # one step of a series
    ("pastis", {"modalities": ["s2", "s1a"]}),                                 # every step, two series
    ("biomassters", {"modalities": ["s1", "s2"], "time_steps": "official"}),   # no-data spreading
    ("benv2", {}),                                                             # multi-label
    ("so2sat", {"normalization": "train_stats"}),                              # classification
    ("burn_scars", {"normalization": "train_stats", "image_size": 24}),        # segmentation
])
def test_resident_batches_equal_the_loader_batches(root: Path, ds: str, kwargs: dict) -> None:
    kw = {"normalization": "official", **kwargs}
    if kw.get("time_steps") == "official":
        kw["time_steps"] = load_manifest(ds).protocol.time_steps
    data = PreparedDataset(root, ds, "train", **kw)
    assert supports(data)
    for shuffle in (False, True):
        loader = make_loader(data, batch_size=2, shuffle=shuffle, device=torch.device("cpu"), seed=7,
                             num_workers=0, collate_fn=collate, drop_last=shuffle)
        resident = ResidentSplit(data, torch.device("cpu"), batch_size=2, shuffle=shuffle, seed=7,
                                 drop_last=shuffle)
        a, b = list(loader), list(resident)
        assert len(a) == len(b) == len(resident) > 0
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{ds}[{i}]")


def test_a_resident_run_trains_to_the_loader_runs_results(root: Path) -> None:
    from hydra import compose, initialize_config_dir

    from geobench.config import register, to_run_config
    from geobench.paths import CONF_DIR
    from geobench.sweep.plan import make_plan
    from geobench.sweep.trainer import train_unit

    register()
    results = {}
    for resident in ("off", "on"):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose(config_name="config", overrides=[
                "capability=smoke", "dataset=burn_scars", "protocol.max_epochs=2", "protocol.image_size=16",
                f"data_root={root}", "device=cpu", "num_workers=0", f"resident={resident}"])
        run = to_run_config(cfg)
        results[resident] = train_unit(run, make_plan(run, "burn_scars"), 5e-3, 4, 205, score_test=True)
    for field in ("val_metric_per_epoch", "val_loss_per_epoch", "train_loss_per_epoch", "test_metrics_raw"):
        assert getattr(results["on"], field) == getattr(results["off"], field), field
