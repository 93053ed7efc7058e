"""``python -m geobench.models``: list the model registry, or check that models build and run.

    python -m geobench.models                  # table: key, family, params, bands, tasks
    python -m geobench.models check KEY ...    # build offline (random init), forward passes:
                                               # features, then each task type's head
    python -m geobench.models check all        # every registry model
    python -m geobench.models plan KEY s2=B02,B03,B04,B08   # show the band plan for some bands

No torch is imported to answer ``--help`` or to list the registry.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from geobench.cli import main_guard
from geobench.errors import ModelError

if TYPE_CHECKING:
    from torch import Tensor

    from geobench.models.encoder import Encoder
    from geobench.models.spec import ModelSpec

# Bands of the built-in check inputs: a Sentinel-2 L2A modality (12 bands) and Sentinel-1 GRD.
_S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def _check_modalities() -> dict[str, list[object]]:
    from geobench.manifest import Band
    from geobench.models.band_sets import S2_NM

    return {"s2": [Band(n, S2_NM[n], 10.0) for n in _S2],
            "s1": [Band("VV", None, 10.0), Band("VH", None, 10.0)]}


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def list_table(pattern: str = "*") -> str:
    """The registry as a text table."""
    from geobench.models.registry import aliases, get_spec, list_models

    rows = [("key", "family", "params", "patch", "layers", "input bands", "tasks")]
    for key in list_models(pattern):
        s = get_spec(key)
        tasks = "all" if len(s.task_types) == 6 else ",".join(s.task_types)
        rows.append((key, s.family, _fmt_params(s.backbone_params), str(s.patch_size or "-"),
                     ",".join(map(str, s.out_indices)), s.bands_summary(), tasks))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)).rstrip() for r in rows]
    al = aliases()
    lines += ["", "aliases: " + ", ".join(f"{a} -> {k}" for a, k in al.items())]
    return "\n".join(lines)


def _task_outputs(enc: Encoder, spec: ModelSpec, inputs: dict[str, Tensor],
                  side: int) -> tuple[list[str], list[str]]:
    """One forward pass of the protocol's head for every task type of the model."""
    import torch

    from geobench.train.task_model import TaskSpec, build_task_model

    lines, problems = [], []
    for task in spec.task_types:
        model = build_task_model(enc, TaskSpec(task=task, num_classes=3, image_size=(side, side)))
        model.eval()
        with torch.no_grad():
            out = model(inputs)
        if isinstance(out, torch.Tensor):
            lines.append(f"{task} {tuple(out.shape)}")
            if not torch.isfinite(out).all():
                problems.append(f"{task}: non-finite output")
        else:  # detection: one dict per image
            keys = ",".join(sorted(out[0]))
            lines.append(f"{task} {len(out)} images x {{{keys}}}")
    return lines, problems


def check_model(key: str, size: int | None = None, *, s1: bool = True,
                tasks: bool = True) -> tuple[bool, str]:
    """Build ``key`` offline with random weights and run one forward pass (and one per task
    type through the protocol's heads when ``tasks``); return ``(ok, report)``."""
    import torch

    from geobench.models.encoder import count_params
    from geobench.models.registry import build_encoder, get_spec

    spec = get_spec(key)
    patch = spec.patch_size or 32
    side = size or max(2 * patch, 32)
    mods = _check_modalities()
    chosen = ["s1", "s2"] if spec.multi_modal and s1 else None
    t0 = time.perf_counter()
    enc = build_encoder(spec.key, dataset_modalities=mods, modalities=chosen, pretrained=False,
                        image_size=side).eval()
    built = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(0)
    inputs = {m: torch.randn(2, len(b), side, side, generator=gen) for m, b in mods.items()}
    with torch.no_grad():
        feats = enc(inputs)
    params = count_params(enc.backbone)
    problems = []
    shapes = [tuple(f.shape) for f in feats]
    for f, c, r in zip(feats, enc.channels, enc.reductions, strict=False):
        want = (2, c, -(-side // r), -(-side // r))
        if tuple(f.shape) != want:
            problems.append(f"shape {tuple(f.shape)} != expected {want}")
        if not torch.isfinite(f).all():
            problems.append("non-finite features")
    if len(feats) != len(enc.channels):
        problems.append(f"{len(feats)} feature maps, spec declares {len(enc.channels)}")
    if params != spec.backbone_params:
        problems.append(f"backbone params {params:,} != stored {spec.backbone_params:,}")
    task_lines: list[str] = []
    if tasks:
        task_lines, task_problems = _task_outputs(enc, spec, inputs, side)
        problems += task_problems
    status = "ok" if not problems else "FAIL: " + "; ".join(problems)
    report = (f"{spec.key}: {status}\n  built in {built:.1f}s, backbone params {params:,}, "
              f"inputs {enc.required_modalities} {side}x{side}\n  features {shapes}")
    report += "".join(f"\n  {line}" for line in task_lines)
    return not problems, report


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


@main_guard
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m geobench.models", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="list", choices=("list", "check", "plan"))
    p.add_argument("args", nargs="*", help="list: a key pattern; check: keys or 'all'; "
                                           "plan: KEY modality=BAND,...")
    p.add_argument("--size", type=int, default=None, help="check: input side in pixels")
    p.add_argument("--features-only", action="store_true",
                   help="check: skip the per-task forward passes through the protocol's heads")
    ns = p.parse_intermixed_args(argv)
    if ns.command == "list":
        print(list_table(ns.args[0] if ns.args else "*"))
        return 0
    if ns.command == "plan":
        if len(ns.args) < 2:
            raise ModelError("plan needs a model key and at least one modality=BAND,... list")
        print(_plan(ns.args[0], ns.args[1:]))
        return 0
    from geobench.models.registry import get_spec, list_models

    keys = list_models() if ns.args == ["all"] or not ns.args else [get_spec(k).key for k in ns.args]
    failed = []
    for key in keys:
        try:
            ok, report = check_model(key, ns.size, tasks=not ns.features_only)
        except ModelError as exc:
            ok, report = False, f"{key}: FAIL: {exc}"
        print(report, flush=True)
        if not ok:
            failed.append(key)
    if failed:
        print(f"{len(failed)} of {len(keys)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(keys)} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
