"""How many trials to run at once on one device: measured, with ``estimate=true``.

A small model leaves most of a large GPU idle; several units of the same sweep on one device
(``-m worker=0,...,K-1 hydra/launcher=geobench_local``) then finish the protocol sooner. K comes
from two measurements on this device, for the dataset that dominates the run's cost:

* **memory**: one trial's peak (CUDA: the allocator's peak reserved bytes; CPU: the process's
  peak resident set) against the device's total: at most ``floor(0.9 * total / peak)`` trials;
* **throughput**: 1, 2, 4, ... trial processes at once (each builds the model, warms up, waits
  for the others, then trains for the same few seconds on random input of the dataset's shape at
  the protocol's largest batch size); K doubles while the summed images/s grow by at least 10 %.

Each probe process is a real trial's model and train step (same config, read back from
``RUN_DIR/config.yaml``), so the figure holds for this model, protocol and device; it is written
to ``RUN_DIR/concurrency.json``. On a CPU the probe is small (batch at most 4, at most 128 px a
side) and only runs when asked (``estimate_concurrent=N``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HEADROOM = 0.9      # share of the device memory the trials may take together
MIN_GAIN = 1.10     # K doubles while the summed throughput grows at least this much
CPU_BATCH, CPU_SIDE = 4, 128


@dataclass
class Probe:
    trials: int             # processes at once
    images_per_second: float  # summed over them
    peak_bytes: int         # the largest one's peak memory


@dataclass
class Concurrency:
    dataset: str
    device: str
    batch: int
    side: int
    total_bytes: int
    memory_limit: int       # trials that fit in HEADROOM of the memory
    probes: list[Probe]
    chosen: int


def choose(probes: list[Probe], memory_limit: int) -> int:
    """The trial count: walk the probes (1, 2, 4, ...) while each grows the summed images/s by
    at least :data:`MIN_GAIN` over the last one kept and fits the memory."""
    chosen = 1
    best = next((p.images_per_second for p in probes if p.trials == 1), 0.0)
    for p in sorted(probes, key=lambda q: q.trials):
        if p.trials <= chosen or p.trials > memory_limit:
            continue
        if p.images_per_second < MIN_GAIN * best:
            break
        chosen, best = p.trials, p.images_per_second
    return chosen


def memory_limit(peak_bytes: int, total_bytes: int) -> int:
    return max(1, math.floor(HEADROOM * total_bytes / max(peak_bytes, 1)))


def _child(config: str, dataset: str, seconds: float, barrier: str, index: int) -> dict[str, Any]:
    """One probe process: build the trial's model, warm up, wait for the others, then train for
    ``seconds`` (at least 3 steps) and report the images/s."""
    import torch
    from omegaconf import OmegaConf

    from geobench.config import RunConfig, run_config_for_run
    from geobench.estimate import real_side, timed_model
    from geobench.sweep.plan import make_plan
    from geobench.sweep.trainer import set_cpu_threads
    from geobench.train.stepper import resolve_device

    run = run_config_for_run(OmegaConf.merge(OmegaConf.structured(RunConfig), OmegaConf.load(config)))
    set_cpu_threads(run)  # as a trial does
    plan = make_plan(run, dataset)
    real, batch = real_side(plan), max(plan.settings.batch_sizes)
    cuda = resolve_device(run.device).type == "cuda"
    batch, side = (batch, real) if cuda else (min(batch, CPU_BATCH), min(real, CPU_SIDE))
    _, stepper, data = timed_model(run, plan, batch, side, seed=index)
    for _ in range(2):  # warm-up (allocator, kernels)
        stepper.train_step(data)
    stepper.synchronize()
    Path(barrier, f"ready-{index}").touch()
    while not Path(barrier, "go").exists():
        time.sleep(0.01)
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds or steps < 3:  # the same window in every process
        stepper.train_step(data)
        steps += 1
    stepper.synchronize()
    elapsed = time.perf_counter() - t0
    if cuda:
        peak = torch.cuda.max_memory_reserved(stepper.device)
        total = torch.cuda.mem_get_info(stepper.device)[1]
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"img_s": steps * batch / elapsed, "peak": int(peak), "total": int(total), "batch": batch,
            "side": side, "device": str(stepper.device)}


def _probe(config: Path, dataset: str, trials: int, seconds: float, timeout: float) -> list[dict[str, Any]]:
    """``trials`` probe processes at once; their measurements. Their output goes to files (a full
    pipe would stall a process before the barrier)."""
    from geobench.errors import GeoBenchError

    with tempfile.TemporaryDirectory(prefix="geobench-concurrency-") as tmp:
        barrier, procs = Path(tmp), []
        for i in range(trials):
            with open(barrier / f"out-{i}", "w") as out, open(barrier / f"err-{i}", "w") as err:
                procs.append(subprocess.Popen([sys.executable, "-m", "geobench.concurrency", str(config), dataset,
                                               str(seconds), tmp, str(i)], stdout=out, stderr=err))
        try:
            deadline = time.monotonic() + timeout
            while len(list(barrier.glob("ready-*"))) < trials:
                if any(p.poll() not in (None, 0) for p in procs) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            (barrier / "go").touch()
            for p in procs:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise GeoBenchError(f"the concurrency probe ({trials} trials at once) took more than {timeout:.0f} s; "
                                "use estimate_concurrent=0 to skip it") from None
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for i, p in enumerate(procs):
            if p.returncode != 0:
                text = (barrier / f"err-{i}").read_text(errors="replace").strip()
                raise GeoBenchError(f"the concurrency probe's trial process failed (exit {p.returncode}): "
                                    f"{text.splitlines()[-1] if text else 'no message'}")
        return [json.loads((barrier / f"out-{i}").read_text().strip().splitlines()[-1]) for i in range(trials)]


def measure(config: Path, dataset: str, max_trials: int, seconds: float = 3.0,
            timeout: float = 600.0) -> Concurrency:
    """Probe 1, 2, 4, ... trials at once (at most ``max_trials`` and what the memory allows);
    stops doubling once the summed throughput gains less than :data:`MIN_GAIN`."""
    probes: list[Probe] = []
    first = _probe(config, dataset, 1, seconds, timeout)[0]
    probes.append(Probe(1, first["img_s"], first["peak"]))
    limit = memory_limit(first["peak"], first["total"])
    k = 2
    while k <= min(max_trials, limit):
        runs = _probe(config, dataset, k, seconds, timeout)
        probes.append(Probe(k, sum(r["img_s"] for r in runs), max(r["peak"] for r in runs)))
        if choose(probes, limit) != k:
            break
        k *= 2
    return Concurrency(dataset, first["device"], first["batch"], first["side"], first["total"], limit, probes,
                       choose(probes, limit))


def format_concurrency(c: Concurrency) -> str:
    gib = 1024 ** 3
    one = c.probes[0].images_per_second
    rates = ", ".join(f"{p.trials}: {p.images_per_second:.1f} img/s (x{p.images_per_second / one:.2f})"
                      for p in c.probes)
    workers = ",".join(str(i) for i in range(c.chosen))
    how = (f"-m worker={workers} hydra/launcher=geobench_local" if c.chosen > 1
           else "one trial at a time")
    return (f"trials at once on {c.device} (probed on {c.dataset}, batch {c.batch}, {c.side} px): {rates}; "
            f"memory allows {c.memory_limit} (one trial peaks at {c.probes[0].peak_bytes / gib:.2f} GiB of "
            f"{c.total_bytes / gib:.1f} GiB); chosen K={c.chosen}: {how}")


def write(c: Concurrency, path: Path) -> None:
    from geobench.fileio import atomic_write_text

    atomic_write_text(path, json.dumps(asdict(c), indent=1) + "\n")


if __name__ == "__main__":  # a probe process: CONFIG DATASET STEPS BARRIER INDEX
    cfg, ds, secs, bar, idx = sys.argv[1:6]
    print(json.dumps(_child(cfg, ds, float(secs), bar, int(idx))))
