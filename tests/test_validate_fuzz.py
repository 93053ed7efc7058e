"""Fuzzing geobench.validate with hypothesis: mutations of a valid submission (dropped or renamed
columns, garbage cells, NaN/inf, wrong types, huge numbers, unicode and control characters,
truncated files, binary junk, duplicated rows, bad JSON, wrong encodings, empty files, odd folder
contents, byte-order marks). Properties: ``validate_path`` never raises; every mutation is reported
with at least one error whose line lies inside its file; the CLI exits 1 and prints no traceback
(checked on a sample). Valid variants (row order, column order, CRLF, quoting) stay valid, and
what validates loads with the leaderboard's reader (:func:`geobench.aggregate.inputs.load_input`).

About 1,100 generated files in all (max_examples below); the module runs in well under 90 s.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geobench.aggregate.inputs import load_input
from geobench.manifest import DATASETS
from geobench.results_store import EXTRA_COLUMNS, OFFICIAL_COLUMNS
from geobench.submission import Report, validate_path
from geobench.submission import schema as S
from geobench.submission.protocol_check import official_hash
from geobench.validate import main as validate_main

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                print_blob=True)
CLASSIFICATION = ("so2sat", "forestnet", "benv2", "treesatai")
SEEDS = (205, 913, 1829, 2007, 2254)
FOLDER = "sub"
NUMERIC = S.INTEGER_COLUMNS + S.FLOAT_COLUMNS
FREE_TEXT = ("decoder", "experiment_name", "partition name", "batch_size_selection")


def _cells(layout: str) -> list[list[str]]:
    header = list(OFFICIAL_COLUMNS + EXTRA_COLUMNS) if layout == "geobench" else list(OFFICIAL_COLUMNS)
    rows = [header]
    for ds in CLASSIFICATION:
        for i, seed in enumerate(SEEDS):
            row = {
                "dataset": ds, "Metric": S.OFFICIAL_METRICS[ds], "test metric": repr(0.51 + i / 100),
                "Seed": str(seed), "backbone": "resnet50", "decoder": "UNet", "experiment_name": "exp",
                "partition name": "100%", "early_stop_patience": "10", "n_trials": "16",
                "data_percentages": "100", "batch_size_selection": "HPO", "frozen_or_full_ft": "full_ft",
                "batch_size": "16", "lr": "0.0001", "weight_decay": "0.01", "run_id": f"{ds}-{seed}",
                "phase": "repeat", "trial": "", "val_metric": "0.6", "epochs": "12", "train_seconds": "3.5",
                "images_per_second": "100.0", "device": "cpu", "geobench_version": "0.1.0",
                "config_hash": "abc", "started_at": "2025-01-01T00:00:00Z", "finished_at": "2025-01-01T00:01:00Z",
                "test_metric_coco": "", "protocol": "geobench2", "protocol_hash": official_hash(ds, "resnet50"),
            }  # fmt: skip
            rows.append([row[c] for c in header])
    return rows


BASE_CELLS = {"official": _cells("official"), "geobench": _cells("geobench")}
BASE_INFO: dict[str, Any] = {
    "Paper Link": "N/A", "Code Repository Link ": "https://example.org/code", "License": "MIT",
    "Number of HPO trials": "16", S.SEEDS_KEY: "5", "Additional information about submission": "fuzz",
    "Comments on new models in submission": "N/A", "New model info": [],
}  # fmt: skip
BASE_META: dict[str, Any] = {
    "format_version": 1, "submission_id": FOLDER, "created_at": "2025-01-01T00:00:00Z",
    "geobench_version": "0.1.0", "fine_tuning": "full_ft", "protocol": {"name": "geobench2", "repeated_seeds": 5},
    "models": [{"backbone": "resnet50", "display_name": "ResNet-50", "parameters": 25557032, "size": "26M",
                "license": "MIT", "paper": "N/A", "code": "N/A"}],
}  # fmt: skip


def to_csv(cells: list[list[str]], *, quoting: int = csv.QUOTE_MINIMAL, terminator: str = "\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=terminator, quoting=quoting).writerows(cells)
    return buf.getvalue()


def dump(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8")


def files_for(layout: str, csv_bytes: bytes | None = None, info: bytes | None = None,
              meta: bytes | None = None) -> dict[str, bytes]:
    files = {S.CSV_FILE: csv_bytes if csv_bytes is not None else to_csv(BASE_CELLS[layout]).encode(),
             S.JSON_FILE: info if info is not None else dump(BASE_INFO)}
    if layout == "geobench":
        files[S.GEOBENCH_FILE] = meta if meta is not None else dump(BASE_META)
    return files


def _n_lines(data: bytes) -> int:
    return len(re.split(rb"\r\n|\r|\n", data))


def check(files: dict[str, bytes], *, cli: bool, valid: bool = False,
          prepare: Callable[[Path], None] | None = None) -> Report:
    """Write the files, validate, and check the properties."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / FOLDER
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        if prepare is not None:
            prepare(folder)
        report = validate_path(folder)  # must not raise
        if valid:
            assert report.ok, [str(p) for p in report.errors]
            assert len(load_input(folder).rows) == report.summary["rows"]  # what validates, builds
        else:
            assert report.errors, "a malformed submission passed validation"
        for p in report.problems:
            assert p.severity in ("error", "warning", "info") and p.message
            name = Path(p.file).name
            if p.line is not None:
                assert p.line >= 1
                if name in files:
                    assert p.line <= _n_lines(files[name]), (str(p), _n_lines(files[name]))
        if cli:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = validate_main([str(folder)])
            assert code == (0 if valid else 1)
            assert "Traceback" not in out.getvalue() + err.getvalue()
            assert ("OK" if valid else "FAILED") in out.getvalue()
        return report


