"""geobench.validate: the published submissions pass; hand-broken files give the expected
problems on the expected lines; the CLI's exit status and output; the GitHub workflows' shape."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from geobench import manifest
from geobench.results_store import EXTRA_COLUMNS, OFFICIAL_COLUMNS
from geobench.submission import Report, validate_path
from geobench.submission import schema as S
from geobench.submission.changes import changed_submissions
from geobench.submission.package import rows_to_csv
from geobench.submission.protocol_check import official_hash
from geobench.validate import main as validate_main

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {  # id -> (rows, warnings): 4 and 10 backbones lack the detection datasets of Core
    "114be1f0-5a41-43a5-b4e6-7fb683bc01ec": (1630, 4),
    "2ce4a907-7ae3-45d3-a07a-558f8d0d758b": (285, 0),
    "80100fc6-dc1a-4514-b946-341157eaf816": (750, 10),
}
CLASSIFICATION = ("so2sat", "forestnet", "benv2", "treesatai")
SEEDS = (205, 913, 1829, 2007, 2254)


def make_rows(datasets: tuple[str, ...] = CLASSIFICATION, backbone: str = "resnet50",
              seeds: tuple[int, ...] = SEEDS, mode: str = "full_ft") -> list[dict[str, Any]]:
    """Seed-run rows of one backbone: one row per (dataset, seed), line i+2 in the CSV."""
    rows = []
    for ds in datasets:
        for i, seed in enumerate(seeds):
            rows.append({
                "dataset": ds, "Metric": S.OFFICIAL_METRICS[ds], "test metric": 0.5 + i / 100,
                "Seed": seed, "backbone": backbone, "decoder": "UNet", "experiment_name": f"exp_{backbone}",
                "partition name": "100%", "early_stop_patience": 10, "n_trials": 16, "data_percentages": 100,
                "batch_size_selection": "HPO", "frozen_or_full_ft": mode, "batch_size": 16, "lr": 1e-4,
                "weight_decay": 0.01, "run_id": f"{backbone}-{ds}-{seed}", "phase": "repeat", "trial": None,
                "val_metric": 0.6, "epochs": 12, "train_seconds": 3.5, "images_per_second": 100.0,
                "device": "cpu", "geobench_version": "0.1.0", "config_hash": "abc",
                "started_at": "2025-01-01T00:00:00Z", "finished_at": "2025-01-01T00:01:00Z",
                "test_metric_coco": None, "protocol": "geobench2", "protocol_hash": official_hash(ds, backbone),
            })  # fmt: skip
    return rows


def additional_info(**changes: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "Paper Link": "N/A", "Code Repository Link ": "https://example.org/code", "License": "MIT",
        "Number of HPO trials": "16", S.SEEDS_KEY: "5",
        "Additional information about submission": "test", "Comments on new models in submission": "N/A",
        "New model info": [],
    }  # fmt: skip
    info.update(changes)
    return {k: v for k, v in info.items() if v is not None}


def geobench_meta(folder: Path, backbones: tuple[str, ...] = ("resnet50",), **changes: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "format_version": 1, "submission_id": folder.name, "created_at": "2025-01-01T00:00:00Z",
        "geobench_version": "0.1.0", "fine_tuning": "full_ft",
        "protocol": {"name": "geobench2", "repeated_seeds": 5},
        "models": [{"backbone": b, "display_name": b.upper(), "parameters": 25_557_032, "size": "26M",
                    "license": "MIT", "paper": "N/A", "code": "https://example.org"} for b in backbones],
    }  # fmt: skip
    meta.update(changes)
    return meta


def write_submission(folder: Path, rows: list[dict[str, Any]] | None = None, *, layout: str = "official",
                     info: dict[str, Any] | None = None, csv_text: str | None = None,
                     meta: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = make_rows() if rows is None else rows
    columns = OFFICIAL_COLUMNS + EXTRA_COLUMNS if layout == "geobench" else OFFICIAL_COLUMNS
    (folder / S.CSV_FILE).write_text(csv_text if csv_text is not None else rows_to_csv(rows, columns), encoding="utf-8")
    (folder / S.JSON_FILE).write_text(json.dumps(info or additional_info(), indent=2), encoding="utf-8")
    if layout == "geobench":
        backbones = tuple(sorted({r["backbone"] for r in rows}))
        (folder / S.GEOBENCH_FILE).write_text(json.dumps(meta or geobench_meta(folder, backbones), indent=2))
    return folder


def csv_lines(rows: list[dict[str, Any]] | None = None) -> list[str]:
    return rows_to_csv(make_rows() if rows is None else rows, OFFICIAL_COLUMNS).splitlines()


def errors(report: Report) -> list[tuple[str, int | None, str]]:
    return [(Path(p.file).name, p.line, p.message) for p in report.errors]


def has(report: Report, file: str, line: int | None, *fragments: str, severity: str = "error") -> bool:
    return any(Path(p.file).name == file and p.line == line and p.severity == severity
               and all(f in p.message for f in fragments) for p in report.problems)


# ---------------------------------------------------------------------------------------------
# valid input


@pytest.mark.parametrize("sid", sorted(PUBLISHED))
def test_published_submissions_pass(official_dir: Path, sid: str) -> None:
    report = validate_path(official_dir / sid)
    rows, warnings = PUBLISHED[sid]
    assert report.ok, [str(p) for p in report.errors]
    assert report.layout == "official"
    assert report.summary["rows"] == rows
    assert len(report.warnings) == warnings
    assert all("Core lacks everwatch, substation" in p.message for p in report.warnings)


def test_published_submission_passes_as_a_file_path_and_with_explicit_seeds(official_dir: Path) -> None:
    sid = "2ce4a907-7ae3-45d3-a07a-558f8d0d758b"  # has no "Number of repeated seeds trials" key
    assert validate_path(official_dir / sid / S.CSV_FILE, seeds=5).ok
    assert not validate_path(official_dir / sid, seeds=4).ok


def test_synthetic_submissions_pass(tmp_path: Path) -> None:
    official = validate_path(write_submission(tmp_path / "a"))
    ours = validate_path(write_submission(tmp_path / "b", layout="geobench"))
    assert official.ok and official.layout == "official", errors(official)
    assert ours.ok and ours.layout == "geobench", errors(ours)
    assert ours.summary["backbones"]["resnet50"]["complete"] == ["Classification"]


def test_metric_table_agrees_with_the_manifests() -> None:
    names = [n for n in manifest.available_datasets() if n in S.OFFICIAL_METRICS]
    if not names:
        pytest.skip("no dataset manifests yet")
    for name in names:
        assert manifest.load_manifest(name).metric == S.OFFICIAL_METRICS[name], name
    assert set(S.OFFICIAL_METRICS) == set(manifest.DATASETS)


def test_column_kinds_cover_the_official_columns() -> None:
    assert set(S.STRING_COLUMNS + S.INTEGER_COLUMNS + S.FLOAT_COLUMNS) == set(OFFICIAL_COLUMNS)
    assert set(S.EXTRA_INTEGER_COLUMNS + S.EXTRA_FLOAT_COLUMNS + S.EXTRA_REQUIRED_TEXT) <= set(EXTRA_COLUMNS)


# ---------------------------------------------------------------------------------------------
# hand-broken CSVs: the expected problem on the expected line


def _broken(tmp_path: Path, lines: list[str]) -> Report:
    return validate_path(write_submission(tmp_path / "sub", csv_text="\n".join(lines) + "\n"))


def _set(lines: list[str], line: int, column: str, value: str) -> list[str]:
    header = next(csv.reader([lines[0]]))
    record = next(csv.reader([lines[line - 1]]))
    record[header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(record)
    return [*lines[:line - 1], buf.getvalue().removesuffix("\n"), *lines[line:]]


@pytest.mark.parametrize(("column", "value", "fragment"), [
    ("test metric", "abc", "'abc' is not a number"),
    ("test metric", "nan", "not a finite number"),
    ("test metric", "1e400", "too large"),
    ("test metric", "1.5", "outside [0, 1]"),
    ("test metric", "77.1", "a percentage?"),
    ("test metric", "", "'test metric' is empty"),
    ("Seed", "12.5", "not a whole number"),
    ("Seed", "-1", "out of range"),
    ("Seed", "99999999999999999999", "out of range"),
    ("lr", "0", "out of range"),
    ("batch_size", "N/A", "marks a missing value"),
    ("dataset", "benv3", "Did you mean 'benv2'"),
    ("Metric", "Overall_Accuracy", "must be 'Multilabel_F1_Score'"),
    ("backbone", "res net<script>", "backbone key"),
    ("backbone", " resnet50", "spaces around it"),
    ("frozen_or_full_ft", "lora", "expected one of full_ft, frozen"),
    ("decoder", "UNet\x07", "control characters U+0007"),
    ("decoder", "x" * 1001, "1001 characters"),
])  # fmt: skip
def test_bad_cell_is_reported_on_its_line(tmp_path: Path, column: str, value: str, fragment: str) -> None:
    # line 12 is benv2's first seed run (so2sat and forestnet take lines 2-6 and 7-11)
    lines = _set(csv_lines(), 12, column, value)
    report = _broken(tmp_path, lines)
    assert not report.ok
    assert has(report, S.CSV_FILE, 12, fragment), [str(p) for p in report.problems]


def test_biomassters_raw_rmse_is_an_error_and_converted_value_passes(tmp_path: Path) -> None:
    rows = make_rows(("kuro_siwo", "pastis", "biomassters", "dynamic_earthnet"))  # Multi-Temporal
    ok = validate_path(write_submission(tmp_path / "ok", rows))
    assert ok.ok, errors(ok)
    lines = _set(csv_lines(rows), 12, "test metric", "12.3")
    bad = _broken(tmp_path, lines)
    assert has(bad, S.CSV_FILE, 12, "above 1", "not the raw RMSE")
    low = _broken(tmp_path / "low", _set(csv_lines(rows), 12, "test metric", "0.2"))
    assert low.ok and has(low, S.CSV_FILE, 12, "raw RMSE?", severity="warning")


def test_renamed_column_names_the_official_spelling(tmp_path: Path) -> None:
    lines = csv_lines()
    lines[0] = lines[0].replace("partition name", "partition_name")
    report = _broken(tmp_path, lines)
    assert has(report, S.CSV_FILE, 1, "missing required column 'partition name'", "found 'partition_name'")


def test_dropped_and_duplicated_columns(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "Seed"} for r in make_rows()]
    text = rows_to_csv(rows, (*tuple(c for c in OFFICIAL_COLUMNS if c != "Seed"), "lr"))
    report = validate_path(write_submission(tmp_path / "s", csv_text=text))
    assert has(report, S.CSV_FILE, 1, "missing required column 'Seed'")
    assert has(report, S.CSV_FILE, 1, "column 'lr' appears twice")


def test_seed_count_duplicates_and_duplicate_rows(tmp_path: Path) -> None:
    lines = csv_lines()
    lines = lines[:3] + lines[4:]  # so2sat loses its third seed run: lines 2-5 remain
    lines = _set(lines, 7, "Seed", "205")  # forestnet's second run (line 7) repeats seed 205 of line 6
    lines.append(lines[-1])  # treesatai's last row twice
    report = _broken(tmp_path, lines)
    assert has(report, S.CSV_FILE, 2, "'so2sat': 4 seed runs (lines 2, 3, 4, 5)", "exactly 5")
    assert has(report, S.CSV_FILE, 7, "seed 205 again (first on line 6)")
    n = len(lines)
    assert has(report, S.CSV_FILE, n, f"duplicate row: same as line {n - 1}")
    assert has(report, S.CSV_FILE, n - 5, "'treesatai': 6 seed runs")


def test_changed_settings_between_seeds_warn(tmp_path: Path) -> None:
    report = _broken(tmp_path, _set(csv_lines(), 3, "lr", "0.001"))
    assert report.ok
    assert has(report, S.CSV_FILE, 2, "differ in 'lr'", severity="warning")


def test_line_numbers_count_lines_inside_quoted_cells(tmp_path: Path) -> None:
    lines = _set(csv_lines(), 2, "experiment_name", "two\nlines")  # record 2 spans lines 2-3
    lines = _set(lines, 4, "test metric", "bad")  # file line 5
    text = "\n".join(lines) + "\n"
    report = validate_path(write_submission(tmp_path / "s", csv_text=text))
    assert has(report, S.CSV_FILE, 2, "control characters U+000A")
    assert has(report, S.CSV_FILE, 5, "'bad' is not a number")


@pytest.mark.parametrize(("mutate", "line", "fragment"), [
    (lambda ls: [*ls[:4], "so2sat,Overall_Accuracy,0.5", *ls[4:]], 5, "3 fields; the header has 16"),
    (lambda ls: [*ls[:4], 'so2sat,"unclosed', *ls[4:]], 5, "CSV syntax error"),
    (lambda ls: ["", *ls], 2, "header must be on the first line"),
    (lambda ls: [*ls[:3], "," * 15, *ls[3:]], 4, "empty row"),
])  # fmt: skip
def test_broken_structure(tmp_path: Path, mutate: Any, line: int, fragment: str) -> None:
    report = _broken(tmp_path, mutate(csv_lines()))
    assert has(report, S.CSV_FILE, line, fragment), [str(p) for p in report.problems]


@pytest.mark.parametrize(("data", "line", "fragment"), [
    (b"", None, "file is empty"),
    (b"\n \n", None, "file is empty"),
    ("dataset,Metric\n".encode("utf-16"), None, "UTF-16"),
    (b"dataset,Metric\nbenv2,\xe9t\xe9\n", 2, "not valid UTF-8 (byte 0xe9 at column 7)"),
    (b"dataset\nx\n\x00\x01\x02", 3, "NUL byte"),
])  # fmt: skip
def test_unreadable_csv(tmp_path: Path, data: bytes, line: int | None, fragment: str) -> None:
    folder = write_submission(tmp_path / "s")
    (folder / S.CSV_FILE).write_bytes(data)
    report = validate_path(folder)
    assert has(report, S.CSV_FILE, line, fragment), [str(p) for p in report.problems]


def test_file_size_limit(tmp_path: Path) -> None:
    folder = write_submission(tmp_path / "s")
    with open(folder / S.CSV_FILE, "ab") as fh:
        fh.truncate(S.MAX_CSV_BYTES + 1)
    report = validate_path(folder)
    assert has(report, S.CSV_FILE, None, "the limit is 10.0 MiB")


def test_whole_file_checks(tmp_path: Path) -> None:
    mixed = make_rows()[:10] + make_rows(mode="frozen")[10:]
    report = validate_path(write_submission(tmp_path / "mixed", mixed))
    assert has(report, S.CSV_FILE, None, "mix fine-tuning modes")
    two = validate_path(write_submission(tmp_path / "two", make_rows(("so2sat", "forestnet"))))
    assert has(two, S.CSV_FILE, None, "no capability is complete", "missing benv2, treesatai")
    numeric = [dict(r, experiment_name="123") for r in make_rows()]
    assert has(validate_path(write_submission(tmp_path / "num", numeric)), S.CSV_FILE, 2,
               "'experiment_name' holds only numbers")


def test_new_backbone_needs_new_model_info(tmp_path: Path) -> None:
    rows = make_rows(backbone="my_new_model")
    report = validate_path(write_submission(tmp_path / "a", rows))
    assert has(report, S.JSON_FILE, None, "'my_new_model' (CSV line 2) is new", "New model info")
    entry = {"model_display_name": "My model", "model_size": "10M", "unique_backbone_key": "my_new_model"}
    fixed = validate_path(write_submission(tmp_path / "b", rows, info=additional_info(**{"New model info": [entry]})))
    assert fixed.ok, errors(fixed)


def test_seed_count_comes_from_additional_info_and_can_be_overridden(tmp_path: Path) -> None:
    folder = write_submission(tmp_path / "s", make_rows(seeds=(1, 2, 3)), info=additional_info(**{S.SEEDS_KEY: "3"}))
    report = validate_path(folder)
    assert report.ok, errors(report)
    assert has(report, S.JSON_FILE, 6, "3 seeds per (backbone, dataset)", "requires 5", severity="warning")
    assert has(validate_path(folder, seeds=5), S.CSV_FILE, 2, "3 seed runs", "exactly 5")


# ---------------------------------------------------------------------------------------------
# JSON files and the folder


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ('{"Paper Link": "N/A",\n  "License": }', 2, "not valid JSON"),
    ("[1, 2]", 1, "must be a JSON object"),
    ('{"a": NaN}', 1, "NaN is not valid JSON"),
    ("[" * 100_000, None, "nested too deeply"),
])  # fmt: skip
def test_bad_json_text(tmp_path: Path, text: str, line: int | None, fragment: str) -> None:
    folder = write_submission(tmp_path / "s")
    (folder / S.JSON_FILE).write_text(text)
    assert has(validate_path(folder), S.JSON_FILE, line, fragment)


def test_bad_additional_info_values(tmp_path: Path) -> None:
    info = additional_info(**{"Number of HPO trials": 16, S.SEEDS_KEY: "five", "Paper Link": "javascript:alert(1)"})
    info["Code Repository Link"] = info.pop("Code Repository Link ")
    folder = write_submission(tmp_path / "s", info=info)
    text = (folder / S.JSON_FILE).read_text().replace('"License": "MIT"', '"License": "MIT", "License": "x"')
    (folder / S.JSON_FILE).write_text(text)
    report = validate_path(folder)
    line_of = {k: i + 1 for i, ln in enumerate(text.splitlines()) for k in info if f'"{k}"' in ln}
    assert has(report, S.JSON_FILE, line_of["Number of HPO trials"], "must be a string (e.g. \"16\")")
    assert has(report, S.JSON_FILE, line_of[S.SEEDS_KEY], "whole number of seeds")
    assert has(report, S.JSON_FILE, line_of["Paper Link"], "only http(s) links")
    assert has(report, S.JSON_FILE, line_of["Code Repository Link"], "missing key 'Code Repository Link '",
               "found 'Code Repository Link'")
    assert has(report, S.JSON_FILE, line_of["License"], "key 'License' appears twice")


def test_bad_geobench_json(tmp_path: Path) -> None:
    folder = write_submission(tmp_path / "s", layout="geobench")
    meta = geobench_meta(folder, fine_tuning="frozen")
    meta["models"][0]["code"] = "data:text/html,<script>"
    meta["models"][0]["parameters"] = -3
    del meta["geobench_version"]
    (folder / S.GEOBENCH_FILE).write_text(json.dumps(meta, indent=2))
    report = validate_path(folder)
    assert has(report, S.GEOBENCH_FILE, 1, "missing key 'geobench_version'")
    assert any(p.file.endswith(S.GEOBENCH_FILE) and "only http(s) links" in p.message for p in report.errors)
    assert any("parameters cannot be negative" in p.message for p in report.errors)
    assert any("fine_tuning is 'frozen' but the rows say 'full_ft'" in p.message for p in report.errors)
    extra = write_submission(tmp_path / "t", make_rows(backbone="other"), layout="geobench",
                             meta=geobench_meta(tmp_path / "t"))
    assert has(validate_path(extra), S.GEOBENCH_FILE, None, "'other' (CSV line 2) has no entry in models")


def test_geobench_layout_checks_column_order_and_phase(tmp_path: Path) -> None:
    rows = make_rows()
    rows[3]["phase"] = "hpo"
    folder = write_submission(tmp_path / "s", rows, layout="geobench")
    report = validate_path(folder)
    assert has(report, S.CSV_FILE, 5, "'phase' is 'hpo'")
    text = rows_to_csv(make_rows(), ("Seed", *[c for c in OFFICIAL_COLUMNS if c != "Seed"], *EXTRA_COLUMNS))
    (folder / S.CSV_FILE).write_text(text)
    assert has(validate_path(folder), S.CSV_FILE, 1, "official columns must come first")
    lora = write_submission(tmp_path / "lora", make_rows(mode="lora"), layout="geobench",
                            meta=geobench_meta(tmp_path / "lora", fine_tuning="lora"))
    assert validate_path(lora).ok


def test_folder_contents(tmp_path: Path) -> None:
    folder = write_submission(tmp_path / "s")
    (folder / "run.sh").write_text("rm -rf /")
    (folder / "sub").mkdir()
    (folder / S.JSON_FILE).unlink()
    os.symlink("/etc/passwd", folder / S.JSON_FILE)
    report = validate_path(folder)
    assert has(report, "run.sh", None, "unexpected file")
    assert has(report, "sub", None, "unexpected folder")
    assert has(report, S.JSON_FILE, None, "symbolic link")
    assert has(validate_path(tmp_path / "nope"), "nope", None, "not found")


def test_changed_submissions(tmp_path: Path) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    for root in (base, head):
        write_submission(root / "same")
        write_submission(root / "edited")
    write_submission(base / "removed")
    write_submission(head / "added")
    (head / "edited" / S.JSON_FILE).write_text("{}")
    (head / "stray.csv").write_text("x")
    (head / "README.md").write_text("same")
    (base / "README.md").write_text("same")
    changed, problems = changed_submissions(head, base)
    assert [p.name for p in changed] == ["added", "edited"]
    assert {(Path(p.file).name, p.severity) for p in problems} == {("stray.csv", "error"), ("removed", "warning")}


# ---------------------------------------------------------------------------------------------
# command line


def test_cli_exit_status_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_submission(tmp_path / "subs" / "good")
    bad = write_submission(tmp_path / "subs" / "bad", csv_text="\n".join(_set(csv_lines(), 3, "Seed", "x")) + "\n")
    assert validate_main([str(good)]) == 0
    assert "good: OK (official layout, 20 rows" in capsys.readouterr().out
    assert validate_main([str(tmp_path / "subs"), "--format", "github", "--relative-to", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "subs/bad/results_and_parameters.csv:3: error: 'Seed': 'x' is not a number" in out
    assert "::error file=subs/bad/results_and_parameters.csv,line=3::" in out
    assert "subs/good: OK" in out and "subs/bad: FAILED" in out
    shutil.rmtree(bad)
    base = tmp_path / "base"
    base.mkdir()
    assert validate_main([str(tmp_path / "subs"), "--changed-since", str(base)]) == 0
    assert validate_main([str(tmp_path / "subs"), "--changed-since", str(tmp_path / "subs")]) == 0
    assert "no changed submission folders" in capsys.readouterr().out


def test_cli_subprocess_no_traceback_and_no_pandas(tmp_path: Path, official_dir: Path) -> None:
    folder = write_submission(tmp_path / "s")
    (folder / S.CSV_FILE).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code = ("import sys, runpy; sys.argv = ['geobench.validate'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('geobench.validate', run_name='__main__')\n"
            "finally:\n    print('pandas' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, str(folder), str(official_dir)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "NUL byte" in proc.stdout
    assert proc.stderr.strip().endswith("False False")  # the PR workflow installs only pyyaml


# ---------------------------------------------------------------------------------------------
# GitHub workflows


def _workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` key as true
    return data


def _code(path: Path) -> str:
    """A workflow file without its comment lines."""
    return "\n".join(ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#"))


def _steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in wf["jobs"].values() for s in job["steps"]]


def test_validate_workflow_is_safe_for_pull_requests() -> None:
    wf = _workflow("validate-submission.yml")
    assert set(wf["on"]) == {"pull_request"}
    assert wf["on"]["pull_request"]["paths"] == ["submissions/**"]
    assert wf["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in wf["jobs"].values())
    steps = _steps(wf)
    checkouts = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    by_path = {s["with"]["path"]: s["with"] for s in checkouts}
    assert by_path["base"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert by_path["pr"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert all(w.get("persist-credentials") is False for w in by_path.values())
    runs = [s["run"] for s in steps if "run" in s]
    install = next(r for r in runs if "pip install" in r)
    assert "./base" in install and "pr/" not in install and "./pr" not in install
    validate = next(s for s in steps if "geobench.validate" in s.get("run", ""))
    assert "python -P -m geobench.validate" in validate["run"]  # never imports from the cwd
    assert "--changed-since" in validate["run"] and "--seeds 5" in validate["run"]
    assert validate["working-directory"] == "${{ runner.temp }}"
    for run in runs:  # nothing from the pull request is executed or sourced
        for token in ("pr/scripts", "bash pr", "sh pr", "python pr", "source pr", "./pr/", "make -C pr"):
            assert token not in run
    text = _code(ROOT / ".github" / "workflows" / "validate-submission.yml")
    assert "pull_request_target" not in text
    assert "${{ github.event.pull_request.title" not in text and "head_ref" not in text  # no injection


def test_leaderboard_workflow_rebuilds_on_main() -> None:
    wf = _workflow("leaderboard.yml")
    assert "push" in wf["on"] and not any(t.startswith("pull_request") for t in wf["on"])
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["on"]["push"]["paths"] == ["submissions/**"]
    assert wf["permissions"] == {"contents": "write"}
    runs = "\n".join(s.get("run", "") for s in _steps(wf))
    assert "python -m geobench.leaderboard" in runs and "--name community" in runs and "--name geobench2" in runs
    assert "git commit" in runs and "git push" in runs
    assert "pull_request_target" not in _code(ROOT / ".github" / "workflows" / "leaderboard.yml")
