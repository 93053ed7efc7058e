"""``python -m geobench.aggregate`` end to end: files written, columns, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geobench.aggregate.__main__ import main
from geobench.capabilities import display_names

FROZEN = "80100fc6-dc1a-4514-b946-341157eaf816"
FULL = ("114be1f0-5a41-43a5-b4e6-7fb683bc01ec", "2ce4a907-7ae3-45d3-a07a-558f8d0d758b")


def test_cli_official_mode_reproduces_the_reference_files(official_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "geobench.aggregate", str(official_dir / FROZEN),
                           "--mode", "official", "--normalizer", str(official_dir / "normalizer.json"),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "Core not computed" in proc.stderr
    caps = pd.read_csv(out / "capabilities.csv")
    names = list(display_names().values())
    assert list(caps.columns) == ["submission", "backbone"] + [c for n in names for c in (n, f"{n} sem")]
    assert set(caps["submission"]) == {FROZEN}
    ref = pd.read_csv(official_dir / f"reference_capabilities_frozen_{FROZEN[:8]}.csv").set_index("backbone")
    got = caps.set_index("backbone").loc[ref.index, list(ref.columns)]
    np.testing.assert_allclose(got.to_numpy(float), ref.to_numpy(float), atol=1e-9, rtol=0)
    per = pd.read_csv(out / "per_dataset.csv")
    ref_ds = pd.read_csv(official_dir / f"reference_per_dataset_frozen_{FROZEN[:8]}.csv").set_index("backbone")
    assert list(per.columns) == ["submission", "backbone"] + list(ref_ds.columns)
    got_ds = per.set_index("backbone").loc[ref_ds.index, list(ref_ds.columns)]
    np.testing.assert_allclose(got_ds.to_numpy(float), ref_ds.to_numpy(float), atol=1e-9, rtol=0)


def test_cli_default_mode_on_all_official_folders(official_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "agg"
    args = [str(official_dir / f) for f in (*FULL, FROZEN)]
    assert main([*args, "--reps", "500", "--seed", "1", "--out", str(out)]) == 0
    text = capsys.readouterr()
    assert "31 rows" in text.out and "500 resamples" in text.out
    caps = pd.read_csv(out / "capabilities.csv")
    names = list(display_names().values())
    assert list(caps.columns) == ["submission", "backbone"] + [
        c for n in names for c in (n, f"{n} ci_low", f"{n} ci_high")]
    assert caps["submission"].tolist() == [FULL[0]] * 18 + [FULL[1]] * 3 + [FROZEN] * 10
    assert caps["Core"].notna().sum() == 14 + 3  # 4 full-ft backbones and the frozen ones lack data
    ok = caps["Pixel-wise"].notna()
    assert ok.all() and (caps["Pixel-wise ci_low"] < caps["Pixel-wise"]).all()
    per = pd.read_csv(out / "per_dataset.csv")
    assert per.shape == (31, 2 + 19)
    assert (per[["submission", "backbone"]].to_numpy() == caps[["submission", "backbone"]].to_numpy()).all()


def test_cli_build_normalizer_then_use_it(official_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    norm = tmp_path / "n.json"
    assert main(["build-normalizer", *(str(official_dir / f) for f in FULL), "--name", "baseline",
                 "--version", "2025-1", "--out", str(norm)]) == 0
    data = json.loads(norm.read_text())
    official = json.loads((official_dir / "normalizer.json").read_text())
    assert data["name"] == "baseline" and data["version"] == "2025-1"
    assert {k: list(v) for k, v in data["datasets"].items()} == official
    assert main([str(official_dir / FROZEN), "--normalizer", str(norm), "--reps", "100",
                 "--out", str(tmp_path / "o")]) == 0
    assert "normalizer baseline (2025-1)" in capsys.readouterr().out


def _bad_folder(tmp_path: Path, official_dir: Path, kind: str) -> Path:
    folder = tmp_path / kind
    shutil.copytree(official_dir / FROZEN, folder)
    csv = folder / "results_and_parameters.csv"
    if kind == "missing-file":
        (folder / "additional_info.json").unlink()
    elif kind == "missing-column":
        pd.read_csv(csv).drop(columns=["test metric"]).to_csv(csv, index=False)
    elif kind in ("non-numeric", "missing-value"):
        rows = pd.read_csv(csv)
        rows["test metric"] = rows["test metric"].astype(object)
        rows.loc[7, "test metric"] = "oops" if kind == "non-numeric" else "n/a"
        rows.to_csv(csv, index=False)
    return folder


@pytest.mark.parametrize("kind, message", [
    ("missing-file", "additional_info.json: missing"),
    ("missing-column", "missing column(s) 'test metric'"),
    ("non-numeric", "line 9: 'test metric' is 'oops', not a finite number"),
    ("missing-value", "line 9: 'test metric' is empty (or a missing-value marker"),
])
def test_cli_bad_input_is_one_line_exit_2_no_output(official_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    kind: str, message: str) -> None:
    bad = _bad_folder(tmp_path, official_dir, kind)
    out = tmp_path / "out"
    # a good input first: nothing may be written for it either
    assert main([str(official_dir / FULL[1]), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_bad_input_subprocess_has_no_traceback(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "geobench.aggregate", str(tmp_path / "absent"),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'absent'}: not found"
    assert proc.stdout == "" and not out.exists()


@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["x", "--out", "o", "--mode", "fast"], "invalid choice"),
    (["x", "--out", "o", "--reps", "ten"], "invalid int value"),
])
def test_cli_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_cli_bad_reps_and_normalizer(official_dir: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(official_dir / FROZEN), "--reps", "0", "--out", str(tmp_path / "o")]) == 2
    assert "reps must be a positive integer" in capsys.readouterr().err
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"benv2": [0.7, 0.8]}))
    assert main([str(official_dir / FROZEN), "--normalizer", str(partial),
                 "--out", str(tmp_path / "o")]) == 2
    assert "has no bounds for dataset(s) biomassters" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_raw_metrics_flag(official_dir: Path, tmp_path: Path) -> None:
    """The same results recorded as raw RMSE give the same scores with --raw-metrics."""
    raw = tmp_path / "raw" / FROZEN
    shutil.copytree(official_dir / FROZEN, raw)
    csv = raw / "results_and_parameters.csv"
    rows = pd.read_csv(csv, float_precision="round_trip")
    bio = rows["dataset"] == "biomassters"
    rows.loc[bio, "test metric"] = (1 - rows.loc[bio, "test metric"]) / 0.2537951171398163
    rows.to_csv(csv, index=False)
    assert main([str(official_dir / FROZEN), "--mode", "official", "--out", str(tmp_path / "a")]) == 0
    assert main([str(raw), "--raw-metrics", "--mode", "official", "--out", str(tmp_path / "b")]) == 0
    a = pd.read_csv(tmp_path / "a" / "per_dataset.csv")
    b = pd.read_csv(tmp_path / "b" / "per_dataset.csv")
    np.testing.assert_allclose(a["biomassters"], b["biomassters"], atol=1e-12)
    np.testing.assert_allclose(b["biomassters"].min(), a["biomassters"].min())
    assert main([str(raw), "--mode", "official", "--out", str(tmp_path / "c")]) == 0  # raw < 1 ...
    c = pd.read_csv(tmp_path / "c" / "per_dataset.csv")
    assert (c["biomassters"] < -50).all()  # ... but scored as if on the leaderboard scale: nonsense
