"""geobench.validate against hostile submissions (the reliability issue):

1. denial of service: the worst cases within the size limits (:mod:`geobench.submission.schema`)
   validate with the expected errors, with work linear in the input (shown by counting calls, not
   by timing), a capped problem list and a time budget;
2. what validates, builds: a byte-order mark (or anything else the leaderboard's reader chokes
   on) is refused, and what the validator accepts loads with
   :func:`geobench.aggregate.inputs.load_input`;
3. log injection: hostile folder and file names and values print no GitHub workflow command;
5. implausible claims: an official backbone far from its published results is a warning.
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geobench.aggregate.inputs import load_input
from geobench.errors import ResultsError
from geobench.results_store import OFFICIAL_COLUMNS
from geobench.submission import csv_check, json_check, plausibility, validate_path
from geobench.submission import report as report_module
from geobench.submission import schema as S
from geobench.submission.package import rows_to_csv
from geobench.submission.report import MAX_PER_KIND, Report, printable
from geobench.submission.textfile import BOM_MESSAGE
from geobench.validate import main as validate_main
from tests.test_validate import CLASSIFICATION, additional_info, errors, make_rows, write_submission

ROOT = Path(__file__).resolve().parents[1]
SMALL = "2ce4a907-7ae3-45d3-a07a-558f8d0d758b"  # 285 rows, 3 backbones, no warnings
LARGE = "114be1f0-5a41-43a5-b4e6-7fb683bc01ec"  # 1630 rows


def _count(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Wrap ``module.name`` so that each call is counted in the returned one-item list."""
    calls = [0]
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


# ---------------------------------------------------------------------------------------------
# 1. denial of service


def test_widest_header_within_the_size_limit_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = (S.MAX_CSV_BYTES - 1) // 2  # "x,x,…,x\n": 5.2 million columns (the 1.1 million took 453 s)
    folder = write_submission(tmp_path / "wide")
    (folder / S.CSV_FILE).write_text(",".join(["x"] * n) + "\n")
    assert (folder / S.CSV_FILE).stat().st_size <= S.MAX_CSV_BYTES
    header_checks = _count(monkeypatch, csv_check, "_check_header")
    close_matches = _count(monkeypatch, difflib, "get_close_matches")
    report = validate_path(folder)
    assert errors(report) == [(S.CSV_FILE, 1, f"the header has {n} columns; a results file has at most "
                               f"{S.MAX_COLUMNS} (the 16 official columns, then geobench's); nothing else "
                               "in this file was checked")]
    assert header_checks == [0] and close_matches == [0]


def _new_model_info(n: int) -> dict[str, Any]:
    entries = [{"model_display_name": f"M{i}", "model_size": "1M", "unique_backbone_key": f"m{i}"} for i in range(n)]
    return additional_info(**{"New model info": entries})


def test_most_new_model_entries_within_the_size_limit_index_lines_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 1
    while len(json.dumps(_new_model_info(2 * n), indent=2)) <= S.MAX_JSON_BYTES:
        n *= 2
    hi = 2 * n
    while hi - n > 1:  # the most entries that fit in MAX_JSON_BYTES (about 10,000)
        mid = (n + hi) // 2
        n, hi = (mid, hi) if len(json.dumps(_new_model_info(mid), indent=2)) <= S.MAX_JSON_BYTES else (n, mid)
    folder = write_submission(tmp_path / "s", info=_new_model_info(n))
    assert n > 8000 and (folder / S.JSON_FILE).stat().st_size <= S.MAX_JSON_BYTES
    scans = _count(monkeypatch, json_check, "_key_lines")
    lookups = _count(monkeypatch, json_check.JsonFile, "line_of")
    report = validate_path(folder)
    assert report.ok, errors(report)
    assert scans == [1]  # one pass over the document, however many entries (was one per entry)
    assert lookups[0] <= n + 20  # one O(1) look-up per entry, plus one per top-level key
    listed = [p for p in report.warnings if "'New model info' lists" in p.message]
    assert len(listed) == MAX_PER_KIND + 1 and listed[-1].omitted == n - MAX_PER_KIND
    text_lines = (folder / S.JSON_FILE).read_text().splitlines()
    for p in listed[:MAX_PER_KIND]:  # each on the line of its own entry's key
        key = re.search(r"lists '(m[0-9]+)'", p.message).group(1)  # type: ignore[union-attr]
        assert text_lines[p.line - 1].strip() == f'"unique_backbone_key": "{key}"'  # type: ignore[operator]
    implausible = [p for p in report.warnings if "the official leaderboard published" in p.message]
    assert len(implausible) == 2  # make_rows' resnet50 at 0.52 (see test_only_official_backbones_are_compared)
    assert report.counts() == f"0 errors, {n + 3} warnings"  # + 1: capabilities left incomplete


