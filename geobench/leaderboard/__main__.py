"""Command line: ``python -m geobench.leaderboard``.

    python -m geobench.leaderboard AGGREGATE_DIR [--name NAME] [--out DIR] [--title TEXT]
                                   [--model-info FILE] [--attribution TEXT]
    python -m geobench.leaderboard INPUT... [--name NAME] [--out DIR] [--mode default|official]
                                   [--reps N] [--normalizer FILE] [--title TEXT]
                                   [--aggregate-out DIR] [--model-info FILE] [--attribution TEXT]
                                   [--capabilities A,B] [--partial] [--published]
    python -m geobench.leaderboard import-official PATH [--name geobench2] [--out DIR]
                                   [--mode ...] [--reps N] [--commit SHA] [--title TEXT]
                                   [--aggregate-out DIR] [--package-copy | --no-package-copy]

The pages are rendered only from an aggregate output folder (``python -m geobench.aggregate``
writes one). Given such a folder, it is rendered as it is; given inputs (run directories,
submission or official result folders), the aggregate stage runs first, into ``--aggregate-out``
or a temporary folder, and the pages are rendered from its files.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from geobench.cli import main_guard
from geobench.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_AGGREGATE_OPTIONS = ("mode", "reps", "normalizer", "capabilities", "partial", "published")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see python -m geobench.leaderboard --help)")


def _common(p: argparse.ArgumentParser, default_name: str | None) -> None:
    p.add_argument("--name", default=default_name,
                   help="leaderboard name; the default output is leaderboards/NAME/")
    p.add_argument("--out", type=Path, help="output folder (default leaderboards/NAME)")
    p.add_argument("--mode", choices=("default", "official"),
                   help="default: IQM with stratified-bootstrap CIs; official: the published "
                        "GEO-Bench-2 algorithm (mean and SEM over resamples)")
    p.add_argument("--reps", type=int, default=None,
                   help="bootstrap resamples (default 10000; 100 in official mode)")
    p.add_argument("--title", help="heading shown on every page")
    p.add_argument("--plot-top", type=int, metavar="K", default=None,
                   help="the pairwise plots compare the best K entries per capability (default 25)")
    p.add_argument("--aggregate-out", type=Path, metavar="DIR",
                   help="keep the aggregate stage's output folder here (default: a temporary "
                        "folder, removed once the pages are written)")


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    build = _Parser(prog="python -m geobench.leaderboard",
                    description="Static HTML leaderboards (no server, no network): an overview "
                                "per fine-tuning mode, a page per capability and per dataset, "
                                "SVG plots, CSV and JSON of every table, all rendered from an "
                                "aggregate output folder (python -m geobench.aggregate). See also "
                                "'python -m geobench.leaderboard import-official --help'.")
    build.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                       help="an aggregate output folder (rendered as it is), or run directories, "
                            "submission folders or official result folders "
                            "(results_and_parameters.csv + additional_info.json), each a "
                            "separate submission, aggregated first")
    _common(build, "local")
    build.add_argument("--normalizer", type=Path,
                       help="normalizer file (geobench or official normalizer.json layout); "
                            "default: the shipped official normalizer")
    build.add_argument("--model-info", type=Path, metavar="FILE",
                       help="official model_info.json with display names and sizes")
    build.add_argument("--attribution", default=None, help="source line shown on every page")
    build.add_argument("--capabilities", metavar="A,B",
                       help="capabilities to score (names in conf/capability, e.g. smoke); "
                            "default: the nine official ones")
    build.add_argument("--partial", action="store_true", default=None,
                       help="score a capability the inputs ran only some datasets of over those "
                            "datasets, shown as partial (every model over the same datasets)")
    build.add_argument("--published", action="store_true", default=None,
                       help="score the published GEO-Bench-2 submissions shipped with geobench "
                            "beside the inputs, on the datasets and fine-tuning modes they ran")
    imp = _Parser(prog="python -m geobench.leaderboard import-official",
                  description="Build a leaderboard from the official GEO-Bench-2-Leaderboard "
                              "repository layout (results/<uuid>/ or <uuid>/ folders, optional "
                              "model_info.json and normalizer.json).")
    imp.add_argument("path", type=Path, help="checkout of The-AI-Alliance/GEO-Bench-2-Leaderboard")
    _common(imp, "geobench2")
    imp.add_argument("--commit", help="source commit for the attribution line (read from git "
                                      "when PATH is a checkout)")
    imp.add_argument("--package-copy", action=argparse.BooleanOptionalAction, default=None,
                     help="also write data/scores.csv and data/scores-info.json into the package "
                          "(geobench/leaderboard/published/, the published results a run's "
                          "leaderboard is scored beside); default: on for the committed board "
                          "(--name geobench2 without --out, in a source checkout)")
    return build, imp


def _out(args: argparse.Namespace) -> Path:
    if not _NAME.match(args.name or ""):
        raise ConfigError(f"--name {args.name!r}: use letters, digits, '.', '_' or '-' "
                          "(it becomes a folder name)")
    return args.out if args.out is not None else Path("leaderboards") / args.name


@contextmanager
def _aggregate_dir(args: argparse.Namespace) -> Iterator[Path]:
    if args.aggregate_out is not None:
        yield args.aggregate_out
        return
    with tempfile.TemporaryDirectory(prefix="geobench-aggregate-") as tmp:
        yield Path(tmp)


def _aggregate_and_build(args: argparse.Namespace, inputs: Sequence[Path], out: Path,
                         normalizer: Path | None, **render: Any) -> Any:
    """Run the aggregate stage on ``inputs``, then render its folder into ``out``."""
    from geobench.aggregate.stage import run as aggregate_stage
    from geobench.cli import parse_list
    from geobench.leaderboard.build import build
    from geobench.leaderboard.scores_table import PACKAGE_COPY

    caps = getattr(args, "capabilities", None)
    published = PACKAGE_COPY if getattr(args, "published", None) else None
    with _aggregate_dir(args) as folder:
        aggregate_stage(inputs, folder, mode=args.mode or "default", normalizer=normalizer,
                        reps=args.reps, plot_top=args.plot_top,
                        capabilities=parse_list(caps) if caps else None,
                        partial=bool(getattr(args, "partial", None)), published=published)
        return build(folder, out, **render)


def _render(args: argparse.Namespace) -> dict[str, Any]:
    """Title, model catalog and attribution of the pages; with ``--published`` the published
    models' display names and their source line."""
    from geobench.leaderboard.models import ModelCatalog, load_official_model_info
    from geobench.leaderboard.scores_table import PACKAGE_COPY, published_models, read_info

    official = load_official_model_info(args.model_info) if args.model_info else {}
    attribution = args.attribution
    if args.published:
        info = read_info(PACKAGE_COPY)
        official = published_models(info) | official
        if attribution is None:
            attribution = (f"Beside the inputs: {info.get('attribution', 'published results')} "
                           "Shown on the datasets and fine-tuning modes the inputs ran.")
    return {"title": args.title or f"{args.name} leaderboard",
            "catalog": ModelCatalog(official), "attribution": attribution or ""}