# ---------------------------------------------------------------------------------------------
# strategies

layouts = st.sampled_from(("official", "geobench"))
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
controls = st.characters(categories=("Cc", "Cf"), exclude_characters="\r\n")
non_finite = st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "-Infinity", "1e400",
                              "-1e999", "9" * 400, "1e309"])
huge = st.one_of(st.floats(min_value=1e12, max_value=1e300), st.floats(min_value=-1e300, max_value=-1e12),
                 st.integers(min_value=2**40, max_value=2**200)).map(str)
wrong_type = st.sampled_from(["abc", "true", "None", "null", "NA", "[]", "{}", "0x10", "1,5", "5%", "—",
                              "1 2", "٣", "１", "²", "1e", ".", "+", "--1", "1..2", "12abc"])
not_whole = st.floats(min_value=0.01, max_value=999.99).filter(lambda f: f != int(f)).map(repr)


@st.composite
def csv_mutation(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """(layout, CSV bytes, what was done): one mutation that must make the CSV invalid."""
    layout = draw(layouts)
    cells = [list(r) for r in BASE_CELLS[layout]]
    header = cells[0]
    kind = draw(st.sampled_from(["drop", "rename", "garbage", "non_finite", "huge", "wrong_type",
                                 "not_whole", "control", "unicode_key", "truncate", "duplicate_row",
                                 "empty_cell", "reorder_geobench", "extra_field", "junk_row"]))
    r = draw(st.integers(1, len(cells) - 1))
    if kind == "drop":
        gone = draw(st.sets(st.sampled_from(OFFICIAL_COLUMNS), min_size=1, max_size=5))
        keep = [i for i, h in enumerate(header) if h not in gone]
        cells = [[row[i] for i in keep] for row in cells]
    elif kind == "rename":
        col = draw(st.sampled_from(OFFICIAL_COLUMNS))
        new = draw(texts.filter(lambda t: t != col and t not in header))
        header[header.index(col)] = new
    elif kind == "garbage":
        col = draw(st.sampled_from(NUMERIC))
        cells[r][header.index(col)] = draw(texts) + "x"
    elif kind == "non_finite":
        cells[r][header.index(draw(st.sampled_from(NUMERIC)))] = draw(non_finite)
    elif kind == "huge":
        cells[r][header.index(draw(st.sampled_from(NUMERIC)))] = draw(huge)
    elif kind == "wrong_type":
        cells[r][header.index(draw(st.sampled_from(NUMERIC)))] = draw(wrong_type)
    elif kind == "not_whole":
        cells[r][header.index(draw(st.sampled_from(S.INTEGER_COLUMNS)))] = draw(not_whole)
    elif kind == "control":
        c = draw(st.integers(0, len(header) - 1))
        cell = cells[r][c]
        pos = draw(st.integers(0, len(cell)))
        cells[r][c] = cell[:pos] + draw(controls) + cell[pos:]
    elif kind == "unicode_key":
        col = draw(st.sampled_from(("dataset", "Metric", "backbone", "frozen_or_full_ft")))
        old = cells[r][header.index(col)]
        cells[r][header.index(col)] = draw(texts.filter(lambda t: t != old))
    elif kind == "empty_cell":
        col = draw(st.sampled_from([c for c in OFFICIAL_COLUMNS if c not in S.OPTIONAL_NUMERIC]))
        cells[r][header.index(col)] = draw(st.sampled_from(["", " ", "  "]))
    elif kind == "duplicate_row":
        cells.insert(draw(st.integers(1, len(cells))), list(cells[r]))
    elif kind == "reorder_geobench":
        layout = "geobench"
        cells = [list(x) for x in BASE_CELLS[layout]]
        n = len(OFFICIAL_COLUMNS)
        perm = draw(st.permutations(range(n)).filter(lambda p: list(p) != list(range(n))))
        cells = [[row[i] for i in perm] + row[n:] for row in cells]
    elif kind == "extra_field":
        cells[r].insert(draw(st.integers(0, len(cells[r]))), draw(texts))
    elif kind == "junk_row":
        junk = draw(st.lists(texts, min_size=1, max_size=5).filter(lambda j: to_csv([j]).strip("\r\n")))
        cells.insert(draw(st.integers(1, len(cells))), junk)  # (a blank line is skipped, as pandas does)
    text = to_csv(cells)
    if kind == "truncate":
        last_start = text.rstrip("\n").rfind("\n") + 1
        text = text[: draw(st.integers(0, last_start - 1))]
    return layout, text.encode("utf-8"), kind


@given(mutation=csv_mutation(), cli=st.integers(0, 9))
@settings(FUZZ, max_examples=520)
def test_csv_mutations_are_reported(mutation: tuple[str, bytes, str], cli: int) -> None:
    layout, data, _ = mutation
    check(files_for(layout, csv_bytes=data), cli=cli == 0)


@st.composite
def byte_mutation(draw: st.DrawFn) -> tuple[str, dict[str, bytes]]:
    """Binary junk, wrong encodings, empty files, in any of the files."""
    layout = draw(layouts)
    files = files_for(layout)
    name = draw(st.sampled_from(sorted(files)))
    text = files[name].decode("utf-8")
    kind = draw(st.sampled_from(["random", "junk_inside", "encoding", "empty", "truncate_bytes", "bom"]))
    if kind == "random":
        files[name] = draw(st.binary(max_size=3000))
    elif kind == "junk_inside":
        pos = draw(st.integers(0, len(files[name])))
        junk = draw(st.binary(max_size=200)) + draw(st.sampled_from([b"\xff", b"\x00", b"\xc3", b"\xed\xa0\x80"]))
        files[name] = files[name][:pos] + junk + files[name][pos:]
    elif kind == "encoding":
        pos = draw(st.integers(0, len(text)))
        special = draw(st.sampled_from(["é", "€", "ß", "Ω", "漢"]))
        codec = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252",
                                      "shift_jis", "gbk"]))
        mixed = text[:pos] + special + text[pos:]
        files[name] = mixed.encode(codec, errors="replace")
        try:  # a character the codec lacks becomes "?": then the file is plain ASCII again
            if b"\x00" not in files[name]:
                files[name].decode("utf-8")
                files[name] += b"\xff"
        except UnicodeDecodeError:
            pass
    elif kind == "empty":
        files[name] = draw(st.sampled_from([b"", b" ", b"\n", b"\r\n\r\n", b"\t \n"]))
    elif kind == "bom":  # the leaderboard's reader refuses a BOM, so the validator does too
        files[name] = b"\xef\xbb\xbf" + files[name]
    else:
        data = files[name].rstrip(b"\n")
        if name == S.CSV_FILE:  # drop at least the whole last row
            data = data[: data.rfind(b"\n")]
        files[name] = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    return layout, files


