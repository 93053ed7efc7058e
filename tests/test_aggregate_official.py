"""Official-compatible mode: reproduces the published GEO-Bench-2 leaderboard numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geobench.aggregate import official
from geobench.aggregate.core import aggregate
from geobench.aggregate.inputs import Submission, load_input, load_inputs
from geobench.aggregate.normalize import load_normalizer
from geobench.capabilities import display_names

FROZEN = "80100fc6-dc1a-4514-b946-341157eaf816"
FULL = ("114be1f0-5a41-43a5-b4e6-7fb683bc01ec", "2ce4a907-7ae3-45d3-a07a-558f8d0d758b")


def _compare(mine: pd.DataFrame, ref: pd.DataFrame) -> None:
    ref = ref.set_index("backbone")
    mine = mine.set_index("backbone")
    assert sorted(mine.index) == sorted(ref.index)
    got = mine.loc[ref.index, list(ref.columns)].astype(float)
    np.testing.assert_array_equal(got.isna().to_numpy(), ref.isna().to_numpy())
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(dtype=float), atol=1e-9, rtol=0)


def test_reproduces_the_reference_capabilities_and_per_dataset(official_dir: Path) -> None:
    result = aggregate([load_input(official_dir / FROZEN)], mode="official",
                       normalizer=load_normalizer(official_dir / "normalizer.json"))
    assert result.reps == 100
    ref_caps = pd.read_csv(official_dir / f"reference_capabilities_frozen_{FROZEN[:8]}.csv")
    assert set(ref_caps.columns) - {"backbone"} == set(display_names().values())
    _compare(result.capabilities, ref_caps)
    ref_ds = pd.read_csv(official_dir / f"reference_per_dataset_frozen_{FROZEN[:8]}.csv")
    _compare(result.per_dataset, ref_ds)
    # the frozen submission has no detection datasets: Core and Detection are missing for all
    assert result.capabilities["Core"].isna().all() and result.capabilities["Core sem"].isna().all()
    assert any("Detection (Object/Instance) not computed" in n for n in result.notes)
    sems = result.capabilities["Multi-Temporal sem"]
    assert (sems > 0).all() and (sems < 0.02).all()


def test_shipped_normalizer_gives_the_same_numbers(official_dir: Path) -> None:
    """Default normalizer = the shipped copy of the official one; several inputs stay separate."""
    subs = load_inputs([official_dir / FROZEN, official_dir / FULL[1]])
    result = aggregate(subs, mode="official")
    ref = pd.read_csv(official_dir / f"reference_capabilities_frozen_{FROZEN[:8]}.csv")
    _compare(result.capabilities[result.capabilities["submission"] == FROZEN], ref)
    full = result.capabilities[result.capabilities["submission"] == FULL[1]]
    assert len(full) == 3 and full["Core"].notna().all()  # this one has every dataset


def test_backbones_missing_datasets_still_take_part_in_the_draw(official_dir: Path) -> None:
    """Leaving a backbone that lacks a dataset out of the draw would shift every other group's
    random numbers; the official computation keeps it in and sets its score missing."""
    sub = load_input(official_dir / FULL[0])
    caps = aggregate([sub], mode="official", reps=10).capabilities.set_index("backbone")
    short = sorted(caps.index[caps["Core"].isna()])
    assert short == ["dofa_base_patch16_224", "satlas_resnet50_sentinel2_si_ms_satlas",
                     "ssl4eos12_resnet50_sentinel2_all_dino", "ssl4eos12_resnet50_sentinel2_all_moco"]
    rows = sub.rows[~sub.rows["backbone"].isin(short)].reset_index(drop=True)
    without = aggregate([Submission(sub.name, rows, sub.info, sub.source)], mode="official",
                        reps=10).capabilities.set_index("backbone")
    # groups are drawn in sorted (backbone, dataset) order from one random stream: backbones
    # sorted before the first removed one draw the same numbers, the others do not
    before = [b for b in without.index if b < short[0]]
    after = [b for b in without.index if b > short[0]]
    assert before and after
    np.testing.assert_allclose(caps.loc[before, "Core"], without.loc[before, "Core"], atol=1e-12)
    assert not np.allclose(caps.loc[after, "Core"], without.loc[after, "Core"], atol=1e-9)


def test_equal_size_draws_replay_randint_exactly() -> None:
    for sizes in ([5] * 150, [3] * 7, [1] * 4, [8] * 9, [2] * 40):
        np.testing.assert_array_equal(official._draws_equal_sizes(sizes, 12),
                                      official._draws_loop(sizes, 12))
    rs = np.random.RandomState(100)
    want = np.concatenate([rs.randint(0, 5, size=5) for _ in range(3)])
    np.testing.assert_array_equal(official._draws_equal_sizes([5, 5, 5], 1)[0], want)


def test_unequal_group_sizes_use_the_exact_loop(official_dir: Path) -> None:
    """A backbone with a missing seed (4 rows) must give what pandas' GroupBy.sample gives."""
    sub = load_input(official_dir / FROZEN)
    rows = sub.rows.drop(index=sub.rows.index[(sub.rows["backbone"] == "clay_v1_base")
                                              & (sub.rows["dataset"] == "pastis")][:1])
    rows = rows.reset_index(drop=True)
    rows = rows.assign(score=rows["test metric"])
    datasets = ["kuro_siwo", "pastis", "biomassters", "dynamic_earthnet"]
    res = official.capability(rows, datasets, reps=3)
    assert res is not None
    mean, _ = res
    from scipy.stats import trim_mean

    sel = rows[rows["dataset"].isin(datasets)]
    iqms = []
    for i in range(3):
        draw = sel.groupby(["backbone", "dataset"]).sample(frac=1, replace=True, random_state=100 + i)
        iqms.append(draw.groupby("backbone")["score"].apply(lambda v: trim_mean(v, 0.25)))
    want = pd.concat(iqms, axis=1).mean(axis=1)
    for b, v in want.items():
        assert mean[b] == pytest.approx(v, abs=1e-12)


def test_capability_absent_from_submission_is_none() -> None:
    rows = pd.DataFrame({"backbone": ["a"] * 2, "dataset": ["benv2"] * 2, "score": [0.1, 0.2]})
    assert official.capability(rows, ["benv2", "so2sat"]) is None
