"""What a run will cost, before it starts: ``python -m geobench.run ... estimate=true``.

For each dataset of the run: the images of one training epoch and of one evaluation, the model's
measured speed on this device for that dataset's input (a few timed train steps and evaluation
passes on random tensors of the dataset's shape: bands, time steps, the protocol's image size),
and the expected device-hours of the HPO trials and the seed runs — at most ``max_epochs`` per
run (early stopping ends most runs sooner: the figure is an upper bound) — with and without each
lever geobench has: the median pruner (about half the HPO epochs, ``scripts/bench_hpo.py``) and,
for a frozen encoder, the frozen-feature cache (the encoder runs once per sample and flip).
Written to ``RUN_DIR/estimate.json``; the run summary sets it against the measured images/s.

Timing cost is bounded: inputs larger than :data:`TIMING_SIDE` pixels a side are timed at that
side and scaled by the pixel count (an assumption, stated in the table), and identical input
shapes are timed once.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TIMING_SIDE = 128
TIMING_BATCH = 2
PRUNED_EPOCH_FRACTION = 0.48  # median pruner: epochs run / unpruned (scripts/bench_hpo.py)


@dataclass
class DatasetCost:
    dataset: str
    train_images: int          # per epoch
    eval_images: int           # validation per epoch (test once per seed run)
    test_images: int
    runs: int                  # HPO trials + seed runs
    train_img_s: float         # measured (scaled to the real size)
    eval_img_s: float
    encoder_share: float       # fraction of a train step spent in the encoder's forward pass
    hours: float               # upper bound, the protocol as configured
    hours_pruned: float        # with the median pruner on the HPO trials
    hours_cached: float | None  # frozen encoder: with the frozen-feature cache
    scaled: bool               # timed at TIMING_SIDE and scaled


def _random_batch(plan: Any, spec: Any, side: int, batch: int) -> dict[str, Any]:
    import torch

    from geobench.manifest import load_manifest
    from geobench.sweep.trainer import dataset_modalities

    s = plan.settings
    m = load_manifest(plan.dataset)
    inputs = {}
    for name, mod in dataset_modalities(plan).items():
        steps = s.time_steps.length or mod.time_steps if m.is_multi_temporal and mod.time_steps > 1 else 0
        shape = (batch, steps, len(mod.bands), side, side) if steps else (batch, len(mod.bands), side, side)
        inputs[name] = torch.randn(shape)
    task = spec.task
    if task in ("classification",):
        target: Any = torch.zeros(batch, dtype=torch.long)
    elif task == "multilabel_classification":
        target = torch.zeros(batch, spec.num_classes)
    elif task == "segmentation":
        target = torch.zeros(batch, side, side, dtype=torch.long)
    elif task == "regression":
        target = torch.zeros(batch, side, side)
    else:
        box = torch.tensor([[side * 0.25, side * 0.25, side * 0.5, side * 0.5]])
        target = [{"boxes": box, "labels": torch.ones(1, dtype=torch.long),
                   **({"masks": torch.zeros(1, side, side, dtype=torch.uint8)} if task == "instance_segmentation"
                      else {})} for _ in range(batch)]
    out: dict[str, Any] = {"inputs": inputs, "target": target}
    if any(x.ndim == 5 for x in inputs.values()):
        t = next(x.shape[1] for x in inputs.values() if x.ndim == 5)
        out["time_mask"] = torch.ones(batch, t, dtype=torch.bool)
    return out


def _time(fn: Any, repeat: int = 1) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def real_side(plan: Any) -> int:
    """The side in pixels of the dataset's input under the protocol."""
    from geobench.sweep.trainer import task_spec

    spec = task_spec(plan)
    return int(plan.settings.image_size or (spec.image_size[0] if spec.image_size else TIMING_SIDE))


def timed_model(run: Any, plan: Any, batch: int, side: int, seed: int = 0) -> tuple[Any, Any, dict[str, Any]]:
    """The trial's model (random init), its stepper for ``batch``, and one batch of random input of
    the dataset's shape at ``side`` px, already on the device: what the timings step."""
    from geobench.sweep.trainer import dataset_modalities, model_request, task_spec, train_config
    from geobench.train.seeding import seed_everything
    from geobench.train.stepper import Stepper
    from geobench.train.task_model import build_task_model

    s, spec = plan.settings, task_spec(plan)
    seed_everything(seed)
    model = build_task_model(model_request(run), spec, dataset_modalities=dataset_modalities(plan),
                             modalities=list(s.modalities) if s.modalities else None, pretrained=False,
                             finetune=s.finetune, model_inputs=s.model_inputs)
    stepper = Stepper(model, spec, train_config(run, plan, 1e-4, batch, 0))
    data = next(iter(stepper.batches([_random_batch(plan, spec, side, batch)], None)))
    return model, stepper, data


