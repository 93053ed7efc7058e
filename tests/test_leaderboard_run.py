"""A run's leaderboard (RUN_DIR/leaderboard): the run's model beside the published GEO-Bench-2
results shipped in the package (exactly the published per-seed scores, scored exactly as on the
committed board), partial capability scores over the datasets that ran, the smoke run's own Smoke
board, and a quiet console (third-party warnings in run.log, not on the terminal)."""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import trim_mean
from test_leaderboard import Page, pages

from geobench.leaderboard.__main__ import main
from geobench.leaderboard.runboard import run_arguments

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "leaderboards" / "geobench2"
PACKAGE_COPY = ROOT / "geobench" / "leaderboard" / "published"
FULL_FT = ("114be1f0-5a41-43a5-b4e6-7fb683bc01ec", "2ce4a907-7ae3-45d3-a07a-558f8d0d758b")
FROZEN = "80100fc6-dc1a-4514-b946-341157eaf816"
CLASSIFICATION = ("so2sat", "forestnet", "benv2", "treesatai")
METRICS = {"benv2": "Multilabel_F1_Score", "treesatai": "Multilabel_F1_Score",
           "so2sat": "Overall_Accuracy", "forestnet": "Overall_Accuracy"}
SEEDS = (205, 913, 1000, 2254, 3087)
BENV2_PARTIAL = ["Core (partial: benv2)", "Multi-Spectral-Dependent (partial: benv2)",
                 "Classification (partial: benv2)", "10m and Above Resolution (partial: benv2)"]


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _by_key(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["submission"], r["backbone"]): r for r in rows}


def write_run(run_dir: Path, datasets: tuple[str, ...]) -> dict[str, list[float]]:
    """A run directory as geobench.run leaves it on real data (protocol geobench2): HPO and seed
    rows through the results store, config.yaml of a `dataset=`/`capability=` run and the
    model's model_info.json. Returns the seed runs' test metric per dataset."""
    from geobench.results_store import RESULT_COLUMNS, write_row

    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("capability:\n  name: null\n  synthetic: false\n",
                                         encoding="utf-8")
    (run_dir / "model_info.json").write_text(json.dumps(
        {"my_net": {"display_name": "My Net", "parameters": 12_345_678}}), encoding="utf-8")
    values: dict[str, list[float]] = {}
    for k, d in enumerate(datasets):
        for phase, seeds in (("hpo", (0,)), ("repeat", SEEDS)):
            for i, seed in enumerate(seeds):
                value = 0.55 + 0.03 * k + 0.011 * i
                row = dict.fromkeys(RESULT_COLUMNS) | {
                    "dataset": d, "Metric": METRICS[d], "test metric": value, "Seed": seed,
                    "backbone": "my_net", "frozen_or_full_ft": "full_ft", "phase": phase,
                    "trial": 0 if phase == "hpo" else None, "run_id": f"{d}-{phase}-{seed}",
                    "protocol": "geobench2"}
                write_row(run_dir, row)
                if phase == "repeat":
                    values.setdefault(d, []).append(value)
    return values


def run_board(run_dir: Path) -> Path:
    out = run_dir / "leaderboard"
    assert main(run_arguments(run_dir, out)) == 0
    return out


@pytest.fixture(scope="module")
def benv2_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[float]]]:
    run_dir = tmp_path_factory.mktemp("runs") / "benv2"
    values = write_run(run_dir, ("benv2",))
    return run_board(run_dir), values


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "classification"
    write_run(run_dir, CLASSIFICATION)
    return run_board(run_dir)


# ------------------------------------------------------------------ the shipped published scores


def test_package_copy_equals_the_committed_leaderboard_data() -> None:
    """import-official writes both copies; they cannot drift apart."""
    for name in ("scores.csv", "scores-info.json"):
        assert (PACKAGE_COPY / name).read_bytes() == (COMMITTED / "data" / name).read_bytes(), name
    table = (PACKAGE_COPY / "scores.csv").read_bytes()
    info = json.loads((PACKAGE_COPY / "scores-info.json").read_text(encoding="utf-8"))
    assert info["scores"]["sha256"] == hashlib.sha256(table).hexdigest()
    assert info["scores"]["rows"] == len(table.splitlines()) - 1 == 2665
    assert [s["submission"] for s in info["submissions"]] == sorted([*FULL_FT, FROZEN])
    assert "commit 1659ccf, Apache-2.0" in info["attribution"]
    models = {m["backbone"]: m["display_name"] for s in info["submissions"] for m in s["models"]}
    assert models["dinov3_vitl16"] == "DinoV3-ViT-L-SAT" and len(models) == 18
    manifest = json.loads((COMMITTED / "leaderboard.json").read_text(encoding="utf-8"))
    assert {"data/scores.csv", "data/scores-info.json"} <= set(manifest["files"])