def test_ten_mib_of_rows_are_checked_in_one_pass_and_listed_capped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The largest CSV allowed, each row a new backbone: every row is checked once, the listing
    stays short, the counts stay exact."""
    base = dict(make_rows()[0], **{"test metric": 0.5})
    header, line = rows_to_csv([dict(base, backbone="b999999")], OFFICIAL_COLUMNS).splitlines()
    n_rows = (S.MAX_CSV_BYTES - len(header) - 1) // (len(line) + 1)  # about 100,000
    folder = write_submission(tmp_path / "s", [dict(base, backbone=f"b{i:06d}") for i in range(n_rows)])
    assert S.MAX_CSV_BYTES - len(line) - 1 < (folder / S.CSV_FILE).stat().st_size <= S.MAX_CSV_BYTES
    row_checks = _count(monkeypatch, csv_check, "_check_row")
    adds = _count(monkeypatch, Report, "add")
    report = validate_path(folder, budget_s=None)
    assert row_checks == [n_rows]
    # per row: one seed run instead of 5, a backbone new to the leaderboard, an incomplete
    # capability; once: no capability complete
    assert report.counts() == f"{2 * n_rows + 1} errors, {n_rows} warnings"
    assert adds == [3 * n_rows + 1 + n_rows]  # + one note per backbone
    assert len(report.problems) < 300  # listed: at most MAX_PER_KIND of each kind
    seed_errors = [p for p in report.errors if "1 seed run" in p.message]
    assert len(seed_errors) == MAX_PER_KIND + 1 and seed_errors[-1].omitted == n_rows - MAX_PER_KIND
    assert seed_errors[-1].message.startswith(f"… and {n_rows - MAX_PER_KIND} more errors from here on")


def test_problems_of_one_kind_are_capped(tmp_path: Path, official_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = shutil.copytree(official_dir / LARGE, tmp_path / LARGE)
    text = (folder / S.CSV_FILE).read_text()
    rows = list(csv.reader(io.StringIO(text)))
    col = rows[0].index("test metric")
    for r in rows[1:]:
        r[col] = "x"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (folder / S.CSV_FILE).write_text(buf.getvalue())
    report = validate_path(folder)
    assert report.counts() == "1630 errors, 4 warnings"
    assert [(p.line, p.message) for p in report.errors] == [
        *((i + 2, "'test metric': 'x' is not a number") for i in range(MAX_PER_KIND)),
        (MAX_PER_KIND + 2, f"… and {1630 - MAX_PER_KIND} more errors from here on, not listed, like: "
         "'test metric': 'x' is not a number")]
    assert validate_main([str(folder), "--max-problems", "0"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == MAX_PER_KIND + 1 + 4 + 1 and out[-1].endswith("FAILED (official layout, 1630 rows, "
                                                                    "18 backbones, 19 datasets; 1630 errors, 4 warnings)")


def test_time_budget_stops_checking_with_one_error(official_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake clock that advances 1 s per reading: the check after the 100th second stops it."""
    ticks = itertools.count()
    monkeypatch.setattr(report_module, "_clock", lambda: float(next(ticks)))
    report = validate_path(official_dir / LARGE, budget_s=100)
    assert next(ticks) == 1 + 101  # the start, then 101 checks: stopped at the first one past 100 s
    assert errors(report) == [(LARGE, None, "validation took longer than 100 s and was stopped: what "
                               "comes after the problems listed was not checked (is the submission "
                               "unusually large?)")]
    assert "rows" not in report.summary  # the CSV was not finished
    unlimited = validate_path(official_dir / LARGE, budget_s=None)
    assert unlimited.ok and unlimited.summary["rows"] == 1630


