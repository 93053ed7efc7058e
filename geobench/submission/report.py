"""What validation found: a list of problems, each with its file, line and severity.

Output is safe to print into a CI log: :func:`printable` escapes every character that is not
printable (control characters, line breaks, lone surrogates: repr-style, ``\\n``, ``\\x1b``) and
neutralises a leading ``::`` (a GitHub Actions workflow command). A report lists at most
:data:`MAX_PER_KIND` problems of one kind and :data:`MAX_PER_FILE` of one severity per file (the
rest are counted in one line), and stops checking once its time budget is spent.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
MAX_PER_KIND = 50  # problems listed per (file, severity, kind of message)
MAX_PER_FILE = 1000  # problems listed per (file, severity)
MAX_MESSAGE_CHARS = 2000
# A kind of message: the message with its quoted values, code points and numbers taken out.
_VARIABLE = re.compile(r"'[^'\\]*(?:\\.[^'\\]*)*'|\"[^\"\\]*(?:\\.[^\"\\]*)*\"|U\+[0-9A-F]{4,6}|[0-9][0-9.eE+-]*")
_COMMAND_START = re.compile(r"^(\s*)(::|##\[)")
_clock = time.monotonic  # a module attribute, so that tests can count or fake the clock


def _escape_controls(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def printable(text: str) -> str:
    """``text`` safe to print as one log line: non-printable characters escaped repr-style
    (``\\n``, ``\\x1b``, ``\\u2028``, ``\\udcff``), a leading ``::`` or ``##[`` (a GitHub
    Actions workflow command) neutralised as ``\\x3a:`` / ``\\x23#[``."""
    text = _escape_controls(text)
    return _COMMAND_START.sub(lambda m: m.group(1) + ("\\x3a:" if m.group(2) == "::" else "\\x23#["), text, count=1)


class OutOfTime(Exception):
    """The report's time budget is spent (raised by :meth:`Report.check_time`)."""


@dataclass(frozen=True)
class Problem:
    """One finding. ``line`` is 1-based as a text editor counts lines (None: the whole file).
    ``omitted`` > 0 marks the line that stands for that many problems not listed."""

    file: str
    line: int | None
    severity: Severity
    message: str
    omitted: int = 0

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return printable(f"{where}: {self.severity}: {self.message}")

    def github(self) -> str:
        """The problem as a GitHub Actions workflow command (an annotation on the pull request)."""
        kind = {"error": "error", "warning": "warning", "info": "notice"}[self.severity]
        props = f"file={_escape_property(_escape_controls(self.file))}"
        if self.line is not None:
            props += f",line={self.line}"
        return f"::{kind} {props}::{_escape_data(_escape_controls(self.message))}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def message_kind(message: str) -> str:
    """What problems of one kind share: ``"'Seed': 'x' is not a number"`` -> ``"…: … is not a number"``."""
    return _VARIABLE.sub("…", message)[:300]


@dataclass
class Report:
    """All problems of one submission folder, in the order found (files, then lines)."""

    path: Path
    layout: Literal["geobench", "official", "unknown"] = "unknown"
    problems: list[Problem] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None  # a _clock() value; None: no time limit
    budget_s: float | None = None
    _listed: dict[tuple[str, ...], int] = field(default_factory=dict, repr=False)
    _omitted: dict[tuple[str, ...], list[Any]] = field(default_factory=dict, repr=False)

    def add(self, file: str | Path, line: int | None, severity: Severity, message: str) -> None:
        file = str(file)
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "…"
        kind = (file, severity, message_kind(message))
        whole = (file, severity)
        n_kind = self._listed[kind] = self._listed.get(kind, 0) + 1
        n_file = self._listed[whole] = self._listed.get(whole, 0) + 1
        if n_kind > MAX_PER_KIND or n_file > MAX_PER_FILE:
            key = kind if n_kind > MAX_PER_KIND else whole
            self._omitted.setdefault(key, [line, message, 0])[2] += 1
            return
        self.problems.append(Problem(file, line, severity, message))

    def error(self, file: str | Path, line: int | None, message: str) -> None:
        self.add(file, line, "error", message)

    def warning(self, file: str | Path, line: int | None, message: str) -> None:
        self.add(file, line, "warning", message)

    def info(self, file: str | Path, line: int | None, message: str) -> None:
        self.add(file, line, "info", message)

    def start_budget(self, budget_s: float | None) -> None:
        """Allow ``budget_s`` seconds from now (None: no limit) before :meth:`check_time` raises."""
        self.budget_s = budget_s
        self.deadline = None if budget_s is None else _clock() + budget_s

    def check_time(self) -> None:
        """Raise :class:`OutOfTime` once the time budget is spent (call it between steps)."""
        if self.deadline is not None and _clock() > self.deadline:
            raise OutOfTime

    def finish(self) -> None:
        """Add one line per kind of problem that had more than the listed ones."""
        for key, (line, message, n) in self._omitted.items():
            file, severity = key[0], key[1]
            what = f"like: {message}" if len(key) == 3 else f"(more than {MAX_PER_FILE} {severity}s in this file)"
            self.problems.append(Problem(file, line, severity, f"… and {n} more {severity}"  # type: ignore[arg-type]
                                         f"{'s' * (n != 1)} from here on, not listed, {what}", omitted=n))
        self._omitted.clear()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and notes allowed)."""
        return not self.errors

    def sorted_problems(self) -> list[Problem]:
        """Problems by file (folder, CSV, JSON files), then by line (whole-file problems first)."""
        rank = {".csv": 1, "additional_info.json": 2, "geobench.json": 3}

        def key(p: Problem) -> tuple[int, str, int, int]:
            r = next((v for k, v in rank.items() if p.file.endswith(k)), 0)
            return (r, p.file, -1 if p.line is None else p.line, p.omitted > 0)

        return sorted(self.problems, key=key)

    def counts(self) -> str:
        """``"3 errors, 1 warning"``, counting the problems not listed too."""
        n_err = sum(p.omitted or 1 for p in self.errors)
        n_warn = sum(p.omitted or 1 for p in self.warnings)
        return f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}"
