"""``python -m geobench.results RUN_DIR... [--out FILE.csv] [--format all|official] [--phase repeat|hpo|all]``.

Writes the rows of one or more run directories as CSV: all columns (DESIGN.md's results row) or
exactly the official GEO-Bench-2 submission columns (seed runs only). Without ``--out`` the CSV
goes to standard output.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from geobench.cli import main_guard
from geobench.csvsafe import neutralize_value
from geobench.errors import ResultsError
from geobench.fileio import atomic_write_text
from geobench.results_store import OFFICIAL_COLUMNS, RESULT_COLUMNS, read_rows


def to_csv(run_dirs: Sequence[str | Path], fmt: str = "all", phase: str | None = None) -> str:
    df = read_rows(run_dirs)
    if phase is None:
        phase = "repeat" if fmt == "official" else "all"
    if phase != "all":
        df = df[df["phase"] == phase]
    cols = list(OFFICIAL_COLUMNS) if fmt == "official" else list(RESULT_COLUMNS)
    buf = io.StringIO()
    df[cols].map(neutralize_value).to_csv(buf, index=False)  # no spreadsheet formula in a text cell
    return buf.getvalue()


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geobench.results", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--format", choices=("all", "official"), default="all")
    ap.add_argument("--phase", choices=("repeat", "hpo", "all"))
    args = ap.parse_args(argv)
    for d in args.run_dirs:
        if not (d / "results").is_dir():
            raise ResultsError(f"{d}: not a run directory (no results/ folder)")
    text = to_csv(args.run_dirs, args.format, args.phase)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    atomic_write_text(args.out, text)
    print(f"{args.out}: {text.count(chr(10)) - 1} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