def test_cli_time_limit_option(official_dir: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[float | None] = []

    def fake(path: Any, *, seeds: Any = None, budget_s: float | None = None,
             protocol: str = "geobench2") -> Report:
        assert protocol == "geobench2"  # the default: what the leaderboard and CI accept
        seen.append(budget_s)
        return Report(Path(path), layout="official")

    monkeypatch.setattr("geobench.submission.validate_path", fake)
    for argv in ([], ["--time-limit", "5"], ["--time-limit", "0"]):
        assert validate_main([str(official_dir / SMALL), *argv]) == 0
    assert seen == [S.VALIDATION_BUDGET_S, 5.0, None]
    assert validate_main([str(official_dir / SMALL), "--time-limit", "-1"]) == 2
    capsys.readouterr()
    workflow = (ROOT / ".github" / "workflows" / "validate-submission.yml").read_text()
    assert f"--time-limit {S.VALIDATION_BUDGET_S:g}" in workflow
    assert "--protocol" not in workflow  # CI accepts geobench2 rows only


# ---------------------------------------------------------------------------------------------
# 2. what validates, builds


@pytest.mark.parametrize("name", [S.CSV_FILE, S.JSON_FILE, S.GEOBENCH_FILE])
def test_a_byte_order_mark_is_refused_in_every_file(tmp_path: Path, name: str) -> None:
    folder = write_submission(tmp_path / "s", layout="geobench")
    assert validate_path(folder).ok
    (folder / name).write_bytes(b"\xef\xbb\xbf" + (folder / name).read_bytes())
    assert errors(validate_path(folder)) == [(name, None, BOM_MESSAGE)]
    assert "without BOM" in BOM_MESSAGE


def test_the_leaderboard_reader_refuses_a_bom_in_the_json(tmp_path: Path) -> None:
    """Why the BOM is refused: the leaderboard's reader (json.loads) cannot read one."""
    folder = write_submission(tmp_path / "s")
    load_input(folder)
    (folder / S.JSON_FILE).write_bytes(b"\xef\xbb\xbf" + (folder / S.JSON_FILE).read_bytes())
    with pytest.raises(ResultsError, match="not valid JSON"):
        load_input(folder)


def test_a_lone_surrogate_escape_in_json_is_refused(tmp_path: Path) -> None:
    info = additional_info()
    info["x-note"] = {"deep": ["ok", "half a pair: \ud800"]}
    folder = write_submission(tmp_path / "s")
    (folder / S.JSON_FILE).write_text(json.dumps(info, indent=2))  # ensure_ascii: written as \ud800
    report = validate_path(folder)
    assert errors(report) == [(S.JSON_FILE, None, "holds the escape \\ud800, half of a UTF-16 surrogate "
                               "pair without its other half: not a character, so the leaderboard cannot "
                               "write it; remove it")]
    info["x-note"] = "a whole pair: \U0001f600"
    (folder / S.JSON_FILE).write_text(json.dumps(info, indent=2))
    assert validate_path(folder).ok


@pytest.mark.parametrize("key", ["None", "NA", "nan", "NULL", "null", "NaN", "none", "FALSE", "True"])
def test_a_backbone_that_pandas_does_not_read_as_text_is_refused(tmp_path: Path, key: str) -> None:
    entry = {"model_display_name": "X", "model_size": "1M", "unique_backbone_key": key}
    folder = write_submission(tmp_path / "s", make_rows(backbone=key), info=additional_info(**{"New model info": [entry]}))
    what = "a boolean" if key.lower() in ("true", "false") else "a missing value (NA)"
    assert {(f, line, m) for f, line, m in errors(validate_path(folder))} == {
        (S.CSV_FILE, line, f"backbone key {key!r} is read as {what} by pandas, so by the leaderboard: "
         "choose another key") for line in range(2, 22)}
    if key in ("None", "NA", "nan", "NULL", "null", "NaN"):
        with pytest.raises(ResultsError, match="empty 'backbone'"):
            load_input(folder)
    elif key == "FALSE":  # loads, but as another name than the one in 'New model info'
        assert set(load_input(folder).rows["backbone"]) == {"False"}


def test_pandas_missing_values_are_listed_as_pandas_has_them() -> None:
    from pandas._libs.parsers import STR_NA_VALUES

    assert set(STR_NA_VALUES) == S.PANDAS_NA_VALUES


@pytest.mark.parametrize("sid", ["114be1f0-5a41-43a5-b4e6-7fb683bc01ec", SMALL, "80100fc6-dc1a-4514-b946-341157eaf816"])
def test_published_submissions_validate_and_load(official_dir: Path, sid: str) -> None:
    report = validate_path(official_dir / sid)
    assert report.ok
    assert len(load_input(official_dir / sid).rows) == report.summary["rows"]


NUMBER_FORMS = st.sampled_from(["{}", " {}", "{} ", "+{}", "{}e0", "{}0"])
BACKBONES = st.text(st.characters(codec="ascii"), min_size=1, max_size=12)


@st.composite
def maybe_valid(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A submission that may or may not be valid: odd number spellings, backbone keys, line ends,
    quoting, blank lines, unknown JSON keys with any text."""
    backbone = draw(st.sampled_from(["resnet50", "my_model"]) | BACKBONES)
    header = list(OFFICIAL_COLUMNS)
    cells = [header]
    for r in make_rows(backbone=backbone):
        row = [("" if r[c] is None else str(r[c])) for c in header]
        for c in ("test metric", "Seed", "lr"):
            row[header.index(c)] = draw(NUMBER_FORMS).format(row[header.index(c)])
        cells.append(row)
    buf = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    csv.writer(buf, quoting=quoting, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"]))).writerows(cells)
    text = buf.getvalue() + draw(st.sampled_from(["", "\n", "\n\n"]))
    entry = {"model_display_name": "X", "model_size": "1M", "unique_backbone_key": backbone}
    info = additional_info(**{"New model info": [] if backbone == "resnet50" else [entry]})
    info[draw(st.text(max_size=10))] = draw(st.text(max_size=20))
    return text.encode(), json.dumps(info, indent=2, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@given(files=maybe_valid())
@settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_what_validates_loads_with_the_leaderboard_reader(tmp_path: Path, files: tuple[bytes, bytes]) -> None:
    folder = tmp_path / "s"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / S.CSV_FILE).write_bytes(files[0])
    (folder / S.JSON_FILE).write_bytes(files[1])
    report = validate_path(folder)
    if not report.ok:
        return
    loaded = load_input(folder)  # must not raise
    assert len(loaded.rows) == report.summary["rows"] == 20
    assert set(loaded.rows["backbone"]) == set(report.summary["backbones"])
    assert all(math.isfinite(v) for v in loaded.rows["test metric"])


# ---------------------------------------------------------------------------------------------
# 3. injection in logs


@pytest.mark.parametrize(("text", "shown"), [
    ("plain name", "plain name"),
    ("a\nb", "a\\nb"),
    ("x\r\n::notice::pwned", "x\\r\\n::notice::pwned"),
    ("::add-mask::secret", "\\x3a:add-mask::secret"),
    ("  ::stop-commands::tok", "  \\x3a:stop-commands::tok"),
    ("##[error]x", "\\x23#[error]x"),
    ("\x1b[31mred\x07", "\\x1b[31mred\\x07"),
    ("line\u2028sep\x85", "line\\u2028sep\\x85"),
    ("bad\udcffbyte", "bad\\udcffbyte"),
    ("tab\there", "tab\\there"),
])  # fmt: skip
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


HOSTILE_FOLDERS = ["evil\n::notice::pwned", "::add-mask::secret", " ::stop-commands::tok", "esc\x1b]0;x\x07"]
ANNOTATION = re.compile(r"::(error|warning|notice) file=[^:\n\r]*(,line=[0-9]+)?::[^\n\r]*")


def _hostile_submissions(root: Path) -> None:
    for i, name in enumerate(HOSTILE_FOLDERS):
        rows = make_rows()
        rows[0]["decoder"] = "UNet\n::error::injected"  # a quoted cell spanning two lines
        rows[1]["experiment_name"] = "::warning::x"
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=OFFICIAL_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        info = additional_info(**{"Paper Link": "::add-mask::paper\n::notice::x", "License": "\x1b[2J"})
        info["::set-output name=x::y\n::notice::k"] = "v"
        folder = write_submission(root / name, rows, info=info, csv_text=buf.getvalue())
        (folder / f"extra{i}\n::notice::file").write_text("x")
    os.mkdir(os.fsencode(root) + b"/bad\xff\n::error::bytes")


def _check_log(out: str) -> None:
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    for line in out.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("::"):
            assert ANNOTATION.fullmatch(line), line  # only the validator's own annotations
        assert not stripped.startswith("##[")


def test_hostile_names_and_values_print_no_workflow_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subs = tmp_path / "subs"
    _hostile_submissions(subs)
    for fmt in ("text", "github"):
        assert validate_main([str(subs), "--format", fmt, "--relative-to", str(subs), "--max-problems", "0"]) == 1
        out = capsys.readouterr().out
        _check_log(out)
        assert "\\x3a:add-mask::secret: FAILED" in out and " \\x3a:stop-commands::tok: FAILED" in out
        assert "evil\\n::notice::pwned/extra0\\n::notice::file: error: unexpected file" in out
        assert "bad\\udcff\\n::error::bytes" in out
        assert "'decoder' contains control characters U+000A" in out
        assert "'Paper Link' '::add-mask::paper\\n::notice::x' is not an http(s) link" in out
    base = tmp_path / "base"
    base.mkdir()
    assert validate_main([str(subs), "--format", "github", "--changed-since", str(base), "--relative-to", str(subs)]) == 1
    _check_log(capsys.readouterr().out)


def test_hostile_names_in_a_real_process(tmp_path: Path) -> None:
    """The real command line (stdout encoding included): no traceback, no workflow command."""
    subs = tmp_path / "subs"
    _hostile_submissions(subs)
    proc = subprocess.run([sys.executable, "-m", "geobench.validate", "--format", "github", "--relative-to",
                           str(subs), str(subs)], capture_output=True, timeout=300)
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr + proc.stdout
    assert out.count(": FAILED (") == len(HOSTILE_FOLDERS) + 1
    _check_log(out)


# ---------------------------------------------------------------------------------------------
# 5. implausible claims


def test_published_results_file_is_generated_from_the_official_csvs(official_dir: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_published_results as gen
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    shipped = (ROOT / "geobench" / "submission" / plausibility.DATA_FILE).read_text()
    assert gen.dumps(gen.published_results(official_dir)) == shipped
    assert len(plausibility.published()[("full_ft", "resnet50", "so2sat")]) == 1


@pytest.mark.parametrize("sid", ["114be1f0-5a41-43a5-b4e6-7fb683bc01ec", SMALL, "80100fc6-dc1a-4514-b946-341157eaf816"])
def test_official_submissions_are_plausible(official_dir: Path, sid: str) -> None:
    report = validate_path(official_dir / sid)
    assert not [p for p in report.warnings if "the official leaderboard published" in p.message]


def _published_means(official_dir: Path, backbone: str) -> dict[str, list[tuple[float, float]]]:
    """dataset -> (mean, std) of each published submission, straight from the official CSVs."""
    import pandas as pd

    out: dict[str, list[tuple[float, float]]] = {}
    for path in sorted(official_dir.glob("*/results_and_parameters.csv")):
        df = pd.read_csv(path)
        df = df[(df["backbone"] == backbone) & (df["frozen_or_full_ft"] == "full_ft")]
        for ds, g in df.groupby("dataset"):
            out.setdefault(str(ds), []).append((g["test metric"].mean(), g["test metric"].std()))
    return out


def test_doctored_official_backbone_warns_per_dataset(tmp_path: Path, official_dir: Path) -> None:
    folder = shutil.copytree(official_dir / SMALL, tmp_path / SMALL)
    rows = list(csv.DictReader(io.StringIO((folder / S.CSV_FILE).read_text())))
    backbone = "terramind_v1_large"
    first_line: dict[str, int] = {}
    for i, r in enumerate(rows):
        if r["backbone"] == backbone:
            r["test metric"] = "0.999"
            first_line.setdefault(r["dataset"], i + 2)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / S.CSV_FILE).write_text(buf.getvalue())
    report = validate_path(folder)
    assert report.ok
    means = _published_means(official_dir, backbone)
    expected = {ds for ds, refs in means.items()
                if all(abs(0.999 - m) > max(0.05, 3 * sd) for m, sd in refs)}
    assert 15 <= len(expected) < len(means)  # BioMassters (published ~0.96) stays plausible
    warned = {(p.line, re.search(r" on (\w+) ", p.message).group(1))  # type: ignore[union-attr]
              for p in report.warnings}
    assert warned == {(first_line[ds], ds) for ds in expected}
    m, sd = min(means["so2sat"], key=lambda r: abs(0.999 - r[0]))
    shipped = min(plausibility.published()[("full_ft", backbone, "so2sat")], key=lambda r: abs(0.999 - r.mean))
    assert abs(shipped.mean - m) < 1e-6 and abs(shipped.std - sd) < 1e-6  # the package data agrees
    assert [p.message for p in report.warnings if p.line == first_line["so2sat"]] == [
        f"backbone {backbone!r} on so2sat (full_ft): mean test metric 0.9990 over 5 seed runs, but the "
        f"official leaderboard published {m:.4f} (seed std {sd:.4f}, submission {shipped.submission}): a "
        f"difference of {0.999 - m:.4f}, more than the tolerance {max(0.05, 3 * sd):.4f} = max(0.05, 3 × "
        "seed std). Check the results; explain a real improvement in 'Additional information about submission'"]


def test_only_official_backbones_are_compared(tmp_path: Path) -> None:
    entry = {"model_display_name": "X", "model_size": "1M", "unique_backbone_key": "my_model"}
    new = validate_path(write_submission(tmp_path / "new", make_rows(backbone="my_model"),
                                         info=additional_info(**{"New model info": [entry]})))
    assert new.ok and not [p for p in new.warnings if "official leaderboard published" in p.message]
    official = validate_path(write_submission(tmp_path / "old", make_rows()))  # resnet50 at 0.52
    table = plausibility.published()
    expected = {ds for ds in CLASSIFICATION
                if all(abs(0.52 - p.mean) > p.tolerance for p in table[("full_ft", "resnet50", ds)])}
    assert expected and expected != set(CLASSIFICATION)  # forestnet's published 0.56 is within 0.05
    assert {p.message.split(" (full_ft)")[0] for p in official.warnings
            if "official leaderboard published" in p.message} == {f"backbone 'resnet50' on {ds}" for ds in expected}
