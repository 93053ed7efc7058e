"""scripts/bench_train.py runs both paths (bare step, prepared-HDF5 harness) and reports their
ratio; a user mistake is one line on stderr."""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_train.py"


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_train", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_train"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_bench_reports_both_paths_and_their_ratio(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("geobench.models.registry")
    bench = _load()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the bench's data root goes
    made: list[Path] = []
    real_write = bench.write_prepared

    def spy(root: Path, *args: object) -> None:
        made.append(root)
        real_write(root, *args)
        assert (root / "prepared" / "bench_train" / "train.h5").is_file()

    monkeypatch.setattr(bench, "write_prepared", spy)
    out = tmp_path / "bench.json"
    rc = bench.main(["smoke", "--batch", "4", "--size", "32", "--bands", "5", "--steps", "2",
                     "--warmup", "1", "--repeat", "2", "--device", "cpu", "--workers", "1", "--threads", "1",
                     "--task", "segmentation", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "bare model step" in text and "full harness path" in text and "ratio harness/bare" in text
    res = json.loads(out.read_text())
    assert res["bare_images_per_s"] > 0 and res["harness_images_per_s"] > 0
    assert res["ratio"] == pytest.approx(res["harness_images_per_s"] / res["bare_images_per_s"], rel=1e-2)
    assert res["workers"] == 1 and res["dtype"] == "fp32" and res["bands"] == 5
    assert len(made) == 1 and made[0].parent == scratch
    assert not made[0].exists()  # the temporary data root is removed


def test_bench_unknown_model_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("geobench.models.registry")
    bench = _load()
    rc = bench.main(["resnet5O", "--device", "cpu", "--size", "32", "--batch", "2", "--steps", "1"])
    assert rc != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown model 'resnet5O'") and "\n" not in err
