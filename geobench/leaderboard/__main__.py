"""Command line: ``python -m geobench.leaderboard``.

    python -m geobench.leaderboard INPUT... [--name NAME] [--out DIR] [--mode default|official]
                                   [--reps N] [--normalizer FILE] [--title TEXT]
    python -m geobench.leaderboard import-official PATH [--name geobench2] [--out DIR]
                                   [--mode ...] [--reps N] [--commit SHA] [--title TEXT]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from geobench.cli import main_guard
from geobench.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see python -m geobench.leaderboard --help)")


def _common(p: argparse.ArgumentParser, default_name: str | None) -> None:
    p.add_argument("--name", default=default_name,
                   help="leaderboard name; the default output is leaderboards/NAME/")
    p.add_argument("--out", type=Path, help="output folder (default leaderboards/NAME)")
    p.add_argument("--mode", default="default", choices=("default", "official"),
                   help="default: IQM with stratified-bootstrap CIs; official: the published "
                        "GEO-Bench-2 algorithm (mean and SEM over resamples)")
    p.add_argument("--reps", type=int, default=None,
                   help="bootstrap resamples (default 10000; 100 in official mode)")
    p.add_argument("--title", help="heading shown on every page")


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    build = _Parser(prog="python -m geobench.leaderboard",
                    description="Static HTML leaderboards (no server, no network) from results: "
                                "an overview per fine-tuning mode, a page per capability and per "
                                "dataset, SVG plots, CSV and JSON of every table. See also "
                                "'python -m geobench.leaderboard import-official --help'.")
    build.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                       help="a run directory, a submission folder or an official result folder "
                            "(results_and_parameters.csv + additional_info.json); each input is "
                            "a separate submission")
    _common(build, "local")
    build.add_argument("--normalizer", type=Path,
                       help="normalizer file (geobench or official normalizer.json layout); "
                            "default: the shipped official normalizer")
    imp = _Parser(prog="python -m geobench.leaderboard import-official",
                  description="Build a leaderboard from the official GEO-Bench-2-Leaderboard "
                              "repository layout (results/<uuid>/ or <uuid>/ folders, optional "
                              "model_info.json and normalizer.json).")
    imp.add_argument("path", type=Path, help="checkout of The-AI-Alliance/GEO-Bench-2-Leaderboard")
    _common(imp, "geobench2")
    imp.add_argument("--commit", help="source commit for the attribution line (read from git "
                                      "when PATH is a checkout)")
    return build, imp


def _out(args: argparse.Namespace) -> Path:
    if not _NAME.match(args.name or ""):
        raise ConfigError(f"--name {args.name!r}: use letters, digits, '.', '_' or '-' "
                          "(it becomes a folder name)")
    return args.out if args.out is not None else Path("leaderboards") / args.name


def _reps(args: argparse.Namespace) -> int:
    return args.reps if args.reps is not None else (100 if args.mode == "official" else 10_000)


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    build_parser, import_parser = _parsers()
    importing = bool(argv) and argv[0] == "import-official"
    args = import_parser.parse_args(argv[1:]) if importing else build_parser.parse_args(argv)
    out = _out(args)

    from geobench.aggregate.inputs import load_inputs
    from geobench.leaderboard.build import build
    from geobench.leaderboard.models import ModelCatalog, load_official_model_info

    if importing:
        from geobench.leaderboard import official

        layout = official.find_layout(args.path)
        catalog = ModelCatalog(load_official_model_info(layout.model_info)
                               if layout.model_info else None)
        result = build(load_inputs(layout.submissions), out, mode=args.mode, reps=_reps(args),
                       normalizer=layout.normalizer, catalog=catalog,
                       normalizer_name="imported normalizer.json" if layout.normalizer else None,
                       title=args.title or "GEO-Bench-2 published results",
                       attribution=official.attribution(layout, args.commit))
    else:
        result = build(load_inputs(args.inputs), out, mode=args.mode, reps=_reps(args),
                       normalizer=args.normalizer, title=args.title or f"{args.name} leaderboard")
    boards = ", ".join(f"{mode}: {rows} rows" for mode, rows in result.boards)
    print(f"wrote {result.out}/index.html ({result.files} files, {result.bytes / 1024:.0f} KiB; "
          f"{boards})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
