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
from omegaconf import DictConfig, OmegaConf

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


def is_up_to_date_any(d: Path) -> bool:
    """Prepared files exist although the raw files were removed (kept to save disk)."""
    return all((d / f"{s}.h5").exists() for s in ("train", "validation", "test")) and (d / "stats.json").exists()


def _leaderboard(run_dir: Path) -> None:
    try:
        from geobench.leaderboard.__main__ import main as lb_main
    except ImportError:
        return
    out = run_dir / "leaderboard"
    code = lb_main([str(run_dir), "--name", run_dir.name, "--out", str(out)])
    if code == 0:
        log.info("leaderboard: %s", out / "index.html")


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def app(cfg: DictConfig) -> int:
    from geobench.cli import main_guard

    @main_guard
    def go() -> int:
        from geobench.config import to_run_config
        from geobench.models.registry import get_spec
        from geobench.sweep.progress import setup_logging
        from geobench.sweep.runner import Sweep
        from geobench.sweep.summary import format_table, summarize

        run = to_run_config(cfg)
        run.model.key = get_spec(run.model.key).key  # an alias names its registry key
        run_dir, multirun = _run_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        exclusive = (not multirun) if run.exclusive is None else bool(run.exclusive)
        live = run.progress == "live" or (run.progress == "auto" and sys.stderr.isatty())
        setup_logging(str(run_dir / "run.log"), live)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        log.info("run directory %s | model %s | protocol %s | datasets %s", run_dir, run.model.key,
                 run.protocol.name, ", ".join(run.datasets))
        if run.prepare:
            _ensure_data(run)
        sweep = Sweep(run_dir, run, exclusive=exclusive)
        sweep.write_settings()
        sweep.run_all()
        table = format_table(summarize(run_dir))
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
