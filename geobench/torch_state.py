"""torch's process-wide numerics settings, kept the same across third-party imports and runs.

Some libraries change torch's global state when they are imported: terratorch 1.2.4 calls
``torch.set_float32_matmul_precision("medium")`` at import time (its Clay v1.5 module), which
makes every later fp32 matmul of the process -- another model's training, the metrics -- run at
reduced precision on CPUs with AMX/bf16 and on GPUs with TF32. :func:`preserved_torch_state`
restores what such an import or a build changed; every backbone family is imported and built
inside it (:func:`geobench.models.registry.build_encoder`), and the training loop uses it to
scope the TF32 switches it sets on CUDA to the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TorchGlobalState:
    """The process-wide torch settings that change numerical results or their speed."""

    float32_matmul_precision: str
    cuda_matmul_allow_tf32: bool
    cudnn_allow_tf32: bool
    cudnn_benchmark: bool
    cudnn_deterministic: bool
    deterministic_algorithms: bool
    deterministic_warn_only: bool
    num_threads: int
    default_dtype: torch.dtype

    @classmethod
    def capture(cls) -> TorchGlobalState:
        return cls(
            float32_matmul_precision=torch.get_float32_matmul_precision(),
            cuda_matmul_allow_tf32=bool(torch.backends.cuda.matmul.allow_tf32),
            cudnn_allow_tf32=bool(torch.backends.cudnn.allow_tf32),
            cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
            cudnn_deterministic=bool(torch.backends.cudnn.deterministic),
            deterministic_algorithms=torch.are_deterministic_algorithms_enabled(),
            deterministic_warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
            num_threads=torch.get_num_threads(),
            default_dtype=torch.get_default_dtype(),
        )

    def restore(self) -> None:
        """Set every setting back to this snapshot (only those that differ are touched)."""
        now = TorchGlobalState.capture()
        if now == self:
            return
        if now.float32_matmul_precision != self.float32_matmul_precision:
            torch.set_float32_matmul_precision(self.float32_matmul_precision)
        # set after the precision: setting the precision also sets the CUDA matmul TF32 switch
        torch.backends.cuda.matmul.allow_tf32 = self.cuda_matmul_allow_tf32
        torch.backends.cudnn.allow_tf32 = self.cudnn_allow_tf32
        torch.backends.cudnn.benchmark = self.cudnn_benchmark
        torch.backends.cudnn.deterministic = self.cudnn_deterministic
        if (now.deterministic_algorithms, now.deterministic_warn_only) != (
                self.deterministic_algorithms, self.deterministic_warn_only):
            torch.use_deterministic_algorithms(self.deterministic_algorithms,
                                               warn_only=self.deterministic_warn_only)
        if now.num_threads != self.num_threads:
            torch.set_num_threads(self.num_threads)
        if now.default_dtype != self.default_dtype:
            torch.set_default_dtype(self.default_dtype)

    def differences(self, other: TorchGlobalState) -> dict[str, tuple[object, object]]:
        """``{setting: (self's value, other's value)}`` for the settings that differ."""
        return {k: (v, getattr(other, k)) for k, v in self.__dict__.items() if getattr(other, k) != v}


@contextlib.contextmanager
def preserved_torch_state() -> Iterator[TorchGlobalState]:
    """Run the block, then put torch's global numerics settings back as they were before it."""
    before = TorchGlobalState.capture()
    try:
        yield before
    finally:
        before.restore()
