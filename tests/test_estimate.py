"""`estimate=true`: per-dataset images, measured speed and device-hours before a run, no data needed;
the summary later sets the estimate against the measured speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geobench.estimate import DatasetCost, checked_against_runs, dataset_cost


def test_estimate_command_prints_every_dataset_without_data(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "geobench.run", "capability=smoke", "estimate=true",
                           "protocol.finetune=frozen", f"data_root={tmp_path / 'none'}",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "none").exists()  # nothing downloaded, prepared or trained
    costs = json.loads((tmp_path / "run" / "estimate.json").read_text())
    assert [c["dataset"] for c in costs] == ["so2sat", "burn_scars", "biomassters"]
    for c in costs:
        assert c["train_img_s"] > 0 and c["eval_img_s"] > 0 and 0 < c["encoder_share"] <= 1
        assert c["runs"] == 3 + 2  # smoke: 3 trials + 2 seeds
        assert c["hours_cached"] is not None and c["hours_cached"] < c["hours"]  # frozen: the cache helps
        assert c["hours_pruned"] < c["hours"]
        assert c["dataset"] in done.stdout
    assert "total:" in done.stdout
    assert not (tmp_path / "run" / "concurrency.json").exists()  # a CPU probes only when asked


def test_choose_walks_up_while_throughput_grows_and_memory_fits() -> None:
    from geobench.concurrency import Probe, choose, memory_limit

    def probes(*rates: float) -> list[Probe]:
        return [Probe(2 ** i, r, 1) for i, r in enumerate(rates)]

    assert choose(probes(100.0), 8) == 1
    assert choose(probes(100.0, 180.0, 300.0), 8) == 4
    assert choose(probes(100.0, 180.0, 190.0), 8) == 2  # 4 adds under 10 %
    assert choose(probes(100.0, 105.0, 300.0), 8) == 1  # stops at the first small gain
    assert choose(probes(100.0, 180.0, 300.0), 3) == 2  # 4 trials would not fit
    assert choose(probes(100.0, 111.0), 8) == 2 and choose(probes(100.0, 109.0), 8) == 1  # the 10 % line
    assert memory_limit(10, 100) == 9 and memory_limit(60, 100) == 1 and memory_limit(200, 100) == 1


def test_estimate_probes_trials_at_once_when_asked(tmp_path: Path) -> None:
    """estimate_concurrent=2 on the CPU: one probe process, then two at once (real trial models
    and steps), the chosen K follows the rule on the recorded figures, and the line says how."""
    from geobench.concurrency import Probe, choose

    done = subprocess.run([sys.executable, "-m", "geobench.run", "model=smoke", "dataset=so2sat", "protocol=smoke",
                           "estimate=true", "estimate_concurrent=2", f"data_root={tmp_path / 'none'}",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads((tmp_path / "run" / "concurrency.json").read_text())
    assert found["dataset"] == "so2sat" and found["device"] == "cpu"
    assert [p["trials"] for p in found["probes"]] == [1, 2]
    assert all(p["images_per_second"] > 0 and p["peak_bytes"] > 0 for p in found["probes"])
    assert found["batch"] == 4 and found["side"] == 32  # smoke: batch sizes up to 16, 32 px; CPU cap 4
    assert found["memory_limit"] >= 1 and found["total_bytes"] > found["probes"][0]["peak_bytes"]
    assert found["chosen"] == choose([Probe(**p) for p in found["probes"]], found["memory_limit"])
    line = next(x for x in done.stdout.splitlines() if x.startswith("trials at once on cpu"))
    assert f"chosen K={found['chosen']}" in line
    assert ("-m worker=0,1 hydra/launcher=geobench_local" in line) == (found["chosen"] == 2)
    assert not (tmp_path / "none").exists()


def test_a_failing_probe_process_is_one_error_naming_its_cause(tmp_path: Path) -> None:
    from geobench.concurrency import _probe
    from geobench.errors import GeoBenchError

    with pytest.raises(GeoBenchError, match=r"trial process failed \(exit 1\): FileNotFoundError: .*missing\.yaml"):
        _probe(tmp_path / "missing.yaml", "so2sat", 2, 0.1, 120)


def test_estimate_concurrent_must_not_be_negative(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "geobench.run", "model=smoke", "dataset=so2sat", "estimate=true",
                           "estimate_concurrent=-1", f"hydra.run.dir={tmp_path / 'run'}"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "estimate_concurrent=-1: expected 0 (no probe) or more" in done.stderr
    assert "Traceback" not in done.stderr


def test_cost_formula() -> None:
    class S:
        n_trials, seeds, max_epochs, data_percentage = 16, (1, 2, 3, 4, 5), 50, 100
        finetune, detection, flips = "full", False, True

    class P:
        dataset, settings = "benv2", S()

    c = dataset_cost(None, P(), (100.0, 400.0, 0.5, False))
    per_epoch = 20000 / 100 + 4000 / 400
    expected = (16 * 50 * per_epoch + 5 * (50 * per_epoch + 4000 / 400)) / 3600
    assert c.hours == pytest.approx(expected) and c.runs == 21 and c.hours_cached is None
    assert c.hours_pruned == pytest.approx((16 * 50 * per_epoch * 0.48 + 5 * (50 * per_epoch + 10)) / 3600)


def test_summary_sets_the_estimate_against_measured_speed(tmp_path: Path) -> None:
    from geobench.results_store import RESULT_COLUMNS, write_row

    cost = DatasetCost("so2sat", 64, 32, 32, 5, 200.0, 800.0, 0.5, 1.0, 0.8, None, False)
    (tmp_path / "estimate.json").write_text(json.dumps([cost.__dict__]))
    for i, speed in enumerate((90.0, 100.0, 110.0)):
        row = dict.fromkeys(RESULT_COLUMNS)
        row.update(dataset="so2sat", phase="hpo", run_id=f"r{i}", images_per_second=speed)
        write_row(tmp_path, row)
    assert checked_against_runs(tmp_path) == ["so2sat: measured 100.0 train img/s, estimated 200.0 (0.50x)"]
