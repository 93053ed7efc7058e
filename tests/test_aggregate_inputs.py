"""Inputs (run directories, submission and official folders), the BioMassters rule, normalizer
files and the default-mode tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geobench.aggregate import inputs
from geobench.aggregate.core import aggregate
from geobench.aggregate.inputs import load_input, load_inputs, to_leaderboard_scale
from geobench.aggregate.normalize import (
    OFFICIAL_NORMALIZER,
    Normalizer,
    build_normalizer,
    load_normalizer,
    normalize,
    save_normalizer,
)
from geobench.aggregate.stage import run
from geobench.capabilities import display_names, official_capabilities
from geobench.errors import NormalizerError, ResultsError
from geobench.results_store import OFFICIAL_COLUMNS, RESULT_COLUMNS, write_row

FROZEN = "80100fc6-dc1a-4514-b946-341157eaf816"
FULL = ("114be1f0-5a41-43a5-b4e6-7fb683bc01ec", "2ce4a907-7ae3-45d3-a07a-558f8d0d758b")
SCALE = 0.2537951171398163


def _row(dataset: str, metric: str, value: float, seed: int, phase: str = "repeat",
         backbone: str = "resnet50") -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(RESULT_COLUMNS)
    row.update({"dataset": dataset, "Metric": metric, "test metric": value, "Seed": seed,
                "backbone": backbone, "frozen_or_full_ft": "full_ft", "phase": phase,
                "run_id": f"{dataset}-{phase}-{seed}", "trial": 0})
    return row


def _submission_folder(tmp_path: Path, rows: pd.DataFrame, name: str = "sub") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    rows.to_csv(folder / "results_and_parameters.csv", index=False)
    (folder / "additional_info.json").write_text(json.dumps({"License": "MIT"}))
    return folder


# ---------------------------------------------------------------------------- inputs


def test_official_folder(official_dir: Path) -> None:
    sub = load_input(official_dir / FROZEN)
    assert sub.name == FROZEN and sub.source == official_dir / FROZEN
    assert len(sub.rows) == 750
    assert sub.rows["test metric"].dtype == np.float64 and sub.rows["Seed"].dtype == np.int64
    assert sub.info["License"] == "Apache 2.0"
    # BioMassters in an official CSV: Metric says RMSE, the value is already 1 - RMSE * scale
    bio = sub.rows[sub.rows["dataset"] == "biomassters"]
    assert set(bio["Metric"]) == {"RMSE"} and bio["test metric"].between(0.94, 0.97).all()


def test_run_directory_rows_are_the_repeats_as_recorded(tmp_path: Path) -> None:
    """geobench's training loop records BioMassters on the leaderboard scale already
    (leaderboard_value(raw, metric_transform)): run rows are taken as they are."""
    run = tmp_path / "myrun"
    lb = 1 - (0.20 + 0.01 * np.arange(5)) * SCALE
    for seed in range(5):
        write_row(run, _row("biomassters", "RMSE", float(lb[seed]), seed))
        write_row(run, _row("benv2", "Multilabel_F1_Score", 0.70 + 0.01 * seed, seed))
    write_row(run, _row("benv2", "Multilabel_F1_Score", 0.1, 99, phase="hpo"))
    sub = load_input(run)
    assert sub.name == "myrun"
    assert len(sub.rows) == 10 and 99 not in set(sub.rows["Seed"])
    bio = sub.rows[sub.rows["dataset"] == "biomassters"].sort_values("Seed")
    np.testing.assert_allclose(bio["test metric"], lb)
    assert set(bio["Metric"]) == {"RMSE"}
    ben = sub.rows[sub.rows["dataset"] == "benv2"].sort_values("Seed")
    np.testing.assert_allclose(ben["test metric"], 0.70 + 0.01 * np.arange(5))


def test_raw_metrics_are_converted_only_when_asked(tmp_path: Path) -> None:
    run = tmp_path / "raw"
    for seed in range(3):
        write_row(run, _row("biomassters", "RMSE", 0.2 + seed, seed))  # raw RMSE, up to 2.2
        write_row(run, _row("benv2", "Multilabel_F1_Score", 0.7, seed))
    sub = load_input(run, raw_metrics=True)
    bio = sub.rows[sub.rows["dataset"] == "biomassters"].sort_values("Seed")
    np.testing.assert_allclose(bio["test metric"], 1 - (0.2 + np.arange(3)) * SCALE)
    assert (sub.rows.loc[sub.rows["dataset"] == "benv2", "test metric"] == 0.7).all()
    # as leaderboard-scale values, an RMSE above 1 is impossible: named, with the fix
    with pytest.raises(ResultsError, match=r"biomassters-repeat-1: biomassters 'test metric' 1.2 is "
                                           r"above 1, so it is a raw RMSE.*--raw-metrics"):
        load_input(run)


def test_run_directory_without_seed_runs(tmp_path: Path) -> None:
    write_row(tmp_path / "r", _row("benv2", "Multilabel_F1_Score", 0.1, 0, phase="hpo"))
    with pytest.raises(ResultsError, match="no finished seed runs"):
        load_input(tmp_path / "r")


def test_metric_transform_from_the_manifests() -> None:
    assert inputs.metric_transform("biomassters") == ("RMSE", SCALE)
    assert inputs.metric_transform("benv2") is None
    assert inputs.metric_transform("not_a_dataset") is None
    rows = pd.DataFrame({"dataset": ["biomassters", "benv2"], "Metric": ["RMSE", "F1"],
                         "test metric": [0.2, 0.7]})
    out = to_leaderboard_scale(rows)
    np.testing.assert_allclose(out["test metric"], [1 - 0.2 * SCALE, 0.7])
    assert rows["test metric"].tolist() == [0.2, 0.7]  # a copy


def test_submission_folder_with_geobench_metadata(tmp_path: Path, official_dir: Path) -> None:
    src = pd.read_csv(official_dir / FROZEN / "results_and_parameters.csv")
    extra = src[list(OFFICIAL_COLUMNS)].assign(run_id="x", phase="repeat")
    folder = _submission_folder(tmp_path, extra, "mine")
    (folder / "geobench.json").write_text(json.dumps({"name": "My model", "size": "25M"}))
    sub = load_input(folder / "results_and_parameters.csv")  # the CSV path works too
    assert sub.name == "mine" and sub.info["geobench"]["name"] == "My model"
    assert sub.info["License"] == "MIT"
    np.testing.assert_allclose(sub.rows["test metric"], src["test metric"])


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.drop(columns=["Seed"]), "missing column(s) 'Seed'"),
    (lambda d: d.assign(**{"test metric": ["0.5"] * (len(d) - 1) + ["abc"]}),
     "'test metric' is 'abc', not a finite number"),
    (lambda d: d.assign(**{"test metric": [0.5] * (len(d) - 1) + [np.nan]}), "not a finite number"),
    (lambda d: d.assign(Seed=[1.5] + [1] * (len(d) - 1)), "line 2: 'Seed' is 1.5, not an integer"),
    (lambda d: d.assign(backbone=[""] + ["x"] * (len(d) - 1)), "line 2: empty 'backbone'"),
    (lambda d: d.iloc[:0], "no result rows"),
    (lambda d: d.assign(frozen_or_full_ft=["frozen"] + ["full_ft"] * (len(d) - 1)),
     "more than one frozen_or_full_ft mode"),
])
def test_bad_csv_is_one_clear_error(tmp_path: Path, mutate: Any, message: str) -> None:
    rows = pd.DataFrame([_row("benv2", "Multilabel_F1_Score", 0.5, s) for s in range(3)])
    folder = _submission_folder(tmp_path, mutate(rows[list(OFFICIAL_COLUMNS)]))
    with pytest.raises(ResultsError) as err:
        load_input(folder)
    assert message in str(err.value)
    assert "results_and_parameters.csv" in str(err.value)


def test_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not found"):
        load_input(tmp_path / "nope")
    with pytest.raises(ResultsError, match="not a run directory"):
        load_input(tmp_path)
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "results_and_parameters.csv").write_text("")
    with pytest.raises(ResultsError, match="additional_info.json: missing"):
        load_input(folder)
    (folder / "additional_info.json").write_text("[1, 2")
    with pytest.raises(ResultsError, match="not valid JSON"):
        load_input(folder)
    (folder / "additional_info.json").write_text("[1, 2]")
    with pytest.raises(ResultsError, match="expected a JSON object"):
        load_input(folder)
    (folder / "additional_info.json").write_text("{}")
    with pytest.raises(ResultsError, match="empty file"):
        load_input(folder)


def test_duplicate_names_rejected(tmp_path: Path, official_dir: Path) -> None:
    a, b = tmp_path / "a" / FROZEN, tmp_path / "b" / FROZEN
    for d in (a, b):
        shutil.copytree(official_dir / FROZEN, d)
    with pytest.raises(ResultsError, match="both named"):
        load_inputs([a, b])


# ---------------------------------------------------------------------------- normalizer


def test_shipped_normalizer_is_the_official_rule_on_the_full_ft_submissions(official_dir: Path) -> None:
    shipped = load_normalizer()
    official = load_normalizer(official_dir / "normalizer.json")  # {dataset: [min, max]} layout
    assert shipped.bounds == official.bounds  # bit for bit
    assert official.version.startswith("sha256:")
    rebuilt = build_normalizer(load_inputs([official_dir / f for f in FULL]), "x", "1")
    assert rebuilt.bounds == shipped.bounds
    assert set(shipped.bounds) == {d for c in official_capabilities() for d in c.datasets}


def test_normalizer_round_trip_and_build_options(tmp_path: Path, official_dir: Path) -> None:
    subs = load_inputs([official_dir / f for f in FULL])
    n = build_normalizer(subs, "mine", "2", backbones=["clay_v1_base", "resnet50"])
    rows = pd.concat([s.rows for s in subs])
    rows = rows[rows["backbone"].isin(["clay_v1_base", "resnet50"])]
    assert n.bounds["benv2"] == (rows.loc[rows.dataset == "benv2", "test metric"].min(),
                                 rows.loc[rows.dataset == "benv2", "test metric"].max())
    path = tmp_path / "deep" / "n.json"
    save_normalizer(n, path)
    back = load_normalizer(path)
    assert back == n
    assert json.loads(path.read_text())["format"] == "geobench-normalizer/1"
    assert not list(path.parent.glob(".*tmp"))
    with pytest.raises(NormalizerError, match="not in the baseline"):
        build_normalizer(subs, "x", "1", backbones=["nope"])
    one = subs[0].rows.iloc[:1]
    with pytest.raises(NormalizerError, match="all baseline scores|every baseline score"):
        build_normalizer([inputs.Submission("s", one)], "x", "1")


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ('{"benv2": [1, 0]}', "min < max"),
    ('{"benv2": [0, "a"]}', "expected [min, max]"),
    ('{"format": "other/9", "datasets": {}}', "unknown normalizer format"),
    ('{"format": "geobench-normalizer/1", "name": "x"}', "missing field 'version'"),
])
def test_bad_normalizer_files(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "n.json"
    p.write_text(text)
    with pytest.raises(NormalizerError) as err:
        load_normalizer(p)
    assert message in str(err.value) and str(p) in str(err.value)
    with pytest.raises(NormalizerError, match="not found"):
        load_normalizer(tmp_path / "absent.json")


def test_normalize_values_and_missing_dataset() -> None:
    n = Normalizer("t", "1", {"a": (0.5, 0.7)}, "test")
    rows = pd.DataFrame({"dataset": ["a", "a", "a"], "test metric": [0.5, 0.8, 0.4]})
    np.testing.assert_allclose(normalize(rows, n)["score"], [0.0, 1.5, -0.5])  # outside [0,1] stays
    with pytest.raises(NormalizerError, match="no bounds for dataset.*b"):
        normalize(pd.DataFrame({"dataset": ["b"], "test metric": [1.0]}), n)
    assert OFFICIAL_NORMALIZER.is_file()


# ---------------------------------------------------------------------------- default mode


def test_default_mode_tables(official_dir: Path, tmp_path: Path) -> None:
    subs = load_inputs([official_dir / FULL[1], official_dir / FROZEN])
    result = aggregate(subs, reps=2000, seed=3)
    caps = result.capabilities
    names = list(display_names().values())
    expected = ["submission", "backbone"] + [c for n in names
                                             for c in (n, f"{n} ci_low", f"{n} ci_high")]
    assert list(caps.columns) == expected
    assert caps["submission"].tolist() == [FULL[1]] * 3 + [FROZEN] * 10  # input order, then backbone
    assert caps["backbone"].tolist()[:3] == sorted(caps["backbone"].tolist()[:3])
    full = caps[caps["submission"] == FULL[1]]
    for n in names:
        assert (full[f"{n} ci_low"] <= full[n]).all() and (full[n] <= full[f"{n} ci_high"]).all()
    frozen = caps[caps["submission"] == FROZEN]
    assert frozen["Core"].isna().all() and frozen["Core ci_low"].isna().all()
    assert any(n.startswith(FROZEN) and "Core not computed for 10 backbones" in n
               for n in result.notes)
    # point = IQM of all normalized (dataset, seed) scores of the capability
    s = result.scores
    cap = next(c for c in official_capabilities() if c.display_name == "Multi-Temporal")
    sel = s[(s.submission == FROZEN) & (s.backbone == "clay_v1_base") & s.dataset.isin(cap.datasets)]
    from scipy.stats import trim_mean

    row = frozen[frozen["backbone"] == "clay_v1_base"].iloc[0]
    assert row["Multi-Temporal"] == pytest.approx(trim_mean(sel["score"], 0.25), abs=1e-12)
    # per-dataset: IQM over seeds, normalized and raw; official dataset column order
    pd_cols = list(result.per_dataset.columns)
    assert pd_cols[:3] == ["submission", "backbone", "biomassters"] and len(pd_cols) == 21
    one = s[(s.submission == FROZEN) & (s.backbone == "clay_v1_base") & (s.dataset == "pastis")]
    got = result.per_dataset.set_index(["submission", "backbone"]).loc[(FROZEN, "clay_v1_base")]
    raw = result.raw_per_dataset.set_index(["submission", "backbone"]).loc[(FROZEN, "clay_v1_base")]
    assert got["pastis"] == pytest.approx(trim_mean(one["score"], 0.25))
    assert raw["pastis"] == pytest.approx(trim_mean(one["test metric"], 0.25))
    assert np.isnan(got["nzcattle"])
    assert list(result.scores.columns) == ["submission", "backbone", "frozen_or_full_ft", "dataset",
                                           "Metric", "Seed", "test metric", "score"]
    # same seed -> same numbers; written files round-trip exactly
    again = aggregate(subs, reps=2000, seed=3)
    pd.testing.assert_frame_equal(again.capabilities, caps)
    # the stage scores each fine-tuning mode on its own (FULL[1] is full_ft, FROZEN frozen): in
    # default mode that changes no number; the written tables round-trip exactly
    run([official_dir / FULL[1], official_dir / FROZEN], tmp_path / "out", reps=2000, seed=3)
    for name, table in (("capabilities.csv", caps), ("per_dataset.csv", result.per_dataset),
                        ("raw_per_dataset.csv", result.raw_per_dataset)):
        back = pd.read_csv(tmp_path / "out" / name, float_precision="round_trip")
        pd.testing.assert_frame_equal(back, table, check_exact=True, check_dtype=False)
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_dataset_level_bootstrap_widens_intervals(official_dir: Path) -> None:
    subs = [load_input(official_dir / FULL[1])]
    seeds = aggregate(subs, reps=2000).capabilities
    both = aggregate(subs, reps=2000, unit="datasets").capabilities
    pd.testing.assert_series_equal(seeds["Core"], both["Core"])  # same points
    assert ((both["Core ci_high"] - both["Core ci_low"])
            > (seeds["Core ci_high"] - seeds["Core ci_low"])).all()


def test_intervals_do_not_depend_on_the_other_inputs(official_dir: Path) -> None:
    """Each backbone's resamples come from its own stream (seed, submission, backbone)."""
    a = load_input(official_dir / FULL[1])
    b = load_input(official_dir / FROZEN)
    alone = aggregate([a], reps=500, seed=11).capabilities
    both = aggregate([b, a], reps=500, seed=11).capabilities
    pd.testing.assert_frame_equal(both[both["submission"] == FULL[1]].reset_index(drop=True), alone)
    other = aggregate([a], reps=500, seed=12).capabilities
    assert not np.allclose(other["Core ci_low"], alone["Core ci_low"])


def test_shared_resamples_give_each_backbones_own_bootstrap(official_dir: Path) -> None:
    """The leaderboard's common random numbers vs an independent bootstrap of one array."""
    from geobench.aggregate.stats import bootstrap_many

    result = aggregate([load_input(official_dir / FROZEN)], reps=20_000, seed=5)
    cap = next(c for c in official_capabilities() if c.display_name == "Pixel-wise")
    s = result.scores[result.scores["backbone"] == "dinov3_vitl16"]
    arr = np.stack([s[s.dataset == d].sort_values("Seed")["score"].to_numpy() for d in cap.datasets],
                   axis=1)
    point, lo, hi = bootstrap_many({"x": arr}, 20_000, np.random.default_rng(0))["x"]
    row = result.capabilities.set_index("backbone").loc["dinov3_vitl16"]
    assert row["Pixel-wise"] == pytest.approx(point, abs=1e-12)
    assert row["Pixel-wise ci_low"] == pytest.approx(lo, abs=0.002)
    assert row["Pixel-wise ci_high"] == pytest.approx(hi, abs=0.002)
