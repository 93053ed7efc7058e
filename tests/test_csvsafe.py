"""geobench.csvsafe: text cells that a spreadsheet would run as a formula get a leading ``'``;
numbers never change."""

from __future__ import annotations

import csv
import io
import math

import pytest

from geobench.csvsafe import FORMULA_STARTS, is_number, neutralize, neutralize_value


@pytest.mark.parametrize(("text", "safe"), [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("https://evil.example", "click")', "'=HYPERLINK(\"https://evil.example\", \"click\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("-", "'-"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("-inf", "'-inf"),
    ("resnet50", "resnet50"),
    ("a=b", "a=b"),
    ("", ""),
    (" =1", " =1"),
    ("'=1", "'=1"),
])  # fmt: skip
def test_text_that_could_run_as_a_formula_is_quoted(text: str, safe: str) -> None:
    assert neutralize(text) == safe


@pytest.mark.parametrize("number", ["-0.5", "+3", "-12", "1e-4", "-1.5E+03", "0.25", ".5", "-.5", "5.", "7"])
def test_numbers_are_never_changed(number: str) -> None:
    assert is_number(number)
    assert neutralize(number) == number


def test_every_formula_start_is_covered() -> None:
    assert FORMULA_STARTS == ("=", "+", "-", "@", "\t", "\r")
    for start in FORMULA_STARTS:
        assert neutralize(start + "x") == "'" + start + "x"


def test_neutralize_value_leaves_non_strings_alone() -> None:
    assert neutralize_value(-0.5) == -0.5
    assert neutralize_value(-3) == -3
    assert neutralize_value(None) is None
    assert math.isnan(neutralize_value(math.nan))  # type: ignore[arg-type]
    assert neutralize_value("=x") == "'=x"


def test_round_trip_through_a_csv_writer() -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([neutralize(c) for c in ["=1+1", "-0.5", "a,b", "@x"]])
    assert buf.getvalue() == "'=1+1,-0.5,\"a,b\",'@x\n"
    assert next(csv.reader([buf.getvalue()])) == ["'=1+1", "-0.5", "a,b", "'@x"]