def test_the_wheel_ships_the_published_scores() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = conf["tool"]["setuptools"]["package-data"]["geobench"]
    shipped = sorted(p.relative_to(ROOT / "geobench").as_posix() for p in PACKAGE_COPY.iterdir())
    assert shipped == ["leaderboard/published/scores-info.json", "leaderboard/published/scores.csv"]
    for rel in shipped:
        assert any(fnmatch.fnmatch(rel, g) for g in globs), rel


def test_published_scores_are_the_official_rows_exactly(official_dir: Path) -> None:
    """Every published seed run, value for value (float ==), in the order the default mode's
    bootstrap pairs seeds with resamples, and each submission's metadata as published."""
    from geobench.aggregate.inputs import REQUIRED_COLUMNS, load_inputs
    from geobench.aggregate.outputs import input_hash
    from geobench.aggregate.published import load_published
    from geobench.leaderboard.official import find_layout

    official = load_inputs(find_layout(official_dir).submissions)
    shipped = load_published(PACKAGE_COPY)
    info = json.loads((PACKAGE_COPY / "scores-info.json").read_text(encoding="utf-8"))
    assert [s.name for s in shipped] == [s.name for s in official]
    cols = list(REQUIRED_COLUMNS)
    for ours, theirs, meta in zip(shipped, official, info["submissions"], strict=True):
        want = theirs.rows.sort_values(["backbone", "dataset"], kind="mergesort")[cols]
        got = ours.rows[cols]
        assert len(got) == len(want) == meta["rows"]
        assert got.to_dict("list") == want.reset_index(drop=True).to_dict("list")
        assert ours.info == theirs.info and meta["sha256"] == input_hash(theirs)


def test_a_submissions_default_scores_do_not_depend_on_the_other_inputs(tmp_path: Path) -> None:
    """What the run's board relies on: in default mode a published backbone's capability score and
    interval are the same alone, beside a run, and restricted to the capability's datasets."""
    from geobench.aggregate.core import aggregate
    from geobench.aggregate.inputs import load_input
    from geobench.aggregate.published import load_published
    from geobench.capabilities import load_capability

    write_run(tmp_path / "run", CLASSIFICATION)
    run = load_input(tmp_path / "run")
    every = load_published(PACKAGE_COPY, modes={"full_ft"})
    some = load_published(PACKAGE_COPY, datasets=CLASSIFICATION, modes={"full_ft"})
    caps = [load_capability("classification")]
    cols = ["Classification", "Classification ci_low", "Classification ci_high"]
    alone = aggregate(every, reps=2000).capabilities  # nine capabilities, every dataset
    beside = aggregate([run, *some], reps=2000, capabilities=caps).capabilities
    beside = beside[beside["submission"] != run.name].reset_index(drop=True)
    assert len(beside) == len(alone) == 21
    assert beside[["submission", "backbone"]].equals(alone[["submission", "backbone"]])
    np.testing.assert_array_equal(beside[cols].to_numpy(), alone[cols].to_numpy())


# ------------------------------------------------------------------------------ the run's board


def test_the_run_is_scored_beside_the_published_models(classification_run: Path) -> None:
    """A run of the four Classification datasets: a full Classification score for it and for the
    21 published full fine-tuning backbones, each published one equal to the committed board's
    (score, interval and per-dataset IQM); frozen results are not the run's mode: left out."""
    manifest = json.loads((classification_run / "leaderboard.json").read_text(encoding="utf-8"))
    assert [i["submission"] for i in manifest["inputs"]] == ["classification", *FULL_FT]
    assert [b["frozen_or_full_ft"] for b in manifest["leaderboards"]] == ["full_ft"]
    ours = _by_key(_csv(classification_run / "data" / "full_ft-overview.csv"))
    committed = _by_key(_csv(COMMITTED / "data" / "full_ft-overview.csv"))
    assert len(ours) == 22 and set(ours) - set(committed) == {("classification", "my_net")}
    cols = ["Classification", "Classification ci_low", "Classification ci_high"]
    for key, row in committed.items():
        assert [ours[key][c] for c in cols] == [row[c] for c in cols], key
    norm = "data/full_ft-classification-normalized.csv"
    ours_ds, committed_ds = _by_key(_csv(classification_run / norm)), _by_key(_csv(COMMITTED / norm))
    for key, row in committed_ds.items():
        assert [ours_ds[key][d] for d in CLASSIFICATION] == [row[d] for d in CLASSIFICATION]
    mine = ours[("classification", "my_net")]
    assert mine["model"] == "My Net" and mine["size"] == "12M" and mine["Classification"]
    header = next(csv.reader(open(classification_run / "data" / "full_ft-overview.csv")))
    assert "Classification" in header and "Core (partial: benv2 + treesatai)" in header
    assert not any(h.startswith("Detection") for h in header)  # nothing of it ran: no column