def measure(run: Any, plan: Any) -> tuple[float, float, float, bool]:
    """(train img/s, eval img/s, encoder share of a train step, scaled) for this dataset's input."""
    import torch

    from geobench.sweep.trainer import task_spec
    from geobench.train.temporal import encode_over_time

    spec = task_spec(plan)
    real = real_side(plan)
    side = min(real, TIMING_SIDE)
    model, stepper, batch = timed_model(run, plan, TIMING_BATCH, side)

    def train_step() -> None:
        stepper.train_step(batch)
        stepper.synchronize()

    step = _time(train_step)
    model.eval()

    def forward() -> None:
        with torch.inference_mode(), stepper.autocast():
            model.predict(batch)
        stepper.synchronize()

    def encode() -> None:
        with torch.inference_mode(), stepper.autocast():
            encode_over_time(encoder, batch["inputs"], batch.get("time_mask"), pooling=spec.temporal_pooling)
        stepper.synchronize()

    encoder: Any = model.encoder
    evaluation, enc = _time(forward), _time(encode)
    scale = (real / side) ** 2
    return TIMING_BATCH / (step * scale), TIMING_BATCH / (evaluation * scale), min(1.0, enc / step), real > side


def dataset_cost(run: Any, plan: Any, timing: tuple[float, float, float, bool]) -> DatasetCost:
    from geobench.manifest import load_manifest

    s = plan.settings
    splits = load_manifest(plan.dataset).splits
    train = int(splits["train"] * s.data_percentage / 100)
    val, test = int(splits["validation"]), int(splits["test"])
    train_s, eval_s, share, scaled = timing
    per_epoch = train / train_s + val / eval_s
    trials, seeds, epochs = s.n_trials, len(s.seeds), s.max_epochs
    hpo = trials * epochs * per_epoch
    repeat = seeds * (epochs * per_epoch + test / eval_s)
    hours = (hpo + repeat) / 3600
    cached = None
    if s.finetune == "frozen" and not s.detection:
        head = (train / train_s) * (1 - share) + (val / eval_s) * (1 - share)
        build = (4 if s.flips else 1) * train / eval_s + (val + test) / eval_s
        cached = ((trials + seeds) * epochs * head + build) / 3600
    return DatasetCost(plan.dataset, train, val, test, trials + seeds, train_s, eval_s, share, hours,
                       (hpo * PRUNED_EPOCH_FRACTION + repeat) / 3600, cached, scaled)


def estimate(run: Any, plans: list[Any]) -> list[DatasetCost]:
    """Measure each distinct input shape once and cost every dataset."""
    timings: dict[tuple[Any, ...], tuple[float, float, float, bool]] = {}
    out = []
    from geobench.sweep.trainer import dataset_modalities

    for plan in plans:
        s = plan.settings
        channels = tuple(sorted((len(m.bands), m.time_steps) for m in dataset_modalities(plan).values()))
        key = (s.task, s.image_size, channels, s.time_steps.length, s.modalities, s.model_inputs)
        if key not in timings:
            timings[key] = measure(run, plan)
        out.append(dataset_cost(run, plan, timings[key]))
    return out


def format_estimate(costs: list[DatasetCost], device: str) -> str:
    head = (f"{'dataset':<18} {'train img/ep':>12} {'runs':>5} {'train img/s':>11} {'eval img/s':>10} "
            f"{'h (upper)':>10} {'h pruned':>9} {'h cached':>9}")
    lines = [f"estimated device-hours on {device} (at most max_epochs per run; early stopping ends most "
             "runs sooner)", head, "-" * len(head)]
    for c in costs:
        cached = f"{c.hours_cached:9.2f}" if c.hours_cached is not None else f"{'-':>9}"
        mark = "*" if c.scaled else " "
        lines.append(f"{c.dataset:<18} {c.train_images:>12d} {c.runs:>5d} {c.train_img_s:>10.1f}{mark} "
                     f"{c.eval_img_s:>10.1f} {c.hours:>10.2f} {c.hours_pruned:>9.2f} {cached}")
    total = sum(c.hours for c in costs)
    pruned = sum(c.hours_pruned for c in costs)
    lines.append(f"total: {total:.2f} h; with the median pruner (protocol.pruner=median, not the published "
                 f"protocol) {pruned:.2f} h" + (
                     f"; with the frozen-feature cache {sum(c.hours_cached or c.hours for c in costs):.2f} h"
                     if any(c.hours_cached is not None for c in costs) else ""))
    if any(c.scaled for c in costs):
        lines.append(f"* timed at {TIMING_SIDE} px a side and scaled by the pixel count")
    return "\n".join(lines)


def write(costs: list[DatasetCost], path: Path) -> None:
    from geobench.fileio import atomic_write_text

    atomic_write_text(path, json.dumps([asdict(c) for c in costs], indent=1) + "\n")


def checked_against_runs(run_dir: Path) -> list[str]:
    """Lines comparing ``estimate.json``'s train img/s with the finished runs' measured img/s."""
    from geobench import results_store

    path = run_dir / "estimate.json"
    if not path.exists():
        return []
    est = {c["dataset"]: c for c in json.loads(path.read_text(encoding="utf-8"))}
    rows = list(results_store.iter_rows(run_dir))
    out = []
    for ds, c in sorted(est.items()):
        speeds = [float(r["images_per_second"]) for r in rows if r["dataset"] == ds and r.get("images_per_second")]
        if speeds:
            measured = sorted(speeds)[len(speeds) // 2]
            ratio = measured / c["train_img_s"] if c["train_img_s"] else math.nan
            out.append(f"{ds}: measured {measured:.1f} train img/s, estimated {c['train_img_s']:.1f} ({ratio:.2f}x)")
    return out
