"""A leaderboard table: the one object a page shows and its CSV/JSON files hold.

A :class:`Table` carries its rows as plain dicts. The CSV and JSON beside the pages contain
exactly ``table.fields`` of every row (full precision, fractions as the aggregation gives them),
and every HTML cell carries the same value in its ``data-v`` attribute, so the three agree by
construction (the tests check it).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from geobench.csvsafe import neutralize


@dataclass(frozen=True)
class Column:
    """One shown column.

    ``key`` is the row field it shows and sorts by; ``ci`` names the fields of an interval shown
    beside the value, ``pm`` the field of a ± value; ``link`` names a private row field (starting
    with ``_``) holding a relative link for the cell text.
    """

    key: str
    label: str
    numeric: bool = True
    scale: float = 1.0
    digits: int = 1
    ci: tuple[str, str] | None = None
    pm: str | None = None
    link: str | None = None
    text_key: str | None = None  # numeric column shown as another field's text (size "300M")
    wrap: bool = False
    ascending_first: bool = False  # first click sorts ascending (ranks); numbers default descending
    title: str = ""


@dataclass
class Table:
    """Rows (dicts) plus how to show them; ``fields`` are the CSV/JSON columns, in order."""

    table_id: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    fields: list[str] = field(default_factory=list)
    caption: str = ""
    hidden: tuple[str, ...] = ()  # CSV/JSON fields no column shows (placed after 'submission')
    decimals: int = 6  # floats are stored rounded to this many decimals (pages, CSV and JSON alike)

    def __post_init__(self) -> None:
        if not self.fields:
            keys: list[str] = []
            for col in self.columns:
                extra = (*(col.ci or ()), *(k for k in (col.pm, col.text_key) if k))
                for k in (col.key, *extra):
                    if k not in keys and not k.startswith("_"):
                        keys.append(k)
            at = keys.index("submission") + 1 if "submission" in keys else len(keys)
            self.fields = keys[:at] + [k for k in self.hidden if k not in keys] + keys[at:]
        for row in self.rows:
            for k in self.fields:
                v = json_value(row.get(k))
                row[k] = round(v, self.decimals) if isinstance(v, float) else v

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.fields)
        for row in self.rows:  # text safe to open in a spreadsheet (no formula injection)
            writer.writerow([neutralize(csv_value(row.get(k))) for k in self.fields])
        return buf.getvalue()

    def to_json(self) -> str:
        """``{"table", "title", "columns": [...], "rows": [[...], ...]}``: rows as arrays in
        ``columns`` order (compact); missing values are null."""
        def dump(value: Any) -> str:
            return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

        head = dump({"table": self.table_id, "title": self.title, "columns": self.fields})
        rows = ",\n".join(dump([json_value(row.get(k)) for k in self.fields]) for row in self.rows)
        return head[:-1] + ',"rows":[\n' + rows + "\n]}\n"


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def json_value(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars to Python, NaN/inf to null."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if is_missing(value):
        return None
    return value


def csv_value(value: Any) -> str:
    """The text a CSV cell and an HTML ``data-v`` hold: ``repr`` of floats (round-trips), '' if missing."""
    value = json_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_number(value: Any, scale: float = 1.0, digits: int = 1) -> str:
    value = json_value(value)
    if value is None:
        return ""
    if isinstance(value, int) and scale == 1.0:
        return str(value)
    return f"{float(value) * scale:.{digits}f}"


def rank_desc(values: Sequence[Any]) -> list[int | None]:
    """Competition ranks (1 = highest; ties share the best rank); missing values get None."""
    present = [float(v) for v in values if not is_missing(json_value(v))]
    out: list[int | None] = []
    for v in values:
        v = json_value(v)
        out.append(None if is_missing(v) else 1 + sum(p > float(v) for p in present))
    return out
