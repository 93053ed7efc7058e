"""``python -m geobench.models check``: build a model offline (random init) and run it.

For every model (a registry key or alias, ``timm:NAME``, ``terratorch:NAME``, an installed entry
point, or ``module:function`` naming a factory of your own) the check builds the encoder for a
12-band Sentinel-2 L2A input (and Sentinel-1 for multi-modal models), runs the features and one
forward pass per task type through the protocol's heads, and reports the band plan, shapes,
parameter count and a throughput figure. Every problem is one line; nothing raises.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from geobench.errors import GeoBenchError, UnknownNameError

if TYPE_CHECKING:
    from torch import Tensor

    from geobench.models.encoder import Encoder
    from geobench.models.sources import ModelRequest

# Bands of the built-in check inputs: a Sentinel-2 L2A modality (12 bands) and Sentinel-1 GRD.
_S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
THROUGHPUT_BATCH = 8


def check_modalities() -> dict[str, list[object]]:
    from geobench.manifest import Band
    from geobench.models.band_sets import S2_NM

    return {"s2": [Band(n, S2_NM[n], 10.0) for n in _S2],
            "s1": [Band("VV", None, 10.0), Band("VH", None, 10.0)]}


def request_for(arg: str, bands: list[str] | None = None) -> ModelRequest:
    """What ``check ARG`` names: ``module:function`` / ``package.module.function`` (a factory of
    your own, keyed by the function's name) or a model key; ``bands`` declared for it."""
    from geobench.models import plugins
    from geobench.models.catalog import ALIASES, SPECS
    from geobench.models.sources import LIBRARIES, ModelRequest

    declared = tuple(bands) if bands else None
    module, sep, func = arg.partition(":")
    known = {s.key for s in SPECS} | set(ALIASES) | set(plugins.installed())
    is_factory = (sep and module not in LIBRARIES) or (not sep and arg.count(".") >= 1
                                                      and arg not in known and not arg.startswith(LIBRARIES))
    if is_factory:
        name = (func or arg.rpartition(".")[2]).split(".")[-1]
        key = re.sub(r"[^A-Za-z0-9_.+-]", "_", name) or "my_model"
        return ModelRequest(key, target=arg, bands=declared)
    return ModelRequest(arg, bands=declared)


@dataclass
class CheckReport:
    """What one check found: ``lines`` to print, ``problems`` (one line each)."""

    key: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        status = "ok" if self.ok else "FAIL: " + "; ".join(self.problems)
        return f"{self.key}: {status}" + "".join(f"\n  {line}" for line in self.lines)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, GeoBenchError) else f"{type(exc).__name__}: {text}"[:400]


def _task_outputs(enc: Encoder, inputs: dict[str, Tensor], side: int, report: CheckReport) -> None:
    """One forward pass of the protocol's head for every task type of the model."""
    import torch

    from geobench.train.task_model import TaskSpec, build_task_model

    for task in enc.spec.task_types:
        try:
            model = build_task_model(enc, TaskSpec(task=task, num_classes=3, image_size=(side, side)))
            model.eval()
            with torch.no_grad():
                out = model(inputs)
        except Exception as exc:  # the model's own code may raise anything: one line, go on
            report.problems.append(f"{task} head: {_one_line(exc)}")
            continue
        if isinstance(out, torch.Tensor):
            report.lines.append(f"{task} {tuple(out.shape)}")
            if not torch.isfinite(out).all():
                report.problems.append(f"{task}: non-finite output")
        else:  # detection: one dict per image
            report.lines.append(f"{task} {len(out)} images x {{{','.join(sorted(out[0]))}}}")


def _plan_lines(enc: Encoder) -> list[str]:
    """The band plan, one line per channel; the unused dataset bands on one line."""
    lines = []
    for mm, matches in enc.plan.matches.items():
        lines.append(f"[{mm}]")
        lines += [f"{j}: {m.describe()}" for j, m in enumerate(matches)]
    if enc.plan.ignored:
        lines.append("unused: " + ", ".join(x.split(":")[0] for x in enc.plan.ignored))
    return lines


