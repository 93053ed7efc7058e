"""torch's global numerics settings survive every backbone family's import and build.

Runs in fresh interpreters: the test process itself may already have imported the libraries.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from geobench.models.registry import _FAMILY_MODULES, get_spec, list_models

# One model per family: the smallest, so each family's library is imported and a model built.
_SMALLEST = {"smoke": "smoke", "timm": "resnet50", "torchgeo": "ssl4eos12_resnet50_sentinel2_all_decur",
             "terratorch": "terramind_v1_base"}

_SCRIPT = r"""
import json, sys, torch
from geobench.torch_state import TorchGlobalState
torch.set_float32_matmul_precision("highest")
torch.set_num_threads(1)
before = TorchGlobalState.capture()
key = sys.argv[1]
if key == "--raw-terratorch":
    import terratorch  # noqa: F401  (what happens without geobench's guard)
else:
    from geobench.manifest import Band
    from geobench.models.registry import build_encoder
    bands = [Band(n, w, 10.0) for n, w in (("B02", 490), ("B03", 560), ("B04", 665), ("B08", 842))]
    build_encoder(key, dataset_modalities={"s2": bands}, image_size=32)
after = TorchGlobalState.capture()
print(json.dumps({k: [str(a), str(b)] for k, (a, b) in before.differences(after).items()}))
"""


def _differences(arg: str) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, arg], capture_output=True, text=True,
                         timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_family_is_covered() -> None:
    assert set(_SMALLEST) == set(_FAMILY_MODULES)
    for family, key in _SMALLEST.items():
        assert key in list_models() and get_spec(key).family == family


@pytest.mark.slow
def test_terratorch_import_changes_precision_without_the_guard() -> None:
    """The hazard is real: a bare ``import terratorch`` changes the matmul precision."""
    diff = _differences("--raw-terratorch")
    assert diff.get("float32_matmul_precision") == ["highest", "medium"]


@pytest.mark.parametrize("family", sorted(_SMALLEST))
def test_building_a_family_keeps_torch_state(family: str) -> None:
    assert _differences(_SMALLEST[family]) == {}


def test_restore_puts_back_every_setting() -> None:
    import torch

    from geobench.torch_state import TorchGlobalState, preserved_torch_state

    before = TorchGlobalState.capture()
    with preserved_torch_state():
        torch.set_float32_matmul_precision("medium" if before.float32_matmul_precision != "medium" else "high")
        torch.backends.cudnn.benchmark = not before.cudnn_benchmark
        torch.backends.cudnn.allow_tf32 = not before.cudnn_allow_tf32
        torch.set_num_threads(before.num_threads + 1)
        assert TorchGlobalState.capture() != before
    assert TorchGlobalState.capture() == before
