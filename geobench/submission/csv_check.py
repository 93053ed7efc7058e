"""Checks of ``results_and_parameters.csv``: header, every cell, then the rows taken together.

Line numbers are those of a text editor (a quoted cell spanning lines counts them all); a row's
problems carry the line its record starts on.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from geobench.manifest import DATASETS
from geobench.results_store import EXTRA_COLUMNS, OFFICIAL_COLUMNS
from geobench.submission import schema as S
from geobench.submission.report import Report
from geobench.submission.textfile import control_chars, read_text, split_lines

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # ASCII digits only
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
_INFINITE = {w for w in _NON_FINITE if "inf" in w}
_MISSING_WORDS = {"na", "n/a", "null", "none", "nil", "-", "#n/a"}
_BACKBONE = re.compile(S.BACKBONE_PATTERN)
_NOT_TEXT = {**{w.lower(): "a missing value (NA)" for w in S.PANDAS_NA_VALUES},
             **{w.lower(): "a boolean" for w in S.PANDAS_BOOL_VALUES}}
# Hyperparameters that one (backbone, dataset)'s seed runs share under the protocol.
_SHARED_SETTINGS = ("lr", "batch_size", "weight_decay", "decoder", "n_trials", "early_stop_patience",
                    "experiment_name", "frozen_or_full_ft")


@dataclass
class Row:
    line: int
    cells: dict[str, str]
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass
class CsvContents:
    """What the rest of validation needs from the CSV."""

    rows: list[Row]
    columns: list[str]
    complete: bool  # the whole file parsed (no CSV syntax error)
    backbones: dict[str, int] = field(default_factory=dict)  # backbone -> first line
    ft_modes: set[str] = field(default_factory=set)


def _records(lines: list[str], display: str, report: Report) -> tuple[list[tuple[int, list[str]]], bool]:
    """CSV records with the line each starts on; False if a syntax error stopped the parse."""
    reader = csv.reader(lines, strict=True)
    out: list[tuple[int, list[str]]] = []
    prev = 0
    while True:
        report.check_time()
        try:
            record = next(reader)
        except StopIteration:
            return out, True
        except csv.Error as exc:
            report.error(display, prev + 1, f"CSV syntax error ({exc}); rows from here on were "
                         "not checked (an unclosed \" quote?)")
            return out, False
        out.append((prev + 1, record))
        prev = reader.line_num


def _close(name: str, candidates: list[str]) -> str:
    def norm(s: str) -> str:
        return re.sub(r"[\s_\-]+", "", s).lower()

    same = [c for c in candidates if norm(c) == norm(name)]
    close = same or difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return f" (found {close[0][:100]!r}: the official spelling is {name!r})" if close else ""


def _check_header(header: list[str], layout: str, display: str, report: Report) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:
            report.error(display, 1, f"column {name[:100]!r} appears twice (columns {seen[name] + 1} and {i + 1})")
        seen.setdefault(name, i)
        bad = control_chars(name)
        if bad:
            report.error(display, 1, f"column name {name[:100]!r} contains control characters {', '.join(bad)}")
    others = [h for h in header if h not in OFFICIAL_COLUMNS]
    for col in OFFICIAL_COLUMNS:
        if col not in seen:
            report.error(display, 1, f"missing required column {col!r}{_close(col, others)}")
    if layout == "geobench":
        if header[: len(OFFICIAL_COLUMNS)] != list(OFFICIAL_COLUMNS) and all(c in seen for c in OFFICIAL_COLUMNS):
            report.error(display, 1, "the official columns must come first, in the official order: "
                         + ", ".join(OFFICIAL_COLUMNS))
        rest = [h for h in header if h not in OFFICIAL_COLUMNS and h not in EXTRA_COLUMNS]
        for col in EXTRA_COLUMNS:
            if col not in seen:
                report.error(display, 1, f"missing geobench column {col!r}{_close(col, rest)}")
        for col in rest:
            report.warning(display, 1, f"unknown column {col[:100]!r} (not an official or geobench column)")


def _parse_number(text: str) -> float | str:
    """A float, or a message saying why ``text`` is not one."""
    t = text.strip()
    if t.lower() in _NON_FINITE:
        return f"{text!r} is not a finite number"
    if t.lower() in _MISSING_WORDS:
        return f"{text!r} marks a missing value; a number is required"
    if not _NUMBER.fullmatch(t):
        return f"{text!r} is not a number"
    value = float(t)
    if not math.isfinite(value):
        return f"{text!r} is too large"
    return value


def _check_number(row: Row, col: str, integer: bool, optional: bool, display: str, report: Report) -> None:
    text = row.cells[col]
    if text.strip() == "":
        if not optional:
            report.error(display, row.line, f"{col!r} is empty")
        return
    value = _parse_number(text)
    if isinstance(value, str):
        report.error(display, row.line, f"{col!r}: {value}")
        return
    if integer and value != int(value):
        report.error(display, row.line, f"{col!r}: {text!r} is not a whole number")
        return
    lo, hi = S.NUMERIC_RANGES.get(col, (None, None))
    if (lo is not None and value < lo) or (hi is not None and value > hi) or (col in S.POSITIVE_COLUMNS and value <= 0):
        low = f"> {lo}" if col in S.POSITIVE_COLUMNS else f">= {lo}"
        report.error(display, row.line, f"{col!r}: {text} is out of range (expected {low} and <= {hi})")
        return
    row.numbers[col] = value


def _check_test_metric(row: Row, display: str, report: Report) -> None:
    value = row.numbers.get("test metric")
    metric, dataset = row.cells.get("Metric"), row.cells.get("dataset")
    if value is None or metric is None:
        return
    if metric == "RMSE":
        if dataset == "biomassters" and value > 1:
            report.error(display, row.line, f"'test metric' {value} for biomassters is above 1: the "
                         f"leaderboard expects 1 - RMSE * {S.BIOMASSTERS_RMSE_SCALE} (higher is better), "
                         "not the raw RMSE")
        elif dataset == "biomassters" and value < 0.5:
            report.warning(display, row.line, f"'test metric' {value} for biomassters is far below every "
                           "published result (0.948-0.961): is it a raw RMSE? The leaderboard expects "
                           f"1 - RMSE * {S.BIOMASSTERS_RMSE_SCALE}")
        elif dataset != "biomassters" and value < 0:
            report.error(display, row.line, f"'test metric' {value}: an RMSE cannot be negative")
    elif not 0 <= value <= 1:
        hint = " (a percentage? give fractions, e.g. 0.78)" if 1 < value <= 100 else ""
        report.error(display, row.line, f"'test metric' {value} is outside [0, 1] for {metric}{hint}")


def _check_text(row: Row, col: str, ft_modes: tuple[str, ...], display: str, report: Report) -> None:
    text = row.cells[col]
    if text == "":
        report.error(display, row.line, f"{col!r} is empty")
        return
    if text != text.strip():
        report.error(display, row.line, f"{col!r}: {text!r} has spaces around it")
        return
    if col == "dataset" and text not in DATASETS:
        close = difflib.get_close_matches(text, DATASETS, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(DATASETS)}"
        report.error(display, row.line, f"unknown dataset {text!r}.{hint}")
    elif col == "Metric" and row.cells.get("dataset") in DATASETS:
        expected = S.official_metric(row.cells["dataset"])
        if expected is not None and text != expected:
            report.error(display, row.line, f"'Metric' for {row.cells['dataset']} must be {expected!r}, "
                         f"not {text!r}")
    elif col == "backbone" and not _BACKBONE.fullmatch(text):
        report.error(display, row.line, f"backbone key {text!r} may hold only letters, digits and "
                     "_ . + - (starting with a letter or digit, at most 128 characters)")
    elif col == "backbone" and text.lower() in _NOT_TEXT:
        report.error(display, row.line, f"backbone key {text!r} is read as {_NOT_TEXT[text.lower()]} by "
                     "pandas, so by the leaderboard: choose another key")
    elif col == "frozen_or_full_ft" and text not in ft_modes:
        report.error(display, row.line, f"'frozen_or_full_ft' is {text!r}; expected one of "
                     f"{', '.join(ft_modes)}")
    elif col == "phase" and text != S.SUBMITTED_PHASE:
        report.error(display, row.line, f"'phase' is {text!r}: only the seed runs (phase "
                     f"{S.SUBMITTED_PHASE!r}) are submitted, not HPO trials")


def _check_row(row: Row, layout: str, ft_modes: tuple[str, ...], display: str, report: Report) -> None:
    for col, text in row.cells.items():
        if len(text) > S.MAX_CELL_CHARS:
            report.error(display, row.line, f"{col!r} holds {len(text)} characters (limit {S.MAX_CELL_CHARS})")
            row.cells[col] = ""  # not checked further
            continue
        bad = control_chars(text)
        if bad:
            report.error(display, row.line, f"{col!r} contains control characters {', '.join(bad)}")
    for col in OFFICIAL_COLUMNS:
        if col not in row.cells or len(row.cells[col]) > S.MAX_CELL_CHARS:
            continue
        if col in S.STRING_COLUMNS:
            _check_text(row, col, ft_modes, display, report)
        else:
            _check_number(row, col, col in S.INTEGER_COLUMNS, col in S.OPTIONAL_NUMERIC, display, report)
    if layout == "geobench":
        for col in S.EXTRA_REQUIRED_TEXT:
            if col in row.cells:
                _check_text(row, col, ft_modes, display, report)
        for col in S.EXTRA_INTEGER_COLUMNS + S.EXTRA_FLOAT_COLUMNS:
            if col in row.cells:
                _check_number(row, col, col in S.EXTRA_INTEGER_COLUMNS, True, display, report)
                if row.numbers.get(col, 0) < 0 and col != "val_metric":
                    report.error(display, row.line, f"{col!r} cannot be negative")
    _check_test_metric(row, display, report)


def read_csv(path: Path, display: str, layout: str, report: Report) -> CsvContents | None:
    """Check the CSV cell by cell; return its rows for the checks across rows (None if unusable)."""
    text = read_text(path, display, S.MAX_CSV_BYTES, report)
    if text is None:
        return None
    records, complete = _records(split_lines(text), display, report)
    records = [(line, rec) for line, rec in records if rec]  # blank lines are skipped, as pandas does
    if not records:
        report.error(display, None, "no header line")
        return None
    header_line, header = records[0]
    if len(header) > S.MAX_COLUMNS:
        report.error(display, header_line, f"the header has {len(header)} columns; a results file has "
                     f"at most {S.MAX_COLUMNS} (the {len(OFFICIAL_COLUMNS)} official columns, then "
                     "geobench's); nothing else in this file was checked")
        return None
    if header_line != 1:
        report.error(display, header_line, "the header must be on the first line")
    _check_header(header, layout, display, report)
    ft_modes = S.GEOBENCH_FT_MODES if layout == "geobench" else S.OFFICIAL_FT_MODES
    contents = CsvContents(rows=[], columns=header, complete=complete)
    for line, record in records[1:]:
        report.check_time()
        if len(record) != len(header):
            report.error(display, line, f"{len(record)} fields; the header has {len(header)}")
            continue
        if all(c.strip() == "" for c in record):
            report.error(display, line, "empty row")
            continue
        row = Row(line, dict(zip(header, record, strict=True)))
        _check_row(row, layout, ft_modes, display, report)
        contents.rows.append(row)
        if row.cells.get("backbone"):
            contents.backbones.setdefault(row.cells["backbone"], line)
        if row.cells.get("frozen_or_full_ft"):
            contents.ft_modes.add(row.cells["frozen_or_full_ft"])
    if not contents.rows and complete:
        report.error(display, None, "no result rows (only a header)")
    return contents


def _lines(rows: list[Row], limit: int = 12) -> str:
    nums = [str(r.line) for r in rows]
    return ", ".join(nums[:limit]) + (f", … ({len(nums)} in all)" if len(nums) > limit else "")


def check_rows(contents: CsvContents, seeds: int, display: str, report: Report) -> None:
    """Checks across rows: seed counts and uniqueness, duplicates, shared settings, types."""
    rows = contents.rows
    if not rows:
        return
    first_of: dict[tuple[str, ...], Row] = {}
    duplicates: set[int] = set()
    for row in rows:
        report.check_time()
        key = tuple(row.cells[c] for c in contents.columns)
        if key in first_of:
            report.error(display, row.line, f"duplicate row: same as line {first_of[key].line}")
            duplicates.add(row.line)
        else:
            first_of[key] = row
    if len(contents.ft_modes) > 1:
        report.error(display, None, "rows mix fine-tuning modes "
                     f"({', '.join(sorted(contents.ft_modes))}); the leaderboard ranks each mode "
                     "separately: make one submission per mode")
    for col in S.STRING_COLUMNS:  # pandas would type an all-numeric column as numbers ("INF" too)
        values = [r.cells[col] for r in rows if col in r.cells and r.cells[col] != ""]
        if values and all(isinstance(_parse_number(v), float) or v.strip().lower() in _INFINITE for v in values):
            report.error(display, rows[0].line, f"column {col!r} holds only numbers; the leaderboard "
                         "expects text there")
    if "backbone" not in contents.columns or "dataset" not in contents.columns:
        return
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.cells["backbone"], row.cells["dataset"])].append(row)
    for (backbone, dataset), members in groups.items():
        report.check_time()
        where = f"backbone {backbone!r}, dataset {dataset!r}"
        if contents.complete and len(members) != seeds:
            report.error(display, members[0].line, f"{where}: {len(members)} seed run"
                         f"{'s' * (len(members) != 1)} (lines {_lines(members)}); the protocol needs "
                         f"exactly {seeds}")
        if "Seed" in contents.columns:
            seen: dict[str, Row] = {}
            for row in members:
                seed = row.numbers.get("Seed")
                seed_key = str(int(seed)) if seed is not None else row.cells["Seed"]
                if seed_key in seen and row.line not in duplicates:
                    report.error(display, row.line, f"{where}: seed {seed_key} again (first on line "
                                 f"{seen[seed_key].line}); each seed run needs its own seed")
                seen.setdefault(seed_key, row)
        for col in _SHARED_SETTINGS:
            if col in contents.columns:
                distinct = sorted({r.cells[col] for r in members})
                if len(distinct) > 1:
                    report.warning(display, members[0].line, f"{where}: the seed runs differ in {col!r} "
                                   f"({', '.join(map(repr, distinct[:5]))}); the protocol repeats one "
                                   "best configuration")