def _throughput(enc: Encoder, inputs: dict[str, Tensor]) -> str:
    """Encoder forward passes per second on a batch of THROUGHPUT_BATCH (after one warm-up)."""
    import torch

    batch = {m: x[:1].expand(THROUGHPUT_BATCH, -1, -1, -1).contiguous() for m, x in inputs.items()}
    with torch.no_grad():
        enc(batch)
        runs, t0 = 0, time.perf_counter()
        while runs < 3 or (time.perf_counter() - t0 < 1.0 and runs < 20):
            enc(batch)
            runs += 1
        seconds = time.perf_counter() - t0
    side = next(iter(inputs.values())).shape[-1]
    return (f"throughput {runs * THROUGHPUT_BATCH / seconds:.1f} images/s (encoder forward, batch "
            f"{THROUGHPUT_BATCH}, {side}x{side}, cpu, {torch.get_num_threads()} threads)")


def _features(enc: Encoder, inputs: dict[str, Tensor], side: int, report: CheckReport) -> None:
    import torch

    with torch.no_grad():
        feats = enc(inputs)
    report.lines.append(f"features {[tuple(f.shape) for f in feats]}")
    if len(feats) != len(enc.channels):
        report.problems.append(f"{len(feats)} feature maps, the encoder declares {len(enc.channels)}")
    for i, (f, c, r) in enumerate(zip(feats, enc.channels, enc.reductions, strict=False)):
        want = (2, c, math.ceil(side / r), math.ceil(side / r))
        if tuple(f.shape) != want:
            report.problems.append(f"level {i}: shape {tuple(f.shape)} != {want} (declared channels "
                                   f"{c}, reduction {r})")
        if not torch.isfinite(f).all():
            report.problems.append(f"level {i}: non-finite features")


def _build(req: ModelRequest, size: int | None, s1: bool) -> tuple[Encoder, int, float]:
    import torch

    from geobench.models.registry import build_encoder, get_spec

    spec = get_spec(req)
    side = size or max(2 * (spec.patch_size or 32), 32)
    chosen = ["s1", "s2"] if spec.multi_modal and s1 else None
    t0 = time.perf_counter()
    torch.manual_seed(0)
    enc = build_encoder(req, dataset_modalities=check_modalities(), modalities=chosen,
                        pretrained=False, image_size=side).eval()
    return enc, side, time.perf_counter() - t0


def check_model(model: Any, size: int | None = None, *, s1: bool = True, tasks: bool = True,
                throughput: bool = True) -> CheckReport:
    """Build ``model`` (a key or a ModelRequest) offline with random weights, run it, report."""
    import torch

    from geobench.models.encoder import count_params
    from geobench.models.sources import ModelRequest

    req = ModelRequest.of(model)
    report = CheckReport(req.key)
    try:
        enc, side, built = _build(req, size, s1)
    except UnknownNameError:
        raise  # a misspelt name: the command's usage error, with close names
    except Exception as exc:
        report.problems.append(_one_line(exc))
        return report
    spec = enc.spec
    report.key = spec.key
    params = count_params(enc.backbone)
    report.lines.append(f"built in {built:.1f}s, backbone params {params:,}, inputs "
                        f"{enc.required_modalities} {side}x{side}")
    if not spec.in_catalogue:
        report.lines.append(f"source {spec.source}; patch {spec.patch_size or '-'}; levels "
                            f"{list(spec.out_indices)}: channels {enc.channels}, reductions {enc.reductions}")
    elif params != spec.backbone_params:
        report.problems.append(f"backbone params {params:,} != stored {spec.backbone_params:,}")
    report.lines += ["band plan:"] + ["  " + line for line in _plan_lines(enc)]
    gen = torch.Generator().manual_seed(0)
    inputs = {m: torch.randn(2, len(b), side, side, generator=gen) for m, b in check_modalities().items()}
    try:
        _features(enc, inputs, side, report)
        if throughput:
            report.lines.append(_throughput(enc, inputs))
    except Exception as exc:
        report.problems.append(f"forward: {_one_line(exc)}")
        return report
    if tasks:
        _task_outputs(enc, inputs, side, report)
    return report