@given(mutation=byte_mutation(), cli=st.integers(0, 9))
@settings(FUZZ, max_examples=260)
def test_byte_level_damage_is_reported(mutation: tuple[str, dict[str, bytes]], cli: int) -> None:
    check(mutation[1], cli=cli == 0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=True) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def json_mutation(draw: st.DrawFn) -> tuple[str, dict[str, bytes]]:
    """Mutations of additional_info.json or geobench.json that must be errors."""
    layout = draw(layouts)
    which = draw(st.sampled_from([S.JSON_FILE, S.GEOBENCH_FILE] if layout == "geobench" else [S.JSON_FILE]))
    base = BASE_INFO if which == S.JSON_FILE else BASE_META
    required = list(S.ADDITIONAL_INFO_KEYS) if which == S.JSON_FILE else list(S.GEOBENCH_KEYS)
    types = {**S.ADDITIONAL_INFO_KEYS} if which == S.JSON_FILE else {**S.GEOBENCH_KEYS}
    doc = json.loads(json.dumps(base))
    kind = draw(st.sampled_from(["drop_key", "wrong_type", "nan", "deep", "duplicate_key", "not_object",
                                 "seeds", "model_entry", "link", "rename_key"]))
    raw: bytes | None = None
    if kind == "drop_key":
        for key in draw(st.sets(st.sampled_from(required), min_size=1, max_size=3)):
            del doc[key]
    elif kind == "wrong_type":
        key = draw(st.sampled_from(required))
        tp = types[key]
        doc[key] = draw(json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, tp)))
    elif kind == "nan":
        doc[draw(st.sampled_from(required))] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    elif kind == "deep":
        depth = draw(st.integers(1, 5000))
        raw = dump(doc).replace(b'"License": "MIT"', b'"License": ' + b"[" * depth + b"]" * depth, 1)
        raw = raw.replace(b'"geobench_version": "0.1.0"', b'"geobench_version": ' + b"{\"a\":" * depth + b"1" + b"}" * depth, 1)
    elif kind == "duplicate_key":
        key = draw(st.sampled_from(required))
        raw = dump(doc)[:-2] + b",\n  " + json.dumps(key).encode() + b": " + json.dumps(draw(json_values)).encode() + b"\n}"
    elif kind == "not_object":
        doc = draw(json_values.filter(lambda v: not isinstance(v, dict)) | st.dictionaries(texts, json_values, max_size=3))
    elif kind == "seeds":
        def five(v: Any) -> bool:
            return isinstance(v, int | str) and not isinstance(v, bool) and bool(re.fullmatch(r"0*5", str(v).strip()))
        value = draw(json_values.filter(lambda v: not five(v)))
        if which == S.JSON_FILE:
            doc[S.SEEDS_KEY] = value
        else:
            doc["protocol"]["repeated_seeds"] = value
    elif kind == "model_entry":
        if which == S.JSON_FILE:
            entry = draw(json_values.filter(lambda v: not isinstance(v, dict)) | st.fixed_dictionaries(
                {k: json_values for k in S.NEW_MODEL_KEYS}).filter(
                lambda d: not all(isinstance(v, str) and v == "" for v in d.values())))
            doc["New model info"] = [entry]
            if isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values()):
                entry["unique_backbone_key"] = entry["unique_backbone_key"] + " !"  # never a valid key
        else:
            key = draw(st.sampled_from(list(S.MODEL_KEYS)))
            doc["models"][0][key] = draw(json_values.filter(
                lambda v: isinstance(v, bool) or not isinstance(v, S.MODEL_KEYS[key]) or (key == "backbone")))
            if key == "backbone" and doc["models"][0]["backbone"] == "resnet50":
                doc["models"][0]["backbone"] = "other"
    elif kind == "link":
        scheme = draw(st.sampled_from(["javascript:", "data:", "file:", "vbscript:", "ftp:", "JavaScript:"]))
        value = scheme + draw(texts)
        if which == S.JSON_FILE:
            doc[draw(st.sampled_from(["Paper Link", "Code Repository Link "]))] = value
        else:
            doc["models"][0][draw(st.sampled_from(["paper", "code"]))] = value
    else:
        key = draw(st.sampled_from(required))
        doc[draw(texts.filter(lambda t: t != key and t not in doc))] = doc.pop(key)
    files = files_for(layout)
    files[which] = raw if raw is not None else json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return layout, files


