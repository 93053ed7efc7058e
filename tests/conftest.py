"""Shared test fixtures: locations of the real reference data in ../shared."""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

SHARED = Path(os.environ.get("GEOBENCH_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
FIXTURES = SHARED / "fixtures" / "geobench2"
OFFICIAL = SHARED / "leaderboard" / "official"
# The ten datasets that have a real GEO-Bench-2 fixture.
REAL_FIXTURES = ("benv2", "biomassters", "caffe", "dynamic_earthnet", "everwatch", "flair2",
                 "nzcattle", "pastis", "spacenet7", "treesatai")


@pytest.fixture(autouse=True)
def _matplotlib_agg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real GEO-Bench-2 fixtures not found at {FIXTURES} (../shared absent)")
    return FIXTURES


@pytest.fixture
def official_dir() -> Path:
    if not OFFICIAL.is_dir():
        pytest.skip(f"official leaderboard results not found at {OFFICIAL} (../shared absent)")
    return OFFICIAL


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op thread for the test (the model tests' sums stay in one order and 2-core CI is
    not oversubscribed); torch's global settings are put back afterwards."""
    import torch

    from geobench.torch_state import preserved_torch_state

    with preserved_torch_state():
        torch.set_num_threads(1)
        yield


def _import_quietly(module: str) -> ModuleType:
    from geobench.torch_state import preserved_torch_state

    with preserved_torch_state(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(module)


@pytest.fixture(scope="session")
def quiet_import() -> Callable[[str], ModuleType]:
    """Import a library the tests compare against (terratorch): its import-time warnings are
    silenced and the torch settings it changes (matmul precision) are restored."""
    return _import_quietly
