"""What validation found: a list of problems, each with its file, line and severity."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Problem:
    """One finding. ``line`` is 1-based as a text editor counts lines (None: the whole file)."""

    file: str
    line: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"

    def github(self) -> str:
        """The problem as a GitHub Actions workflow command (an annotation on the pull request)."""
        kind = {"error": "error", "warning": "warning", "info": "notice"}[self.severity]
        props = f"file={_escape_property(self.file)}"
        if self.line is not None:
            props += f",line={self.line}"
        return f"::{kind} {props}::{_escape_data(self.message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass
class Report:
    """All problems of one submission folder, in the order found (files, then lines)."""

    path: Path
    layout: Literal["geobench", "official", "unknown"] = "unknown"
    problems: list[Problem] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def add(self, file: str | Path, line: int | None, severity: Severity, message: str) -> None:
        self.problems.append(Problem(str(file), line, severity, message))

    def error(self, file: str | Path, line: int | None, message: str) -> None:
        self.add(file, line, "error", message)

    def warning(self, file: str | Path, line: int | None, message: str) -> None:
        self.add(file, line, "warning", message)

    def info(self, file: str | Path, line: int | None, message: str) -> None:
        self.add(file, line, "info", message)

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

        def key(p: Problem) -> tuple[int, str, int]:
            r = next((v for k, v in rank.items() if p.file.endswith(k)), 0)
            return (r, p.file, -1 if p.line is None else p.line)

        return sorted(self.problems, key=key)

    def counts(self) -> str:
        n_err, n_warn = len(self.errors), len(self.warnings)
        return f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}"
