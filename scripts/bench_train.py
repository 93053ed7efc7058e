"""Train-step throughput: the full harness path against the bare model step, side by side.

    python scripts/bench_train.py MODEL [--batch 64 --size 224 --bands 12 --steps 30
                                         --device cpu|cuda --compile --task classification]

*Bare step*: the training loop's own step (``geobench.train.loop.Stepper``: autocast, loss,
backward, AdamW) on one batch already on the device, repeated. *Harness path*: the same step fed by
the real input pipeline: a prepared HDF5 file (the ``geobench.prepare`` layout, uint16 bands
chunked per sample, written to a temporary data root) read by ``geobench.data.PreparedDataset``
(z-scoring in the workers), a DataLoader with the loop's worker/pinned-memory/prefetch settings,
and non-blocking copies to the device. Same model, batch, dtype; the ratio harness/bare is the
fraction of the model's speed the harness delivers (target on a GPU: >= 0.90).

Both paths run ``--warmup`` untimed steps first (worker start-up, cuDNN autotuning, compilation),
then ``--repeat`` alternating rounds of ``--steps`` timed steps each; medians are reported.
The HDF5 file holds ``--unique`` samples (default 4 batches) and is read cyclically.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from geobench.cli import main_guard

# Sentinel-2 L2A centre wavelengths (nm), the 12 bands of the GEO-Bench-2 S2 datasets.
S2_L2A = (("B01", 442.7), ("B02", 492.4), ("B03", 559.8), ("B04", 664.6), ("B05", 704.1),
          ("B06", 740.5), ("B07", 782.8), ("B08", 832.8), ("B8A", 864.7), ("B09", 945.1),
          ("B11", 1613.7), ("B12", 2202.4))
DATASET = "bench_train"
NUM_CLASSES = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="registry key (python -m geobench.models lists them)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--bands", type=int, default=12, help="Sentinel-2 bands (1-12)")
    p.add_argument("--steps", type=int, default=30, help="timed steps per path")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per path")
    p.add_argument("--repeat", type=int, default=3,
                   help="alternating rounds of both paths; medians are reported")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--task", default="classification", choices=("classification", "segmentation"))
    p.add_argument("--workers", type=int, default=None, help="loader workers (default: the loop's)")
    p.add_argument("--unique", type=int, default=None, help="samples in the HDF5 file")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = p.parse_args(argv)
    if not 1 <= args.bands <= len(S2_L2A):
        p.error(f"--bands must be 1..{len(S2_L2A)}")
    if min(args.batch, args.steps, args.repeat) < 1 or args.warmup < 0 or args.size < 8:
        p.error("--batch, --steps and --repeat must be >= 1, --warmup >= 0, --size >= 8")
    return args


def write_prepared(root: Path, n: int, bands: int, size: int, task: str) -> None:
    """A prepared-format train split of ``n`` random samples (uint16 S2-like reflectances)."""
    import h5py
    import numpy as np

    from geobench import paths
    from geobench.prepared import FORMAT_VERSION, STATS_FILE

    path = paths.prepared_file(root, DATASET, "train")
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [b for b, _ in S2_L2A[:bands]]
    with h5py.File(path, "w") as h5:
        h5.attrs.update(geobench_format=FORMAT_VERSION, dataset=DATASET, split="train",
                        task=task, num_samples=n, source=json.dumps({}))
        h5.create_dataset("sample_ids", data=np.array([f"bench:{i}" for i in range(n)], dtype="S"))
        x = h5.create_dataset("inputs/s2", shape=(n, bands, size, size), dtype="uint16",
                              chunks=(1, bands, size, size))
        for i in range(n):
            x[i] = rng.integers(0, 10000, size=(bands, size, size), dtype=np.uint16)
        x.attrs["bands"] = json.dumps(names)
        x.attrs["wavelengths_nm"] = json.dumps([w for _, w in S2_L2A[:bands]])
        x.attrs["time_steps"] = 1
        tg = h5.create_group("targets")
        tg.attrs["task"] = task
        tg.attrs["classes"] = json.dumps([f"c{k}" for k in range(NUM_CLASSES)])
        if task == "classification":
            tg.create_dataset("label", data=rng.integers(0, NUM_CLASSES, size=n))
        else:
            tg.attrs["ignore_index"] = json.dumps(-1)
            tg.create_dataset("mask", data=rng.integers(0, NUM_CLASSES, size=(n, size, size),
                                                        dtype=np.uint8), chunks=(1, size, size))
    stats = {b: {"mean": 5000.0, "std": 2887.0} for b in names}
    (path.parent / STATS_FILE).write_text(json.dumps({"modalities": {"s2": stats}}))


class Cycled(Dataset):
    """``dataset[i % len(dataset)]`` for ``length`` indices (a long epoch over few samples)."""

    def __init__(self, dataset: Any, length: int) -> None:
        self.dataset, self.length = dataset, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i % len(self.dataset)]


def timed(stepper: Any, it: Any, warmup: int, steps: int) -> float:
    """Images/s over ``steps`` train steps from iterator ``it`` after ``warmup`` untimed ones."""
    from geobench.train.loaders import batch_size_of

    for _ in range(warmup):
        stepper.train_step(next(it))
    stepper.synchronize()
    images, t0 = 0, time.perf_counter()
    for _ in range(steps):
        batch = next(it)
        stepper.train_step(batch)
        images += batch_size_of(batch)
    stepper.synchronize()
    return images / (time.perf_counter() - t0)


@main_guard
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import itertools

    import torch

    from geobench.data.dataset import PreparedDataset, collate
    from geobench.manifest import Band
    from geobench.train import TaskSpec, TrainConfig, build_task_model, seed_everything
    from geobench.train.loaders import batch_to_device, make_loader
    from geobench.train.loop import Stepper

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(0)
    spec = TaskSpec(args.task, num_classes=NUM_CLASSES, ignore_index=-1,
                    image_size=(args.size, args.size))
    bands = [Band(n, w) for n, w in S2_L2A[: args.bands]]
    model = build_task_model(args.model, spec, dataset_modalities={"s2": bands}, pretrained=False)
    cfg = TrainConfig(lr=1e-4, batch_size=args.batch, device=args.device, compile=args.compile,
                      num_workers=args.workers)
    stepper = Stepper(model, spec, cfg)
    model.train()
    dev = stepper.device
    total = (args.warmup + args.repeat * args.steps) * args.batch
    unique = args.unique or min(total, 4 * args.batch)
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    try:
        write_prepared(tmp, unique, args.bands, args.size, args.task)
        prepared = PreparedDataset(tmp, DATASET, "train")
        first = collate([prepared[i % unique] for i in range(args.batch)])
        on_device = batch_to_device(first, dev, stepper.channels_last)
        loader = make_loader(Cycled(prepared, total), batch_size=args.batch, shuffle=True, device=dev,
                             num_workers=args.workers, collate_fn=collate)
        workers = getattr(loader, "num_workers", 0)
        fed = stepper.batches(loader, None)
        bares, harnesses = [], []
        for r in range(args.repeat):  # alternate the paths: drifts of a shared machine hit both
            warm = args.warmup if r == 0 else 0
            bares.append(timed(stepper, itertools.repeat(on_device), warm, args.steps))
            harnesses.append(timed(stepper, fed, warm, args.steps))
        bare, harness = statistics.median(bares), statistics.median(harnesses)
        del fed, loader
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    result = {
        "model": args.model, "task": args.task, "batch": args.batch, "size": args.size,
        "bands": args.bands, "device": gpu, "dtype": "bf16 autocast" if stepper.bf16 else "fp32",
        "channels_last": stepper.channels_last, "compile": args.compile, "workers": workers,
        "steps": args.steps, "repeat": args.repeat, "bare_images_per_s": round(bare, 2),
        "harness_images_per_s": round(harness, 2), "ratio": round(harness / bare, 4),
    }
    print(f"{args.model} {args.task}: batch {args.batch}, {args.size}², {args.bands} bands, "
          f"{result['dtype']}, channels_last={stepper.channels_last}, compile={args.compile}, "
          f"device {gpu}, {workers} loader workers, {args.repeat} x {args.steps} timed steps")
    print(f"  bare model step   {bare:10.1f} images/s")
    print(f"  full harness path {harness:10.1f} images/s")
    print(f"  ratio harness/bare {harness / bare:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