def _build(args: argparse.Namespace, out: Path) -> Any:
    from geobench.leaderboard.build import build
    from geobench.leaderboard.reader import is_aggregate_folder, read_aggregate

    folders = [p for p in args.inputs if is_aggregate_folder(p)]
    if not folders:
        return _aggregate_and_build(args, args.inputs, out, args.normalizer, **_render(args))
    given = [f"--{o.replace('_', '-')}" for o in (*_AGGREGATE_OPTIONS, "aggregate_out")
             if getattr(args, o) is not None]
    if len(args.inputs) > 1 or given:
        raise ConfigError(f"{folders[0]} is an aggregate output folder: render it alone, without "
                          f"{', '.join(given) or 'other inputs'} (those belong to python -m "
                          "geobench.aggregate)")
    data = read_aggregate(folders[0])
    for name in data.modified:
        print(f"note: {folders[0] / name} differs from the sha256 in its manifest.json; rendered "
              "as it is", file=sys.stderr)
    return build(data, out, **_render(args))


def _import_official(args: argparse.Namespace, out: Path) -> Any:
    from geobench.leaderboard import official
    from geobench.leaderboard.models import ModelCatalog, load_official_model_info
    from geobench.leaderboard.scores_table import PACKAGE_COPY, write_package_copy

    layout = official.find_layout(args.path)
    catalog = ModelCatalog(load_official_model_info(layout.model_info)
                           if layout.model_info else None)
    result = _aggregate_and_build(
        args, layout.submissions, out, layout.normalizer, catalog=catalog,
        normalizer_name="imported normalizer.json" if layout.normalizer else None,
        title=args.title or "GEO-Bench-2 published results",
        attribution=official.attribution(layout, args.commit))
    copy = args.package_copy
    if copy is None:  # the committed board of a source checkout
        copy = (args.name == "geobench2" and args.out is None
                and (PACKAGE_COPY.parents[2] / "pyproject.toml").is_file())
    if copy:
        for path in write_package_copy(out):
            print(f"wrote {path} (package data: the published results runs are scored beside)")
    return result


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    build_parser, import_parser = _parsers()
    importing = bool(argv) and argv[0] == "import-official"
    args = import_parser.parse_args(argv[1:]) if importing else build_parser.parse_args(argv)
    out = _out(args)
    from geobench.leaderboard.build import check_replaceable

    check_replaceable(out)  # before any work: a folder that is not a leaderboard stays as it is
    result = _import_official(args, out) if importing else _build(args, out)
    boards = ", ".join(f"{mode}: {rows} rows" for mode, rows in result.boards)
    print(f"wrote {result.out}/index.html ({result.files} files, {result.bytes / 1024:.0f} KiB; "
          f"{boards})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