@given(mutation=json_mutation(), cli=st.integers(0, 9))
@settings(FUZZ, max_examples=300)
def test_json_mutations_are_reported(mutation: tuple[str, dict[str, bytes]], cli: int) -> None:
    check(mutation[1], cli=cli == 0)


@given(layout=layouts, kind=st.sampled_from(["missing", "extra_file", "subfolder", "symlink"]),
       name=st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=30))
@settings(FUZZ, max_examples=60)
def test_folder_mutations_are_reported(layout: str, kind: str, name: str) -> None:
    files = files_for(layout)
    if name in (".", "..", *files, *S.IGNORED_FILES):
        name = name + "_x"

    def prepare(folder: Path) -> None:
        if kind == "missing":  # without geobench.json a folder is in the official layout, still valid
            (folder / sorted(S.OFFICIAL_FILES)[len(name) % 2]).unlink()
        elif kind == "extra_file":
            (folder / name).write_bytes(b"#!/bin/sh\necho hi\n")
        elif kind == "subfolder":
            (folder / name).mkdir()
        else:
            target = sorted(files)[len(name) % len(files)]
            os.replace(folder / target, folder.parent / "elsewhere")
            os.symlink(folder.parent / "elsewhere", folder / target)

    check(files, cli=len(name) % 3 == 0, prepare=prepare)


