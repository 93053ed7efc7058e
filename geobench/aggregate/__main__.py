"""``python -m geobench.aggregate``: capability and per-dataset scores of results.

    python -m geobench.aggregate INPUT... --out DIR [--mode default|official] [--normalizer FILE]
                                 [--reps N] [--seed S] [--ci 0.95] [--unit seeds|datasets]
                                 [--capabilities a,b] [--partial] [--published DIR]
    python -m geobench.aggregate build-normalizer INPUT... --name NAME --version V --out FILE
                                 [--backbones a,b,...]

An INPUT is a run directory, a submission folder or an official result folder; each input is a
separate submission. DIR receives the files of :mod:`geobench.aggregate.outputs` (format
``geobench-aggregate/1``, listed in DIR/manifest.json); ``python -m geobench.leaderboard DIR``
renders them. A user mistake prints one line and exits 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from geobench.cli import main_guard, parse_list
from geobench.errors import ConfigError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see python -m geobench.aggregate --help)")


def _aggregate_parser() -> _Parser:
    p = _Parser(prog="python -m geobench.aggregate",
                description="Normalized capability scores (IQM) of results, each fine-tuning "
                            "mode scored on its own. Writes DIR/capabilities.csv, "
                            "DIR/per_dataset.csv and every other table the leaderboard pages "
                            "show, listed with their columns in DIR/manifest.json. "
                            "`python -m geobench.aggregate build-normalizer --help` builds a "
                            "normalizer from baseline results.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="run directory, submission folder or official result folder "
                        "(results_and_parameters.csv + additional_info.json)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--mode", choices=("default", "official"), default="default",
                   help="default: IQM with stratified-bootstrap 95%% CIs; official: the "
                        "published leaderboard's mean and SEM over its 100 seeded resamples")
    p.add_argument("--normalizer", metavar="FILE",
                   help="normalizer (geobench format or official normalizer.json); "
                        "default: the shipped official one")
    p.add_argument("--reps", type=int, metavar="N",
                   help="bootstrap resamples (default 10000; official mode 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the default mode")
    p.add_argument("--plot-top", type=int, metavar="K", default=None,
                   help="the pairwise plots compare the best K entries per capability (default 25)")
    p.add_argument("--ci", type=float, default=0.95, help="interval coverage (default 0.95)")
    p.add_argument("--raw-metrics", action="store_true",
                   help="the inputs' test metric is the raw metric (e.g. BioMassters RMSE): "
                        "convert to the leaderboard scale (1 - RMSE * 0.2538) on load; by "
                        "default it is already on that scale, as in official CSVs and "
                        "geobench's own results")
    p.add_argument("--unit", choices=("seeds", "datasets"), default="seeds",
                   help="bootstrap unit: seeds within each dataset (default), or datasets and "
                        "then their seeds")
    p.add_argument("--capabilities", metavar="A,B",
                   help="capabilities to score (names in conf/capability, e.g. smoke); "
                        "default: the nine official ones")
    p.add_argument("--partial", action="store_true",
                   help="score a capability the inputs ran only some datasets of over those "
                        "datasets, marked partial (every backbone over the same datasets)")
    p.add_argument("--published", metavar="DIR",
                   help="a published scores folder (scores.csv + scores-info.json, e.g. "
                        "geobench/leaderboard/published): its submissions are scored beside the "
                        "inputs on the datasets and fine-tuning modes the inputs ran")
    return p


def _build_parser() -> _Parser:
    p = _Parser(prog="python -m geobench.aggregate build-normalizer",
                description="Build a normalizer: per dataset, min and max of every seed's test "
                            "metric over the given baseline inputs (the official rule).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="baseline inputs")
    p.add_argument("--name", required=True, help="normalizer name")
    p.add_argument("--version", required=True, help="normalizer version")
    p.add_argument("--backbones", help="comma-separated backbones to use (default: all)")
    p.add_argument("--out", required=True, metavar="FILE", help="normalizer file to write")
    return p


def _run_aggregate(argv: Sequence[str]) -> int:
    args = _aggregate_parser().parse_args(argv)
    from geobench.aggregate.stage import run

    result = run(args.inputs, args.out, mode=args.mode, normalizer=args.normalizer,
                 reps=args.reps, seed=args.seed, ci=args.ci, unit=args.unit,
                 raw_metrics=args.raw_metrics, plot_top=args.plot_top,
                 capabilities=parse_list(args.capabilities) if args.capabilities else None,
                 partial=args.partial, published=args.published)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    norm = result.normalizer
    print(f"wrote {args.out}/capabilities.csv ({result.rows} rows), per_dataset.csv and the "
          f"other tables listed in {args.out}/manifest.json: mode {args.mode}, {result.reps} "
          f"resamples, normalizer {norm.name} ({norm.version}), {result.seconds:.2f} s")
    return 0


def _run_build(argv: Sequence[str]) -> int:
    args = _build_parser().parse_args(argv)
    from geobench.aggregate.inputs import load_inputs
    from geobench.aggregate.normalize import build_normalizer, save_normalizer

    subs = load_inputs(args.inputs)
    backbones = parse_list(args.backbones) if args.backbones else None
    norm = build_normalizer(subs, args.name, args.version, backbones)
    save_normalizer(norm, args.out)
    print(f"wrote {args.out}: normalizer {norm.name} ({norm.version}), "
          f"{len(norm.bounds)} datasets")
    return 0


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "build-normalizer":
        return _run_build(argv[1:])
    return _run_aggregate(argv)


if __name__ == "__main__":
    sys.exit(main())
