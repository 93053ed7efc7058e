"""``python -m geobench.submit RUN_DIR…``: package finished seed runs as a submission folder.

Writes ``submissions/<id>/`` (geobench's layout: the official CSV columns first, then geobench's
columns; ``additional_info.json``; ``geobench.json`` with the models' metadata), or with
``--format official`` exactly the official GEO-Bench-2 leaderboard's two files. The folder is
validated before it is moved into place; a folder that would not validate is not written. Only
rows made under the published protocol (``geobench2``) are taken, unless ``--protocol NAME``
names another (``smoke``: a trial run of the whole path, which the leaderboard does not take).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from geobench.cli import main_guard
from geobench.config import OFFICIAL_PROTOCOL
from geobench.errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m geobench.submit",
        description="Package the seed runs (phase 'repeat') of run directories into a submission "
        "folder for a pull request; HPO trials are left out.",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories (geobench.run outputs)")
    p.add_argument("--id", dest="submission_id", default=None, help="submission id (default: a random UUID)")
    p.add_argument("--out", type=Path, default=Path("submissions"), help="parent folder (default: submissions/)")
    p.add_argument("--format", dest="fmt", choices=("geobench", "official"), default="geobench",
                   help="official: only the official leaderboard's two files and columns")
    p.add_argument("--name", action="append", default=[], metavar="[BACKBONE=]NAME",
                   help="display name of the model (BACKBONE=NAME when there are several)")
    p.add_argument("--size", action="append", default=[], metavar="[BACKBONE=]SIZE",
                   help="model size: a parameter count (25557032) or e.g. 300M (default: recorded by "
                   "the run, or the official leaderboard's size for known models)")
    p.add_argument("--license", default=None, help="the model's license, e.g. Apache-2.0 (default: "
                   "the model registry's, else N/A)")
    p.add_argument("--paper", default=None, help="link to the paper or preprint (default: the model "
                   "registry's, else N/A)")
    p.add_argument("--code", default=None, help="link to the model's code (default: N/A)")
    p.add_argument("--info", default="", help="how the experiments were run (free text)")
    p.add_argument("--comments", default="N/A", help="comments on new models (architecture, pre-training data, ...)")
    p.add_argument("--protocol", default=OFFICIAL_PROTOCOL, metavar="NAME",
                   help=f"accept the rows of this protocol (default {OFFICIAL_PROTOCOL}, with its exact "
                   "settings: what the leaderboard takes); another name, e.g. smoke, packages a trial "
                   "run, accepted by name")
    return p


def _per_backbone(values: list[str], option: str, backbones: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if sep and key in backbones:
            out[key] = rest
        elif len(backbones) == 1:
            out[backbones[0]] = value
        else:
            raise ConfigError(f"{option} {value!r}: the runs hold several backbones "
                              f"({', '.join(backbones)}); write {option} BACKBONE=VALUE")
    return out


def _protocol_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise ConfigError(f"--protocol {name!r}: give a protocol's name, e.g. {OFFICIAL_PROTOCOL} or smoke")
    return name


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    """Package, validate, move into place; print the folder and any warnings."""
    from geobench.submission.package import (
        InvalidSubmissionError,
        SubmissionOptions,
        build_submission,
        load_repeat_rows,
    )
    from geobench.submission.report import printable

    args = _parser().parse_args(argv)
    backbones = sorted({str(r["backbone"]) for r in load_repeat_rows(args.run_dirs)})
    opts = SubmissionOptions(
        submission_id=args.submission_id, fmt=args.fmt,
        names=_per_backbone(args.name, "--name", backbones),
        sizes=_per_backbone(args.size, "--size", backbones),
        license=args.license, paper=args.paper, code=args.code, info=args.info,
        comments=args.comments, protocol=_protocol_name(args.protocol),
    )  # fmt: skip
    try:
        target, report = build_submission(args.run_dirs, args.out, opts)
    except InvalidSubmissionError as exc:
        for problem in exc.report.sorted_problems():
            if problem.severity != "info":
                print(problem, file=sys.stderr)
        print(printable(f"error: {exc}"), file=sys.stderr)
        return 1
    for problem in report.sorted_problems():
        if problem.severity == "warning":
            print(problem, file=sys.stderr)
    print(printable(f"wrote {target} ({report.summary.get('rows', 0)} seed runs, {report.counts()})"))
    if args.fmt == "official":
        print("submit to the official leaderboard: copy both files into new_submission/ of a fork of "
              "The-AI-Alliance/GEO-Bench-2-Leaderboard and open a pull request there")
    else:
        print(printable(f"next: python -m geobench.validate {target}, then open a pull request adding it"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