@given(layout=layouts, data=st.data())
@settings(FUZZ, max_examples=60)
def test_harmless_variants_stay_valid(layout: str, data: st.DataObject) -> None:
    """No false alarms: row order, column order (official layout), CRLF, quoting."""
    cells = [list(r) for r in BASE_CELLS[layout]]
    rows = data.draw(st.permutations(cells[1:]))
    cells = [cells[0], *rows]
    if layout == "official":
        perm = data.draw(st.permutations(range(len(cells[0]))))
        cells = [[row[i] for i in perm] for row in cells]
    text = to_csv(cells, quoting=data.draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
                  terminator=data.draw(st.sampled_from(["\n", "\r\n"])))
    text += data.draw(st.sampled_from(["", "\n", "\n\n"]))
    check(files_for(layout, csv_bytes=text.encode()), cli=data.draw(st.booleans()), valid=True)


def test_cli_subprocess_on_malformed_folders_prints_no_traceback(tmp_path: Path) -> None:
    """The real command line on one folder per damage class: exit status 1, no traceback."""
    damage = {
        "binary": {S.CSV_FILE: bytes(range(256)) * 4},
        "utf16": {S.CSV_FILE: to_csv(BASE_CELLS["official"]).encode("utf-16")},
        "truncated": {S.CSV_FILE: to_csv(BASE_CELLS["official"]).encode()[:777]},
        "nan": {S.CSV_FILE: to_csv([*BASE_CELLS["official"], ["nan"] * len(OFFICIAL_COLUMNS)]).encode()},
        "bad_json": {S.JSON_FILE: b'{"Paper Link": '},
        "deep_json": {S.JSON_FILE: b"[" * 50_000},
        "empty": {S.CSV_FILE: b"", S.JSON_FILE: b""},
        "unknown_dataset": {S.CSV_FILE: to_csv([BASE_CELLS["official"][0]] + [
            [("x" + DATASETS[0]) if i == 0 else c for i, c in enumerate(r)] for r in BASE_CELLS["official"][1:]]).encode()},
    }
    for name, changes in damage.items():
        folder = tmp_path / name
        folder.mkdir()
        for fname, data in {**files_for("official"), **changes}.items():
            (folder / fname).write_bytes(data)
    proc = subprocess.run([sys.executable, "-m", "geobench.validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.count(": FAILED (") == len(damage)
