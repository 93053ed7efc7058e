"""geobench.submit: packages the seed runs of run directories into a submission folder that
validates; --format official writes exactly the official files and columns; failures leave
nothing behind."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from geobench.errors import ResultsError
from geobench.models import get_spec
from geobench.results_store import EXTRA_COLUMNS, OFFICIAL_COLUMNS, RESULT_COLUMNS, write_row
from geobench.submission import schema as S
from geobench.submission import validate_path
from geobench.submission.package import (
    InvalidSubmissionError,
    SubmissionOptions,
    build_submission,
)
from geobench.submission.protocol_check import official_hash
from geobench.submit import main as submit_main

CLASSIFICATION = ("so2sat", "forestnet", "benv2", "treesatai")
SEEDS = (205, 913, 1829, 2007, 2254)


def _row(ds: str, phase: str, seed: int, trial: int | None, backbone: str, mode: str, value: float) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in RESULT_COLUMNS}
    row.update({
        "dataset": ds, "Metric": S.OFFICIAL_METRICS[ds], "test metric": value, "Seed": seed,
        "backbone": backbone, "decoder": "UNet", "experiment_name": f"geobench_{backbone}",
        "partition name": "100%", "early_stop_patience": 10, "n_trials": 16, "data_percentages": 100,
        "batch_size_selection": "HPO", "frozen_or_full_ft": mode, "batch_size": 16, "lr": 3.7e-05,
        "weight_decay": 0.01, "run_id": f"{backbone}-{ds}-{phase}-{seed}-{trial}", "phase": phase,
        "trial": trial, "val_metric": 0.61, "epochs": 14, "train_seconds": 12.25,
        "images_per_second": 250.5, "device": "cpu", "geobench_version": "0.1.0",
        "config_hash": "c0ffee", "started_at": "2025-01-01T00:00:00Z", "finished_at": "2025-01-01T00:02:00Z",
        "protocol": "geobench2", "protocol_hash": official_hash(ds, backbone),
    })  # fmt: skip
    return row


def make_run(run_dir: Path, datasets: tuple[str, ...] = CLASSIFICATION, *, backbone: str = "resnet50",
             mode: str = "full_ft", hpo_trials: int = 3, repeat: bool = True) -> Path:
    """A run directory as geobench.run leaves it: HPO trial rows and 5 seed-run rows per dataset."""
    for d, ds in enumerate(datasets):
        for t in range(hpo_trials):
            write_row(run_dir, _row(ds, "hpo", 0, t, backbone, mode, 0.1 + t / 10))
        for i, seed in enumerate(SEEDS if repeat else ()):
            write_row(run_dir, _row(ds, "repeat", seed, None, backbone, mode, 0.5 + d / 10 + i / 1000 + 1e-9))
    return run_dir


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_packages_seed_runs_into_a_valid_folder(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    target, report = build_submission([run], tmp_path / "submissions",
                                      SubmissionOptions(license="MIT", paper="https://arxiv.org/abs/2511.15658"))
    assert target.parent == tmp_path / "submissions"
    assert sorted(p.name for p in target.iterdir()) == sorted(S.GEOBENCH_FILES)
    assert report.ok and validate_path(target).ok
    header, rows = read_csv(target / S.CSV_FILE)
    assert header == list(OFFICIAL_COLUMNS + EXTRA_COLUMNS)
    assert len(rows) == 20 and {r["phase"] for r in rows} == {"repeat"}  # the 12 HPO rows are left out
    assert [(r["dataset"], int(r["Seed"])) for r in rows[:5]] == [("benv2", s) for s in SEEDS]
    stored = {json.loads(p.read_text())["run_id"]: json.loads(p.read_text()) for p in (run / "results").glob("*.json")}
    for r in rows:  # values survive exactly
        assert float(r["test metric"]) == stored[r["run_id"]]["test metric"]
        assert float(r["lr"]) == 3.7e-05 and r["trial"] == ""
    info = json.loads((target / S.JSON_FILE).read_text())
    keys = list(S.ADDITIONAL_INFO_KEYS)
    assert list(info) == [*keys[:4], S.SEEDS_KEY, *keys[4:]]
    assert info["License"] == "MIT" and info["Number of HPO trials"] == "16" and info[S.SEEDS_KEY] == "5"
    assert info["New model info"] == []  # resnet50 is already on the official leaderboard
    meta = json.loads((target / S.GEOBENCH_FILE).read_text())
    assert meta["submission_id"] == target.name and meta["fine_tuning"] == "full_ft"
    assert meta["protocol"]["repeated_seeds"] == 5 and meta["protocol"]["seeds"] == list(SEEDS)
    assert meta["models"] == [{"backbone": "resnet50", "display_name": "Resnet50-ImageNet",
                               "parameters": get_spec("resnet50").backbone_params, "size": "25M",
                               "license": "MIT", "paper": "https://arxiv.org/abs/2511.15658", "code": "N/A"}]
    assert uuid.UUID(target.name).version == 4


def test_official_format_writes_exactly_the_official_files(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    target, report = build_submission([run], tmp_path / "out", SubmissionOptions(fmt="official", submission_id="x1"))
    assert sorted(p.name for p in target.iterdir()) == sorted(S.OFFICIAL_FILES)
    header, rows = read_csv(target / S.CSV_FILE)
    assert header == list(OFFICIAL_COLUMNS) and len(rows) == 20
    info = json.loads((target / S.JSON_FILE).read_text())
    assert set(S.ADDITIONAL_INFO_KEYS) <= set(info)
    assert all(isinstance(info[k], t) for k, t in S.ADDITIONAL_INFO_KEYS.items())
    assert report.layout == "official" and validate_path(target).ok


def test_new_models_sizes_and_several_backbones(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", backbone="my_vit")
    b = make_run(tmp_path / "b", backbone="resnet50")
    (a / "model_info.json").write_text(json.dumps({"my_vit": {"parameters": 86_567_656}}))
    opts = SubmissionOptions(names={"my_vit": "My ViT-B"}, submission_id="two")
    target, report = build_submission([a, b], tmp_path / "out", opts)
    assert report.ok, [str(p) for p in report.errors]
    meta = json.loads((target / S.GEOBENCH_FILE).read_text())
    models = {m["backbone"]: m for m in meta["models"]}
    assert models["my_vit"]["display_name"] == "My ViT-B"
    assert (models["my_vit"]["parameters"], models["my_vit"]["size"]) == (86_567_656, "87M")
    info = json.loads((target / S.JSON_FILE).read_text())
    assert info["New model info"] == [{"model_display_name": "My ViT-B", "model_size": "87M",
                                       "unique_backbone_key": "my_vit"}]
    opts = SubmissionOptions(sizes={"my_vit": "0.1B"}, submission_id="three")
    meta = json.loads((build_submission([a], tmp_path / "out", opts)[0] / S.GEOBENCH_FILE).read_text())
    assert (meta["models"][0]["parameters"], meta["models"][0]["size"]) == (None, "0.1B")
    with pytest.raises(ResultsError, match="--size names backbone"):
        build_submission([a], tmp_path / "out", SubmissionOptions(sizes={"nope": "1M"}))
    with pytest.raises(ResultsError, match="model size 'huge'"):
        build_submission([a], tmp_path / "out", SubmissionOptions(sizes={"my_vit": "huge"}))


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_run_without_seed_runs_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", repeat=False)
    with pytest.raises(ResultsError, match=r"no finished seed runs \(phase 'repeat'\).*only 12 HPO trial rows"):
        build_submission([run], tmp_path / "out", SubmissionOptions())
    assert submit_main([str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert _leftovers(tmp_path / "out") == []
    with pytest.raises(ResultsError, match="run directory not found"):
        build_submission([tmp_path / "missing"], tmp_path / "out", SubmissionOptions())


def test_invalid_result_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", ("so2sat", "forestnet"))  # completes no capability
    out = tmp_path / "out"
    with pytest.raises(InvalidSubmissionError) as info:
        build_submission([run], out, SubmissionOptions(submission_id="s"))
    assert any("no capability is complete" in p.message and p.file == str(out / "s" / S.CSV_FILE)
               for p in info.value.report.errors)
    assert _leftovers(out) == []
    assert submit_main([str(run), "--out", str(out)]) == 1
    assert "no capability is complete" in capsys.readouterr().err
    assert _leftovers(out) == []


def test_failure_while_moving_into_place_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geobench.fileio as fileio  # the submission folder is moved into place by atomic_directory

    def broken_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "rename", broken_rename)
    with pytest.raises(OSError, match="No space left"):
        build_submission([make_run(tmp_path / "run")], tmp_path / "out", SubmissionOptions(submission_id="s"))
    assert _leftovers(tmp_path / "out") == []


def test_refuses_bad_ids_existing_targets_and_mixed_modes(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    out = tmp_path / "out"
    for bad in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(ResultsError):
            build_submission([run], out, SubmissionOptions(submission_id=bad or "x y"))
    build_submission([run], out, SubmissionOptions(submission_id="same"))
    with pytest.raises(ResultsError, match="already exists"):
        build_submission([run], out, SubmissionOptions(submission_id="same"))
    with pytest.raises(ResultsError, match="given twice"):
        build_submission([run, run], out, SubmissionOptions())
    frozen = make_run(tmp_path / "frozen", backbone="clay_v1_base", mode="frozen")
    with pytest.raises(ResultsError, match="mix fine-tuning modes"):
        build_submission([run, frozen], out, SubmissionOptions())
    lora = make_run(tmp_path / "lora", mode="lora")
    with pytest.raises(ResultsError, match="accepts only full_ft and frozen"):
        build_submission([lora], out, SubmissionOptions(fmt="official"))
    target, report = build_submission([lora], out, SubmissionOptions(submission_id="lora"))
    assert report.ok and json.loads((target / S.GEOBENCH_FILE).read_text())["fine_tuning"] == "lora"
    assert _leftovers(out) == ["lora", "same"]


def test_cli_end_to_end(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", backbone="new_model")
    out = tmp_path / "subs"
    proc = subprocess.run(
        [sys.executable, "-m", "geobench.submit", str(run), "--out", str(out), "--id", "mine",
         "--name", "New Model", "--size", "300M", "--license", "Apache-2.0", "--code", "https://example.org/m"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out / 'mine'} (20 seed runs" in proc.stdout
    meta = json.loads((out / "mine" / S.GEOBENCH_FILE).read_text())
    assert meta["models"][0]["display_name"] == "New Model" and meta["models"][0]["size"] == "300M"
    assert meta["models"][0]["license"] == "Apache-2.0" and meta["models"][0]["code"] == "https://example.org/m"
    proc = subprocess.run([sys.executable, "-m", "geobench.validate", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "mine: OK (geobench layout, 20 rows" in proc.stdout
    two = make_run(tmp_path / "two", backbone="resnet50")
    assert submit_main([str(run), str(two), "--name", "X", "--out", str(out)]) == 2  # which backbone?


def test_metadata_defaults_come_from_the_model_registry(tmp_path: Path) -> None:
    clay = make_run(tmp_path / "clay", backbone="clay_v1_base")
    target, report = build_submission([clay], tmp_path / "out", SubmissionOptions(submission_id="c"))
    model = json.loads((target / S.GEOBENCH_FILE).read_text())["models"][0]
    spec = get_spec("clay_v1_base")
    assert model["display_name"] == "Clay-V1 ViT-B" and model["size"] == "100M"  # as on the leaderboard
    assert (model["parameters"], model["license"]) == (spec.backbone_params, spec.license)
    assert model["paper"] == (spec.paper or "N/A")
    info = json.loads((target / S.JSON_FILE).read_text())
    assert info["License"] == spec.license and info["New model info"] == []
    smoke = make_run(tmp_path / "smoke", backbone="smoke")  # in geobench's registry, new to the leaderboard
    target, report = build_submission([smoke], tmp_path / "out", SubmissionOptions(submission_id="s"))
    assert report.ok, [str(p) for p in report.errors]
    model = json.loads((target / S.GEOBENCH_FILE).read_text())["models"][0]
    spec = get_spec("smoke")
    assert model["display_name"] == spec.display_name and model["parameters"] == spec.backbone_params
    assert model["size"] == S.format_size(spec.backbone_params)
    entry = json.loads((target / S.JSON_FILE).read_text())["New model info"]
    assert entry == [{"model_display_name": spec.display_name, "model_size": model["size"], "unique_backbone_key": "smoke"}]


def test_rows_of_another_protocol_are_refused_with_the_setting_named(tmp_path: Path) -> None:
    """submit (both formats) and validate accept only geobench2 rows with the preset's hash."""
    import dataclasses

    from geobench.protocol import dataset_settings, load_preset

    smoke = make_run(tmp_path / "smoke", ("so2sat",))
    for p in (smoke / "results").glob("*.json"):
        row = json.loads(p.read_text())
        p.write_text(json.dumps({**row, "protocol": "smoke"}))
    for fmt in ("official", "geobench"):
        with pytest.raises(ResultsError, match="so2sat was run under protocol 'smoke'"):
            build_submission([smoke], tmp_path / f"s_{fmt}", SubmissionOptions(fmt=fmt))
        assert not (tmp_path / f"s_{fmt}").exists() or not any((tmp_path / f"s_{fmt}").iterdir())
    # geobench2 by name, but one setting overridden: the run directory's settings name it
    changed = dataset_settings(dataclasses.replace(load_preset("geobench2"), max_epochs=20), "so2sat", "resnet50")
    tweaked = make_run(tmp_path / "tweaked", ("so2sat",))
    for p in (tweaked / "results").glob("*.json"):
        row = json.loads(p.read_text())
        p.write_text(json.dumps({**row, "protocol_hash": changed.hash()}))
    (tweaked / "protocol").mkdir()
    (tweaked / "protocol" / "so2sat.json").write_text(json.dumps(
        {"protocol_hash": changed.hash(), "settings": changed.payload()}))
    with pytest.raises(ResultsError, match=r"max_epochs=20 \(geobench2: 50\)"):
        build_submission([tweaked], tmp_path / "s2", SubmissionOptions(fmt="official"))
    # validate: a hand-edited geobench-layout CSV with a foreign protocol row fails with its line
    good = make_run(tmp_path / "good")
    target, _ = build_submission([good], tmp_path / "subs", SubmissionOptions(license="MIT"))
    csv_path = target / S.CSV_FILE
    lines = csv_path.read_text().splitlines()
    lines[3] = lines[3].replace(",geobench2,", ",fast,")
    csv_path.write_text("\n".join(lines) + "\n")
    report = validate_path(target)
    assert not report.ok
    assert any(p.line == 4 and "protocol 'fast'" in p.message for p in report.problems)


def test_text_cells_are_safe_for_spreadsheets_and_numbers_unchanged(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for d, ds in enumerate(CLASSIFICATION):
        for i, seed in enumerate(SEEDS):
            row = _row(ds, "repeat", seed, None, "resnet50", "full_ft", 0.5 + d / 10 + i / 1000)
            row.update({"experiment_name": '=HYPERLINK("https://evil.example","x")', "decoder": "@UNet",
                        "device": "-cuda", "val_metric": -0.5})
            write_row(run, row)
    target, report = build_submission([run], tmp_path / "out", SubmissionOptions(submission_id="safe"))
    assert report.ok, [str(p) for p in report.errors]
    _, rows = read_csv(target / S.CSV_FILE)
    assert {r["experiment_name"] for r in rows} == {"'=HYPERLINK(\"https://evil.example\",\"x\")"}
    assert {(r["decoder"], r["device"], r["val_metric"]) for r in rows} == {("'@UNet", "'-cuda", "-0.5")}
    first = next(r for r in rows if r["dataset"] == "so2sat" and r["Seed"] == "205")
    assert (first["test metric"], first["lr"], first["batch_size"]) == ("0.5", "3.7e-05", "16")
