"""Spreadsheet formula injection: make text cells of CSV files that geobench writes from submitted
data safe to open in a spreadsheet.

A spreadsheet (Excel, LibreOffice, Google Sheets) runs a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula, and a tab or carriage return before one of them is skipped; a
submitted name such as ``=HYPERLINK("https://evil", "click")`` would run when a maintainer opens
the file. :func:`neutralize` prefixes such a text cell with a single quote ``'`` (which
spreadsheets show as text, as OWASP recommends). Numbers are never changed: ``-0.5`` or
``+1e-3`` stay numbers (cells that hold only an ASCII decimal number, as CSV writers print them).

Use it on text cells only, e.g. ``csv.writer(fh).writerow([neutralize(c) for c in cells])`` or,
with pandas, ``df.map(neutralize_value)`` (non-strings pass through unchanged).
"""

from __future__ import annotations

import re
from typing import TypeVar

# Characters that make a spreadsheet read a cell as a formula (or hide the one that does).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

T = TypeVar("T")


def is_number(text: str) -> bool:
    """True when ``text`` is one plain decimal number (``-0.5``, ``+3``, ``1e-4``), nothing else."""
    return _NUMBER.fullmatch(text) is not None


def needs_neutralizing(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula."""
    return text.startswith(FORMULA_STARTS) and not is_number(text)


def neutralize(text: str) -> str:
    """``text`` safe for a spreadsheet: ``'`` before a cell that could be read as a formula
    (``=1+1`` -> ``'=1+1``, ``@SUM(A1)`` -> ``'@SUM(A1)``); numbers (``-0.5``) and other text
    unchanged."""
    return QUOTE + text if needs_neutralizing(text) else text


def unneutralize(text: str) -> str:
    """The text :func:`neutralize` was given (for readers of geobench's own CSV files)."""
    return text[1:] if text.startswith(QUOTE) and needs_neutralizing(text[1:]) else text


def neutralize_value(value: T) -> T | str:
    """:func:`neutralize` for a string; any other value (a number, None, NaN) unchanged."""
    return neutralize(value) if isinstance(value, str) else value
