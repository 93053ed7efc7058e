"""``python -m geobench.validate PATH…``: check submission folders before a pull request.

Accepts geobench's submission folders and the official GEO-Bench-2 two-file layout. Lists every
problem as ``FILE:LINE: severity: message`` and exits 1 if any is an error, 0 otherwise.
Rows must come from the published protocol (``geobench2``); ``--protocol smoke`` accepts a trial
run's rows instead (never used by the CI workflow).
A PATH that holds submission folders (e.g. ``submissions/``) validates each of them.

Everything printed is safe for a CI log: names and values from the submission have their
control characters escaped and cannot start a GitHub workflow command
(:func:`geobench.submission.report.printable`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from geobench.cli import main_guard
from geobench.config import OFFICIAL_PROTOCOL
from geobench.submission import schema as S
from geobench.submission.report import Problem, Report, printable


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m geobench.validate",
        description="Check submission folders (geobench's layout or the official GEO-Bench-2 "
        "layout): schema, types, seed counts, datasets and metrics, capability coverage, value "
        "ranges, duplicates, file sizes. Exit status 1 if any error is found.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a submission folder, or a folder of submission folders (e.g. submissions/)")
    p.add_argument("--seeds", type=int, default=None, metavar="N",
                   help="required seed runs per (backbone, dataset) (default: the submission's "
                   f"'{S.SEEDS_KEY}', else {S.OFFICIAL_REQUIRED_SEEDS})")
    p.add_argument("--changed-since", type=Path, default=None, metavar="BASE",
                   help="with a folder of submissions: validate only the submission folders that "
                   "are new or differ from those in BASE (the base branch's submissions folder)")
    p.add_argument("--format", choices=("text", "github"), default="text",
                   help="github: also emit GitHub Actions annotations")
    p.add_argument("--relative-to", type=Path, default=None, metavar="DIR",
                   help="print file paths relative to DIR")
    p.add_argument("--time-limit", type=float, default=S.VALIDATION_BUDGET_S, metavar="SECONDS",
                   help="stop checking a submission after this many seconds, with an error "
                   f"(default {S.VALIDATION_BUDGET_S:g}; 0: no limit)")
    p.add_argument("--max-problems", type=int, default=200, metavar="N",
                   help="print at most N problems per submission (0: all; default 200)")
    p.add_argument("-v", "--verbose", action="store_true", help="also print notes (capability coverage)")
    p.add_argument("--protocol", default=OFFICIAL_PROTOCOL, metavar="NAME",
                   help=f"accept the rows of this protocol (default {OFFICIAL_PROTOCOL}, with its exact "
                   "settings: what the leaderboard and CI take); another name, e.g. smoke, accepts a "
                   "trial run's rows by name")
    return p


def _is_submission(path: Path) -> bool:
    return any((path / name).exists() or (path / name).is_symlink() for name in S.GEOBENCH_FILES)


def _expand(path: Path) -> list[Path]:
    """A submission folder itself, or the submission folders inside a folder of them."""
    if path.is_dir() and not path.is_symlink() and not _is_submission(path):
        subs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        if subs:
            return subs
    return [path]


def _shown(problem: Problem, relative_to: Path | None) -> Problem:
    if relative_to is None:
        return problem
    try:
        rel = os.path.relpath(problem.file, relative_to)
    except ValueError:
        return problem
    return Problem(rel, problem.line, problem.severity, problem.message)


def _print_report(report: Report, args: argparse.Namespace) -> None:
    shown = [p for p in report.sorted_problems() if args.verbose or p.severity != "info"]
    limit = args.max_problems if args.max_problems > 0 else len(shown)
    for problem in shown[:limit]:
        problem = _shown(problem, args.relative_to)
        print(problem)
        if args.format == "github" and problem.severity != "info":
            print(problem.github())
    if len(shown) > limit:
        print(f"... and {len(shown) - limit} more problems (--max-problems 0 prints all)")
    name = _shown(Problem(str(report.path), None, "info", ""), args.relative_to).file
    s = report.summary
    facts = [f"{report.layout} layout"]
    if "rows" in s:
        facts.append(f"{s['rows']} rows")
    if s.get("backbones"):
        datasets = {d for b in s["backbones"].values() for d in b["datasets"]}
        facts.append(f"{len(s['backbones'])} backbones, {len(datasets)} datasets")
    status = "OK" if report.ok else "FAILED"
    print(printable(f"{name}: {status} ({', '.join(facts)}; {report.counts()})"))


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    """Validate each PATH; print every problem; 0 if there is no error, else 1."""
    from geobench.submission import validate_path
    from geobench.submission.changes import changed_submissions

    args = _parser().parse_args(argv)
    if args.seeds is not None and not 1 <= args.seeds <= 1000:
        print("error: --seeds must be between 1 and 1000", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", args.protocol):
        print("error: --protocol must be a protocol's name, e.g. geobench2 or smoke", file=sys.stderr)
        return 2
    if not args.time_limit >= 0:
        print("error: --time-limit must be 0 (no limit) or a number of seconds", file=sys.stderr)
        return 2
    budget = args.time_limit or None
    failed = False
    folders: list[Path] = []
    for path in map(Path, args.paths):
        if args.changed_since is not None:
            changed, problems = changed_submissions(path, args.changed_since)
            for problem in problems:
                problem = _shown(problem, args.relative_to)
                print(problem)
                if args.format == "github":
                    print(problem.github())
                failed |= problem.severity == "error"
            folders += changed
        else:
            folders += _expand(path)
    if not folders:
        print("no changed submission folders to validate" if args.changed_since is not None
              else "nothing to validate")
    for folder in folders:
        report = validate_path(folder, seeds=args.seeds, budget_s=budget, protocol=args.protocol)
        _print_report(report, args)
        failed |= not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
