"""The aggregation gives the same bytes on any x86-64 CPU: BLAS kernels chosen per CPU (OpenBLAS
Sandybridge, Haswell, SkylakeX, Zen) must not change a single digit, and a pinned digest keeps it so.
Only the kernels this CPU can execute are forced (SkylakeX on a CPU without AVX-512 dies of SIGILL)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

FROZEN = "80100fc6-dc1a-4514-b946-341157eaf816"
# sha256 of capabilities.csv + poi.csv of `python -m geobench.aggregate <FROZEN> --reps 2000`
PINNED = "e3331b5d3e93ec6df31c1825bab18a0ae4a745e15ee2be53f96eff316d2ea9a8"
# OpenBLAS core type -> the CPU flags its kernels use (cpuinfo names)
KERNELS = {"Sandybridge": {"avx"}, "Haswell": {"avx2", "fma"}, "Zen": {"avx2", "fma"},
           "SkylakeX": {"avx512f", "avx512bw", "avx512dq", "avx512vl"}}


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())


def _runnable_kernels() -> list[str]:
    flags = _cpu_flags()
    return [core for core, need in KERNELS.items() if need <= flags]


def _digest(official_dir: Path, out: Path, coretype: str) -> str:
    env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
    done = subprocess.run([sys.executable, "-m", "geobench.aggregate", str(official_dir / FROZEN),
                           "--reps", "2000", "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return hashlib.sha256((out / "capabilities.csv").read_bytes() + (out / "poi.csv").read_bytes()).hexdigest()


@pytest.mark.slow
def test_same_bytes_whatever_blas_kernel(official_dir: Path, tmp_path: Path) -> None:
    cores = _runnable_kernels()
    if len(cores) < 2:
        pytest.skip(f"this CPU runs fewer than two OpenBLAS kernels ({cores}); /proc/cpuinfo unreadable?")
    digests = {core: _digest(official_dir, tmp_path / core, core) for core in cores}
    assert set(digests.values()) == {PINNED}, digests
