"""Shared test fixtures: locations of the real reference data in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

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
