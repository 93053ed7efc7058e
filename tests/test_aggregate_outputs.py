"""The aggregate output folder (geobench-aggregate/1): the manifest describes every file, the
tables agree with each other and with the inputs, the plot numbers are consistent, and the same
inputs give the same bytes."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import trim_mean
from test_leaderboard import EVIL, EVIL_SUB, REPS, write_inputs

from geobench.aggregate.outputs import FILES, FORMAT, input_hash
from geobench.aggregate.stage import run
from geobench.capabilities import official_capabilities


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_inputs(tmp_path_factory.mktemp("outputs") / "inputs")


@pytest.fixture(scope="module")
def folder(inputs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("outputs") / "agg"
    run(inputs, out, reps=REPS)
    return out


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_manifest_describes_every_file(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == FORMAT == "geobench-aggregate/1"
    assert manifest["options"] == {"mode": "default", "reps": REPS, "seed": 0, "ci": 0.95,
                                   "unit": "seeds", "raw_metrics": False, "plot_seed": 20250101,
                                   "profile_points": 61, "plot_top": 25}
    assert set(manifest["files"]) == set(FILES)
    assert {p.name for p in folder.iterdir()} == set(FILES) | {"manifest.json"}
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["description"]
        if name.endswith(".csv"):
            header, rows = _read(folder / name)
            assert entry["columns"] == header and entry["rows"] == len(rows) > 0, name
    assert [(b["frozen_or_full_ft"], b["submissions"], b["backbones"]) for b in manifest["boards"]] == [
        ("full_ft", ["alpha-full", "gamma-mixed"], 4), ("frozen", [EVIL_SUB], 2),
        ("lora", ["gamma-mixed"], 2)]
    assert any("Detection (Object/Instance) not computed" in n for n in manifest["notes"])


def test_tables_agree_with_each_other_and_the_inputs(folder: Path, inputs: list[Path]) -> None:
    from geobench.aggregate.inputs import load_inputs

    caps_header, caps = _read(folder / "capabilities.csv")
    assert caps_header[:5] == ["submission", "backbone", "Core", "Core ci_low", "Core ci_high"]
    _, boards = _read(folder / "backbones.csv")
    assert sorted((r["submission"], r["backbone"]) for r in boards) == sorted(
        (r["submission"], r["backbone"]) for r in caps)
    mode = {(r["submission"], r["backbone"]): r["frozen_or_full_ft"] for r in boards}
    assert mode[("gamma-mixed", "resnet50")] == "lora" and mode[("alpha-full", "resnet50")] == "full_ft"
    # per-dataset IQM = the IQM of the per-seed scores, normalized and raw
    _, scores = _read(folder / "scores.csv")
    _, per = _read(folder / "per_dataset.csv")
    _, raw = _read(folder / "raw_per_dataset.csv")
    for table, column in ((per, "score"), (raw, "test metric")):
        row = next(r for r in table if r["backbone"] == EVIL)
        seeds = [float(s[column]) for s in scores if s["backbone"] == EVIL and s["dataset"] == "pastis"]
        assert len(seeds) == 5 and float(row["pastis"]) == pytest.approx(trim_mean(seeds, 0.25))
    _, datasets = _read(folder / "datasets.csv")
    bio = [r for r in datasets if r["dataset"] == "biomassters"]
    assert [r["frozen_or_full_ft"] for r in bio] == ["full_ft", "frozen", "lora"]
    assert bio[0]["transform_metric"] == "RMSE" and float(bio[0]["transform_scale"]) == 0.2537951171398163
    assert datasets[0]["dataset"] == "benv2" and datasets[0]["transform_scale"] == ""
    subs = json.loads((folder / "submissions.json").read_text(encoding="utf-8"))
    loaded = load_inputs(inputs)
    assert [s["submission"] for s in subs] == [s.name for s in loaded]
    assert [s["sha256"] for s in subs] == [input_hash(s) for s in loaded]
    gamma = subs[2]
    assert gamma["protocols"] == ["geobench2"] and subs[0]["protocols"] == []
    assert [(p["frozen_or_full_ft"], p["rows"]) for p in gamma["parts"]] == [("full_ft", 95),
                                                                          ("lora", 190)]
    assert subs[1]["info"]["Paper Link"] == "javascript:alert(3)"  # as declared; pages escape it
    caps_json = json.loads((folder / "capability_datasets.json").read_text(encoding="utf-8"))
    assert [(c["name"], tuple(c["datasets"])) for c in caps_json] == [
        (c.name, c.datasets) for c in official_capabilities()]


def test_plot_numbers_are_consistent(folder: Path) -> None:
    _, caps = _read(folder / "capabilities.csv")
    core = {(r["submission"], r["backbone"]): float(r["Core"] or "nan") for r in caps}
    _, members = _read(folder / "plot_backbones.csv")
    placed = [r for r in members if r["frozen_or_full_ft"] == "full_ft" and r["capability"] == "core"]
    plotted = sorted((int(r["position"]), (r["submission"], r["backbone"]))
                     for r in placed if r["position"])
    values = [core[k] for _, k in plotted]
    assert len(plotted) == 3 and values == sorted(values, reverse=True)  # best first
    assert {r["backbone"]: r["excluded"] for r in placed if not r["position"]} == {
        "dofa_base_patch16_224": "no results for substation, everwatch"}
    _, poi = _read(folder / "poi.csv")
    p = {(r["frozen_or_full_ft"], r["capability"], r["backbone"], r["other_backbone"]):
         (float(r["probability"]), float(r["ci_low"]), float(r["ci_high"])) for r in poi}
    for (board, cap, a, b), (point, low, high) in p.items():
        assert low <= point <= high and point + p[(board, cap, b, a)][0] == pytest.approx(1.0)
    _, ranks = _read(folder / "rank_distribution.csv")
    sums: dict[tuple[str, ...], float] = {}
    for r in ranks:
        for key in ((r["frozen_or_full_ft"], r["capability"], r["backbone"]),
                    (r["frozen_or_full_ft"], r["capability"], "#" + r["rank"])):
            sums[key] = sums.get(key, 0.0) + float(r["probability"])
    assert sums and all(v == pytest.approx(1.0) for v in sums.values())
    _, profiles = _read(folder / "performance_profiles.csv")
    one = [r for r in profiles if r["frozen_or_full_ft"] == "full_ft" and r["capability"] == "core"
           and r["backbone"] == EVIL]
    taus, fractions = (np.array([float(r[k]) for r in one]) for k in ("tau", "fraction"))
    assert len(one) == 61 and taus[0] <= 0 and taus[-1] >= 1
    assert (np.diff(taus) > 0).all() and (np.diff(fractions) <= 0).all()
    assert not [r for r in members if r["frozen_or_full_ft"] == "frozen" and r["capability"] == "detection"
                and r["position"]]  # frozen has no detection results: nobody plotted


def test_same_inputs_same_bytes_and_official_mode(inputs: list[Path], folder: Path,
                                                   tmp_path: Path) -> None:
    again = tmp_path / "again"
    run(inputs, again, reps=REPS)
    assert {p.name: p.read_bytes() for p in again.iterdir()} == {
        p.name: p.read_bytes() for p in folder.iterdir()}
    official = tmp_path / "official"
    result = run(inputs[2:], official, mode="official", reps=20)
    header, rows = _read(official / "capabilities.csv")
    assert header[2:4] == ["Core", "Core sem"] and "Core ci_low" not in header
    assert result.reps == 20 and len(rows) == result.rows == 3
    manifest = json.loads((official / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["mode"] == "official"
    assert [b["frozen_or_full_ft"] for b in manifest["boards"]] == ["full_ft", "lora"]


def test_the_order_of_the_rows_does_not_change_a_digit(official_dir: Path) -> None:
    """A submission's rows shuffled (as another export may write them) give the same capability
    scores, intervals and per-dataset IQMs, bit for bit: each dataset's seeds are taken in seed
    order before they meet the shared bootstrap counts."""
    import dataclasses

    import pandas as pd

    from geobench.aggregate.core import aggregate
    from geobench.aggregate.inputs import load_inputs

    subs = load_inputs([official_dir / "80100fc6-dc1a-4514-b946-341157eaf816"])
    shuffled = [dataclasses.replace(s, rows=s.rows.sample(frac=1.0, random_state=7).reset_index(drop=True))
                for s in subs]
    assert not shuffled[0].rows.equals(subs[0].rows)
    for unit in ("seeds", "datasets"):
        a, b = aggregate(subs, reps=500, unit=unit), aggregate(shuffled, reps=500, unit=unit)
        assert a.capabilities[a.capabilities.columns[2:]].notna().any().any()
        pd.testing.assert_frame_equal(a.capabilities, b.capabilities, check_exact=True)
        pd.testing.assert_frame_equal(a.per_dataset, b.per_dataset, check_exact=True)
        pd.testing.assert_frame_equal(a.raw_per_dataset, b.raw_per_dataset, check_exact=True)
