"""``python -m geobench.run model=<key|alias> capability=<cap> [dataset=<ds>] [key=value ...]``.

The command users type: prepares the data it needs, runs the GEO-Bench-2 protocol (Optuna HPO on
validation, then the best config over seeds on test) for every dataset of the capability, writes
one results row per finished run to the run directory, prints a summary and writes the
leaderboard. Re-running the same command resumes. ``--help`` answers without importing torch.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from geobench.config import RunConfig, register
from geobench.paths import CONF_DIR

log = logging.getLogger("geobench.run")
register()
# OpenMP threads that spin while waiting make every CPU step many times slower as soon as another
# process shares the cores; passive waiting costs nothing when they do not.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _run_dir() -> tuple[Path, bool]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        return Path(hc.sweep.dir), True
    return Path(hc.runtime.output_dir), False


def _ensure_data(run: RunConfig) -> None:
    from geobench.paths import prepared_dir
    from geobench.prepare import is_up_to_date, prepare_dataset, raw_files, source_signature

    for ds in run.datasets:
        if run.synthetic:
            from geobench.synthetic import write_synthetic

            write_synthetic(ds, run.data_root, capability=run.capability)
        else:
            from geobench.datasets.base import get_adapter
            from geobench.errors import DatasetNotFoundError

            try:
                files = raw_files(get_adapter(ds), run.data_root)
            except DatasetNotFoundError:
                if is_up_to_date_any(prepared_dir(run.data_root, ds)):
                    continue
                from geobench.download import download_dataset

                download_dataset(ds, run.data_root)
                files = raw_files(get_adapter(ds), run.data_root)
            signature = source_signature(files, get_adapter(ds), verify=run.verify)
            if is_up_to_date(prepared_dir(run.data_root, ds), signature):
                continue
        prepare_dataset(ds, run.data_root, progress=sys.stderr.isatty(), verify=run.verify)


def _estimate(run: RunConfig, run_dir: Path) -> int:
    """``estimate=true``: time the model on this device for each dataset's input, print the
    expected device-hours, write RUN_DIR/estimate.json; no data and no training needed."""
    from geobench.estimate import estimate, format_estimate, write
    from geobench.sweep.plan import make_plan
    from geobench.train.stepper import device_name, resolve_device

    device = resolve_device(run.device)
    costs = estimate(run, [make_plan(run, ds) for ds in run.datasets])
    print(format_estimate(costs, device_name(device)))
    write(costs, run_dir / "estimate.json")
    most = run.estimate_concurrent if run.estimate_concurrent is not None else (4 if device.type == "cuda" else 0)
    if most > 1:
        from geobench import concurrency

        costly = max(costs, key=lambda c: c.hours).dataset
        found = concurrency.measure(run_dir / "config.yaml", costly, most)
        print(concurrency.format_concurrency(found))
        concurrency.write(found, run_dir / "concurrency.json")
    return 0


def is_up_to_date_any(d: Path) -> bool:
    """Prepared files exist although the raw files were removed (kept to save disk)."""
    return all((d / f"{s}.h5").exists() for s in ("train", "validation", "test")) and (d / "stats.json").exists()


def _leaderboard(run_dir: Path) -> None:
    """RUN_DIR/leaderboard/: the run's model beside the published GEO-Bench-2 results on the
    datasets it ran (partial capability scores where it ran some of a capability's datasets), or,
    on synthetic data, its own capability alone (:mod:`geobench.leaderboard.runboard`)."""
    try:
        from geobench.leaderboard.__main__ import main as lb_main
        from geobench.leaderboard.runboard import run_arguments
    except ImportError:
        return
    out = run_dir / "leaderboard"
    code = lb_main(run_arguments(run_dir, out))
    if code == 0:
        log.info("leaderboard: %s", out / "index.html")


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def app(cfg: DictConfig) -> int:
    from geobench.cli import main_guard

    @main_guard
    def go() -> int:
        from geobench.config import run_config_for_run
        from geobench.sweep.model_info import record_model_info
        from geobench.sweep.progress import setup_logging
        from geobench.sweep.runner import Sweep
        from geobench.sweep.summary import format_table, summarize

        run = run_config_for_run(cfg)
        run_dir, multirun = _run_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        exclusive = (not multirun) if run.exclusive is None else bool(run.exclusive)
        live = run.progress == "live" or (run.progress == "auto" and sys.stderr.isatty())
        setup_logging(str(run_dir / "run.log"), live)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        log.info("run directory %s | model %s | protocol %s | datasets %s", run_dir, run.model.key,
                 run.protocol.name, ", ".join(run.datasets))
        if run.estimate:
            return _estimate(run, run_dir)
        if run.prepare:
            _ensure_data(run)
        sweep = Sweep(run_dir, run, exclusive=exclusive)
        sweep.write_settings()
        record_model_info(run_dir, run)
        sweep.run_all()
        from geobench.estimate import checked_against_runs

        table = "\n".join([format_table(summarize(run_dir)), *checked_against_runs(run_dir)])
        (run_dir / "summary.txt").write_text(table + "\n")
        print(table)
        if run.leaderboard and not multirun:
            _leaderboard(run_dir)
        print(f"results: {run_dir / 'results'}")
        return 0

    code = go()
    if code:
        sys.exit(code)
    return code


def unfinished(cfg: DictConfig) -> str | None:
    """What the multirun in ``cfg.hydra.sweep.dir`` left undone, as one line, or None when every
    unit is done (counted in its Optuna storage): the ``geobench_local`` launcher's completion
    check, asked in the command's process after a worker died for good."""
    import copy

    import optuna

    from geobench.config import run_config_for_run
    from geobench.sweep import study as st
    from geobench.sweep.plan import make_plan

    task = copy.deepcopy(cfg)  # the job's config without its hydra node, as Hydra hands it to app()
    with read_write(task), open_dict(task):
        del task["hydra"]
    run = run_config_for_run(task)
    run_dir = Path(str(cfg.hydra.sweep.dir))
    storage = st.open_storage(run.storage.url, run_dir, run.storage.heartbeat_interval, run.storage.grace_period)
    names = set(optuna.get_all_study_names(storage))
    total = left = 0
    for ds in run.datasets:
        plan = make_plan(run, ds)
        total += plan.n_trials + len(plan.seeds)
        left += plan.n_trials + len(plan.seeds)
        if plan.study_name in names:
            left -= min(st.hpo_completed_count(st.hpo_study(storage, plan.settings, plan.study_name)), plan.n_trials)
        if plan.study_name + ".repeat" in names:
            left -= min(st.seeds_done(st.repeat_study(storage, plan)), len(plan.seeds))
    if not left:
        return None
    return (f"the sweep is unfinished: {left} of {total} units not done (its workers died); run the same "
            f"command again to finish it ({run_dir})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
