"""Submitting a new model: ``--protocol NAME`` of submit and validate accepts a trial run's rows
(the default stays geobench2, exact settings), and the model's facts recorded by the run
(``RUN_DIR/model_info.json``) fill the submission's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geobench.errors import ResultsError
from geobench.results_store import write_row
from geobench.submission import schema as S
from geobench.submission import validate_path
from geobench.submission.package import MODEL_INFO_FILE, SubmissionOptions, build_submission
from geobench.submit import main as submit_main
from geobench.validate import main as validate_main
from tests.test_submit import SEEDS, _row

SMOKE = ("so2sat", "burn_scars", "biomassters")  # the smoke capability's datasets
FACTS = {"parameters": 1_104_864, "display_name": "TinyGeo CNN (example)", "license": "Apache-2.0",
         "paper": "arXiv:1234.5678", "source": "geobench-example-model 0.1.0 (m:tiny_cnn)",
         "bands": ["B02 (492.7 nm)", "B03 (559.8 nm)"], "patch_size": None, "family": "plugin"}


def trial_run(run_dir: Path, protocol: str = "smoke", backbone: str = "tinygeo_cnn") -> Path:
    """A finished smoke-capability run of a new model: one HPO row and 5 seed rows per dataset."""
    for d, ds in enumerate(SMOKE):
        write_row(run_dir, {**_row(ds, "hpo", 0, 0, backbone, "full_ft", 0.3), "protocol": protocol})
        for i, seed in enumerate(SEEDS):
            row = _row(ds, "repeat", seed, None, backbone, "full_ft", 0.5 + d / 10 + i / 1000)
            write_row(run_dir, {**row, "protocol": protocol, "protocol_hash": f"hash{d}"})
    (run_dir / MODEL_INFO_FILE).write_text(json.dumps({backbone: FACTS}))
    return run_dir


def test_default_refuses_a_trial_run_and_protocol_smoke_accepts_it(tmp_path: Path) -> None:
    run = trial_run(tmp_path / "run")
    with pytest.raises(ResultsError, match=r"run under protocol 'smoke', not 'geobench2'.*--protocol smoke"):
        build_submission([run], tmp_path / "a", SubmissionOptions())
    target, report = build_submission([run], tmp_path / "b", SubmissionOptions(protocol="smoke"))
    assert report.ok, [str(p) for p in report.errors]
    meta = json.loads((target / S.GEOBENCH_FILE).read_text())
    assert meta["protocol"]["name"] == "smoke"
    strict = validate_path(target)  # what CI runs: refused, by protocol and by capability coverage
    assert not strict.ok
    messages = [p.message for p in strict.errors]
    assert any("protocol 'smoke', not 'geobench2'" in m for m in messages)
    assert any("no capability is complete" in m for m in messages)
    assert validate_path(target, protocol="smoke").ok  # the smoke capability counts for a trial run
    with pytest.raises(ResultsError, match="--format official takes geobench2 results only"):
        build_submission([run], tmp_path / "c", SubmissionOptions(fmt="official", protocol="smoke"))


def test_protocol_names_another_protocol_exactly(tmp_path: Path) -> None:
    run = trial_run(tmp_path / "run", protocol="fast")
    with pytest.raises(ResultsError, match=r"(?s)only results of protocol 'smoke'.*under protocol 'fast', not 'smoke'"):
        build_submission([run], tmp_path / "s", SubmissionOptions(protocol="smoke"))
    assert build_submission([run], tmp_path / "f", SubmissionOptions(protocol="fast"))[1].ok


def test_cli_protocol_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = trial_run(tmp_path / "run")
    assert submit_main([str(run), "--out", str(tmp_path / "subs"), "--id", "t", "--protocol", "smoke"]) == 0
    folder = tmp_path / "subs" / "t"
    assert validate_main([str(folder), "--protocol", "smoke"]) == 0
    assert validate_main([str(folder)]) == 1
    assert validate_main([str(folder), "--protocol", "no good"]) == 2
    assert submit_main([str(run), "--out", str(tmp_path / "x"), "--protocol", "::bad"]) == 2
    err = capsys.readouterr().err
    assert "--protocol '::bad'" in err and "Traceback" not in err


def test_recorded_model_facts_fill_the_metadata(tmp_path: Path) -> None:
    run = trial_run(tmp_path / "run")
    target, _ = build_submission([run], tmp_path / "s", SubmissionOptions(protocol="smoke", code="https://x.org/c"))
    model = json.loads((target / S.GEOBENCH_FILE).read_text())["models"][0]
    assert model == {"backbone": "tinygeo_cnn", "display_name": "TinyGeo CNN (example)",
                     "parameters": 1_104_864, "size": "1M", "license": "Apache-2.0",
                     "paper": "N/A",  # a recorded paper that is not a link is left out
                     "code": "https://x.org/c", "bands": FACTS["bands"], "patch_size": None,
                     "source": FACTS["source"]}
    new = json.loads((target / S.JSON_FILE).read_text())["New model info"]
    assert new == [{"model_display_name": "TinyGeo CNN (example)", "model_size": "1M",
                    "unique_backbone_key": "tinygeo_cnn"}]
    flags = build_submission([run], tmp_path / "f", SubmissionOptions(
        protocol="smoke", names={"tinygeo_cnn": "Mine"}, sizes={"tinygeo_cnn": "2M"}))[0]
    model = json.loads((flags / S.GEOBENCH_FILE).read_text())["models"][0]
    assert (model["display_name"], model["size"], model["parameters"]) == ("Mine", "2M", None)


def test_validator_checks_the_optional_model_facts(tmp_path: Path) -> None:
    run = trial_run(tmp_path / "run")
    target, _ = build_submission([run], tmp_path / "s", SubmissionOptions(protocol="smoke"))
    path = target / S.GEOBENCH_FILE
    meta = json.loads(path.read_text())
    meta["models"][0].update({"bands": "B02", "patch_size": 0})
    path.write_text(json.dumps(meta, indent=2))
    report = validate_path(target, protocol="smoke")
    messages = [p.message for p in report.errors]
    assert "models[0].bands must be a list, not a string" in messages
    assert "models[0].patch_size must be a positive integer or null" in messages
    assert not any("unknown key" in p.message for p in report.problems)
