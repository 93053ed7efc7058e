"""``python -m geobench.models``: list the models, or check that models build and run.

    python -m geobench.models                  # the registry, then installed models (entry points)
    python -m geobench.models check KEY ...    # build offline (random init), forward passes:
                                               # features, each task type's head, images/s
    python -m geobench.models check all        # every registry model
    python -m geobench.models check timm:resnet18 --bands B04,B03,B02,B08
    python -m geobench.models check my_pkg.nets:build_encoder   # a factory of your own
    python -m geobench.models plan KEY s2=B02,B03,B04,B08   # show the band plan for some bands

No torch is imported to answer ``--help`` or to list the registry.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from geobench.cli import main_guard
from geobench.errors import ModelError


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)).rstrip() for r in rows]


def _installed_rows() -> list[tuple[str, ...]]:
    """One row per installed entry point of group geobench.models (loaded to read its facts)."""
    from geobench.models import plugins
    from geobench.models.catalog import ALIASES, SPECS

    taken = {**{s.key: s for s in SPECS}, **ALIASES}
    rows: list[tuple[str, ...]] = []
    for name, found in sorted(plugins.installed().items()):
        for plugin in found:
            try:
                if len(found) > 1 or plugins.name_problem(name, taken):
                    plugins.find(name, taken)  # raises with the reason
                spec = plugins.load(plugin).to_spec(name, family="plugin", source=plugin.source)
                facts = (str(spec.patch_size or "-"), spec.bands_summary(), spec.display_name)
            except ModelError as exc:
                facts = ("-", f"error: {exc}", "")
            rows.append((name, *facts, plugin.source))
    return rows


def list_table(pattern: str = "*") -> str:
    """The registry as a text table, then the installed models and the other doors."""
    from geobench.models.registry import aliases, get_spec, list_models

    rows: list[tuple[str, ...]] = [("key", "family", "params", "patch", "layers", "input bands", "tasks")]
    for key in list_models(pattern):
        s = get_spec(key)
        tasks = "all" if len(s.task_types) == 6 else ",".join(s.task_types)
        rows.append((key, s.family, _fmt_params(s.backbone_params), str(s.patch_size or "-"),
                     ",".join(map(str, s.out_indices)), s.bands_summary(), tasks))
    lines = _table(rows)
    al = aliases()
    lines += ["", "aliases: " + ", ".join(f"{a} -> {k}" for a, k in al.items())]
    installed = _installed_rows()
    lines += ["", "installed models (entry-point group geobench.models):"]
    lines += (["  " + line for line in _table([("name", "patch", "input bands", "display name",
                                                  "source"), *installed])]
              if installed else ["  none"])
    lines += ["", "also: model=timm:NAME (any timm model with feature_info), model=terratorch:NAME "
              "(any terratorch BACKBONE_REGISTRY entry), model.bands=[...] to declare input bands; "
              "a model YAML with _target_ in your --config-dir (README: Benchmark your own model)"]
    return "\n".join(lines)


def _plan(key: str, specs: Sequence[str]) -> str:
    from geobench.manifest import Band
    from geobench.models.band_sets import S2_NM
    from geobench.models.registry import get_spec, plan_bands

    known = {"red": 664.6, "green": 559.8, "blue": 492.7, "nir": 832.8} | S2_NM
    mods: dict[str, list[Band]] = {}
    for item in specs:
        name, sep, bands = item.partition("=")
        if not sep or not bands:
            raise ModelError(f"band list {item!r} is not of the form modality=BAND,BAND,...")
        mods[name] = [Band(b, known.get(b, known.get(b.lower())), None) for b in bands.split(",")]
    return get_spec(key).key + "\n" + plan_bands(get_spec(key), mods, list(mods)).describe()


def _check(args: list[str], ns: argparse.Namespace) -> int:
    from geobench.models.checking import check_model, request_for
    from geobench.models.registry import list_models

    names = list_models() if args == ["all"] or not args else args
    bands = [b for b in ns.bands.split(",") if b] if ns.bands else None
    if bands and len(names) > 1:
        raise ModelError("--bands declares the input bands of one model; check one model at a time")
    failed = []
    for name in names:
        report = check_model(request_for(name, bands), ns.size, tasks=not ns.features_only,
                             throughput=not ns.features_only)
        print(report.text(), flush=True)
        if not report.ok:
            failed.append(report.key)
    if failed:
        print(f"{len(failed)} of {len(names)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(names)} ok")
    return 0


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m geobench.models", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="list", choices=("list", "check", "plan"))
    p.add_argument("args", nargs="*", help="list: a key pattern; check: keys, timm:NAME, "
                   "terratorch:NAME, installed models, module:function factories, or 'all'; "
                   "plan: KEY modality=BAND,...")
    p.add_argument("--size", type=int, default=None, help="check: input side in pixels")
    p.add_argument("--bands", default=None, metavar="B,B,...",
                   help="check: the model's input bands (names, wavelengths in nm, NAME@NM), as "
                   "model.bands=[...] declares them for timm:/terratorch: models and factories")
    p.add_argument("--features-only", action="store_true",
                   help="check: skip the per-task forward passes and the throughput measurement")
    ns = p.parse_intermixed_args(argv)
    if ns.command == "list":
        print(list_table(ns.args[0] if ns.args else "*"))
        return 0
    if ns.command == "plan":
        if len(ns.args) < 2:
            raise ModelError("plan needs a model key and at least one modality=BAND,... list")
        print(_plan(ns.args[0], ns.args[1:]))
        return 0
    return _check(ns.args, ns)


if __name__ == "__main__":
    sys.exit(main())