def test_partial_score_of_a_one_dataset_run(benv2_run: tuple[Path, dict[str, list[float]]]) -> None:
    """`dataset=benv2`: every capability with benv2 is a partial score over benv2, labelled so,
    for the run's model and the published ones alike (over the same dataset)."""
    from geobench.aggregate.normalize import load_normalizer

    board, values = benv2_run
    rows = _csv(board / "data" / "full_ft-overview.csv")
    header = next(csv.reader(open(board / "data" / "full_ft-overview.csv")))
    caps = [h for h in header if "(partial" in h and not h.endswith(("ci_low", "ci_high"))]
    assert caps == BENV2_PARTIAL
    assert not {"Core", "Classification"} & set(header)
    lo, hi = load_normalizer().bounds["benv2"]
    expected = trim_mean([(v - lo) / (hi - lo) for v in values["benv2"]], 0.25)
    mine = _by_key(rows)[("benv2", "my_net")]
    for cap in caps:
        assert float(mine[cap]) == pytest.approx(expected, abs=1e-6)
    # a published backbone's partial score over benv2 is its benv2 IQM on the committed board
    committed = _by_key(_csv(COMMITTED / "data" / "full_ft-classification-normalized.csv"))
    published = {k: r for k, r in _by_key(rows).items() if k[0] in FULL_FT}
    assert len(published) == 21
    for key, row in published.items():
        assert row["Classification (partial: benv2)"] == committed[key]["benv2"], key
    index = Page((board / "index.html").read_text(encoding="utf-8"))
    text = " ".join(index.notes)
    assert ("Classification (partial: benv2) is a partial score: Classification over benv2 only, "
            "1 of its 4 datasets (not run: so2sat, forestnet, treesatai)") in text
    cells = [c["text"] for r in index.tables["full_ft-overview"]["rows"] for c in r]
    assert cells and "n/a" not in cells
    page = pages(board)["full_ft/capability-classification_partial.html"]
    assert "partial score" in " ".join(page.notes)
    assert (board / "full_ft" / "plots" / "classification_partial-poi.svg").is_file()
    subs = pages(board)["submissions.html"].tables["submissions"]
    protocol = subs["keys"].index("protocol")
    assert sorted(r[protocol]["text"] for r in subs["rows"]) == [
        "geobench2", "geobench2 (published runs)", "geobench2 (published runs)"]


def test_stage_options_partial_and_synthetic(tmp_path: Path) -> None:
    from geobench.aggregate.scope import select
    from geobench.aggregate.stage import run
    from geobench.errors import ConfigError

    caps = select(None, partial=True, datasets={"benv2", "so2sat"})
    assert [c.display_name for c in caps] == [
        "Core (partial: benv2)", "Multi-Spectral-Dependent (partial: benv2 + so2sat)",
        "Classification (partial: so2sat + benv2)",
        "10m and Above Resolution (partial: so2sat + benv2)"]
    assert [c.name for c in select(None, partial=False, datasets={"benv2"})][:2] == [
        "core", "multi_spectral_dependent"]  # the official computation: every capability whole
    write_run(tmp_path / "run", ("so2sat",))
    with pytest.raises(ConfigError, match="synthetic data"):
        run([tmp_path / "run"], tmp_path / "agg", capabilities=["smoke"], published=PACKAGE_COPY)
    result = run([tmp_path / "run"], tmp_path / "agg", capabilities=["smoke"], reps=100)
    described = json.loads((tmp_path / "agg" / "capability_datasets.json").read_text("utf-8"))
    assert described == [{"name": "smoke", "display_name": "Smoke", "synthetic": True,
                          "datasets": ["so2sat", "burn_scars", "biomassters"]}]
    assert result.notes == ["run: Smoke not computed for my_net (missing dataset(s): "
                            "biomassters, burn_scars)"]
    # the same options on the command line
    from geobench.aggregate.__main__ import main as aggregate_main

    assert aggregate_main([str(tmp_path / "run"), "--out", str(tmp_path / "cli"), "--reps", "100",
                           "--capabilities", "classification,detection", "--partial",
                           "--published", str(PACKAGE_COPY)]) == 0
    manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["capabilities"] == ["classification_partial"]
    assert manifest["options"]["published"] == list(FULL_FT)
    header = next(csv.reader(open(tmp_path / "cli" / "capabilities.csv")))
    assert header[2:] == ["Classification (partial: so2sat)",
                          "Classification (partial: so2sat) ci_low",
                          "Classification (partial: so2sat) ci_high"]


