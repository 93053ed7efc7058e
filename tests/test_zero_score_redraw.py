"""A seed run scoring exactly 0.0 on test is discarded and rerun with a redrawn seed, as
terratorch-iterate did for the published runs; the replacement row equals a plain run of that seed.

The zero is injected from the test side: the runner is started through a wrapper whose
``train_unit`` reports 0.0 for seed 205's test metric (everything else is the real smoke model on
synthetic data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geobench.prepare import prepare_dataset
from geobench.results_store import iter_rows
from geobench.sweep.plan import REDRAW_RANGE, redraw_seed
from geobench.synthetic import write_synthetic

DATASET = "so2sat"
BASE = ["model=smoke", f"dataset={DATASET}", "protocol=smoke", "prepare=false", "protocol.n_trials=2",
        "protocol.n_startup_trials=2", "protocol.max_epochs=4", "protocol.early_stop_patience=4",
        "protocol.image_size=16", "leaderboard=false", "progress=log", "num_workers=0"]
SAME = ("lr", "batch_size", "val_metric", "test metric", "epochs")

_ZERO_FOR_205 = (
    "import sys, geobench.sweep.runner as r\n"
    "real = r.train_unit\n"
    "def zero_for_205(run, plan, lr, bs, seed, **kw):\n"
    "    result = real(run, plan, lr, bs, seed, **kw)\n"
    "    if seed == 205 and kw.get('score_test'):\n"
    "        result.test_metrics[plan.metric] = 0.0\n"
    "    return result\n"
    "r.train_unit = zero_for_205\n"
    "sys.argv = ['geobench.run'] + sys.argv[1:]\n"
    "from geobench.run import main\n"
    "main()\n"
)


def test_redrawn_seeds_are_fixed_by_dataset_slot_and_attempt_and_skip_excluded() -> None:
    first = redraw_seed("so2sat", 205, 0, exclude={205, 913})
    assert first == redraw_seed("so2sat", 205, 0, exclude={205, 913})
    assert REDRAW_RANGE[0] <= first <= REDRAW_RANGE[1]
    assert redraw_seed("so2sat", 205, 0, exclude={205, 913, first}) != first
    drawn = {redraw_seed(ds, slot, a, exclude=()) for ds in ("so2sat", "benv2") for slot in (205, 913)
             for a in range(3)}
    assert len(drawn) >= 10  # datasets, slots and attempts draw different seeds


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_synthetic(DATASET, root, samples={"train": 64, "validation": 32, "test": 64}, image_size=16)
    prepare_dataset(DATASET, root, progress=False)
    return root


def _run(run_dir: Path, data_root: Path, extra: list[str], *, zero_205: bool) -> str:
    entry = ["-c", _ZERO_FOR_205] if zero_205 else ["-m", "geobench.run"]
    proc = subprocess.run([sys.executable, *entry, *BASE, f"data_root={data_root}", f"hydra.run.dir={run_dir}",
                           *extra], env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (run_dir / "run.log").read_text() if (run_dir / "run.log").exists() else proc.stderr


def _repeat_rows(run_dir: Path) -> list[dict]:
    return [r for r in iter_rows(run_dir) if r["phase"] == "repeat"]


@pytest.mark.slow
def test_zero_score_seed_is_replaced_by_a_redrawn_seed_equal_to_a_plain_run(tmp_path: Path, data_root: Path) -> None:
    redrawn = redraw_seed(DATASET, 205, 0, exclude={205, 913})
    log = _run(tmp_path / "zero", data_root, ["protocol.seeds=[205,913]"], zero_205=True)
    rows = {r["Seed"]: r for r in _repeat_rows(tmp_path / "zero")}
    assert sorted(rows) == sorted([redrawn, 913])
    assert rows[redrawn]["test metric"] != 0.0
    assert rows[redrawn]["run_id"].startswith(f"{DATASET}-repeat-205-")  # the slot's row, found on resume
    discarded = [json.loads(p.read_text()) for p in (tmp_path / "zero" / "results" / "discarded").glob("*.json")]
    assert [(d["Seed"], d["test metric"]) for d in discarded] == [(205, 0.0)]
    assert "seed 205 scored 0.0 on test" in log and f"seed {redrawn} runs in its place" in log

    # the replacement is exactly what a plain run of the redrawn seed gives
    _run(tmp_path / "plain", data_root, [f"protocol.seeds=[{redrawn},913]"], zero_205=False)
    plain = {r["Seed"]: r for r in _repeat_rows(tmp_path / "plain")}
    assert {c: rows[redrawn][c] for c in SAME} == {c: plain[redrawn][c] for c in SAME}
    assert {c: rows[913][c] for c in SAME} == {c: plain[913][c] for c in SAME}


@pytest.mark.slow
def test_zero_score_redraws_0_keeps_the_zero_row(tmp_path: Path, data_root: Path) -> None:
    _run(tmp_path / "keep", data_root, ["protocol.seeds=[205]", "protocol.zero_score_redraws=0"], zero_205=True)
    rows = _repeat_rows(tmp_path / "keep")
    assert [(r["Seed"], r["test metric"]) for r in rows] == [(205, 0.0)]
    assert not (tmp_path / "keep" / "results" / "discarded").exists()