# ------------------------------------------------------------------ the smoke run, end to end

# Third-party warnings of the kinds a run meets, raised for real once logging is set up (inside
# the synthetic-data step): rasterio opening a GeoTIFF without georeferencing, Optuna's
# ExperimentalWarning and its logger's warnings, matplotlib's font-cache message.
_NOISY_RUN = """
import logging, sys
import numpy as np
import geobench.synthetic as synthetic
real = synthetic.write_synthetic

def noisy(*args, **kwargs):
    from rasterio.io import MemoryFile
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=2, height=2, count=1, dtype="uint8") as ds:
            ds.write(np.zeros((1, 2, 2), "uint8"))
        with mem.open() as ds:
            ds.read()
    import optuna
    optuna.samplers.TPESampler(multivariate=True, group=True)
    optuna.create_study().optimize(lambda t: float("nan"), n_trials=1)
    logging.getLogger("matplotlib.font_manager").warning(
        "Matplotlib is building the font cache; this may take a moment.")
    return real(*args, **kwargs)

synthetic.write_synthetic = noisy
sys.argv = ["geobench.run", *sys.argv[1:]]
from geobench.run import main
main()
"""
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("smoke")
    run_dir = tmp / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLCONFIGDIR=str(tmp / "mpl"),
               PYTHONUNBUFFERED="1")
    done = subprocess.run(
        [sys.executable, "-c", _NOISY_RUN, "capability=smoke", "protocol.n_trials=1",
         "protocol.seeds=[205]", "protocol.max_epochs=1", f"data_root={tmp / 'data'}",
         f"hydra.run.dir={run_dir}", "progress=log"],
        env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir, done


def test_smoke_run_shows_its_smoke_score_and_no_na(smoke_run: tuple[Path, subprocess.CompletedProcess]) -> None:
    run_dir, _ = smoke_run
    board = run_dir / "leaderboard"
    parsed = pages(board)
    overview = parsed["index.html"].tables["full_ft-overview"]
    caps = [k for k in overview["keys"] if k not in ("rank", "model", "submission", "parameters",
                                                      "frozen_or_full_ft")]
    assert caps == ["Smoke"]
    (row,) = overview["rows"]
    cell = dict(zip(overview["keys"], row, strict=True))
    assert cell["model"]["text"] == "Smoke ResNet (tiny)" and cell["submission"]["text"] == "run"
    assert np.isfinite(float(cell["Smoke"]["v"])) and cell["rank"]["text"] == "1"
    assert cell["parameters"]["text"]  # the size from the run's model_info.json
    for rel, page in parsed.items():
        for table in page.tables.values():
            assert "n/a" not in [c["text"] for r in table["rows"] for c in r], rel
    notes = " ".join(parsed["index.html"].notes)
    assert "the published GEO-Bench-2 models have no results on it" in notes
    manifest = json.loads((board / "leaderboard.json").read_text(encoding="utf-8"))
    assert [i["submission"] for i in manifest["inputs"]] == ["run"]  # no published model
    assert set(parsed) == {"index.html", "submissions.html", "full_ft/capability-smoke.html",
                           *(f"full_ft/dataset-{d}.html" for d in ("so2sat", "burn_scars",
                                                                   "biomassters"))}
    scores = _csv(board / "data" / "scores.csv")
    assert sorted((r["dataset"], r["Seed"]) for r in scores) == [
        ("biomassters", "205"), ("burn_scars", "205"), ("so2sat", "205")]


def test_a_smoke_runs_console_is_quiet(smoke_run: tuple[Path, subprocess.CompletedProcess]) -> None:
    """Third-party warnings and log records go to run.log, in its one format, not the terminal."""
    run_dir, done = smoke_run
    console = done.stdout + done.stderr
    for noise in ("Warning", "font cache", "fontManager", "Trial 0 failed", "[W ", "[I "):
        assert noise not in console, noise
    assert "run directory" in done.stderr and "leaderboard" in done.stderr  # geobench's own lines
    log = (run_dir / "run.log").read_text(encoding="utf-8")
    for recorded in ("NotGeoreferencedWarning", "ExperimentalWarning",
                     "Matplotlib is building the font cache", "Trial 0 failed with value nan"):
        assert recorded in log, recorded
    lines = log.splitlines()
    assert lines and all(_LOG_LINE.match(line) or line[:1].isspace() for line in lines), [
        line for line in lines if not (_LOG_LINE.match(line) or line[:1].isspace())][:3]
