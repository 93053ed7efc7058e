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
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from geobench.paths import CONF_DIR
from geobench.sweep.config import register

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


def _resolve(cfg: DictConfig, run_dir: Path, multirun: bool) -> tuple[dict[str, Any], list[str], bool]:
    from geobench.capabilities import load_capability
    from geobench.errors import ConfigError
    from geobench.models.registry import get_spec

    model = OmegaConf.to_container(cfg.model, resolve=True)
    if not isinstance(model, dict) or "key" not in model:
        raise ConfigError("model: the model config needs a `key` (see conf/model/)")
    spec = get_spec(str(model["key"]))
    if cfg.dataset is not None:
        datasets = [str(cfg.dataset.name)]
    else:
        datasets = list(load_capability(str(cfg.capability.name)).datasets)
    exclusive = (not multirun) if cfg.exclusive is None else bool(cfg.exclusive)
    proto = OmegaConf.to_container(cfg.protocol, resolve=True)
    assert isinstance(proto, dict)
    if proto["finetune"] not in ("full", "frozen", "lora"):
        raise ConfigError(f"protocol.finetune={proto['finetune']!r}: expected full, frozen or lora")
    opts = {
        "model_key": spec.key, "pretrained": bool(model.get("pretrained", True)),
        "modalities": model.get("modalities"), "weights_path": model.get("weights_path"), "protocol": proto,
        "storage": OmegaConf.to_container(cfg.storage, resolve=True),
        "data_root": str(cfg.data_root), "run_name": str(cfg.run_name), "device": str(cfg.device),
        "num_workers": cfg.num_workers, "compile": bool(cfg.compile), "progress": str(cfg.progress),
        "cpu_threads": cfg.cpu_threads,
        "poll_seconds": float(cfg.poll_seconds),
    }
    return opts, datasets, exclusive


def _ensure_data(cfg: DictConfig, datasets: list[str]) -> None:
    from geobench.capabilities import load_capability
    from geobench.paths import prepared_dir
    from geobench.prepare import is_up_to_date, prepare_dataset, raw_files, source_signature

    cap = load_capability(str(cfg.capability.name)) if cfg.dataset is None else None
    synthetic = cap is not None and cap.synthetic
    for ds in datasets:
        if synthetic:
            from geobench.synthetic import write_synthetic

            write_synthetic(ds, cfg.data_root, capability=cap)
        else:
            from geobench.datasets.base import get_adapter
            from geobench.errors import DatasetNotFoundError

            try:
                files = raw_files(get_adapter(ds), cfg.data_root)
            except DatasetNotFoundError:
                if is_up_to_date_any(prepared_dir(cfg.data_root, ds)):
                    continue
                from geobench.download import download_dataset

                download_dataset(ds, cfg.data_root)
                files = raw_files(get_adapter(ds), cfg.data_root)
            if is_up_to_date(prepared_dir(cfg.data_root, ds), source_signature(files, get_adapter(ds))):
                continue
        prepare_dataset(ds, cfg.data_root, progress=sys.stderr.isatty())


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
        from geobench.sweep.progress import setup_logging
        from geobench.sweep.runner import Sweep
        from geobench.sweep.summary import format_table, summarize

        run_dir, multirun = _run_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        opts, datasets, exclusive = _resolve(cfg, run_dir, multirun)
        live = opts["progress"] == "live" or (opts["progress"] == "auto" and sys.stderr.isatty())
        setup_logging(str(run_dir / "run.log"), live)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        log.info("run directory %s | model %s | datasets %s", run_dir, opts["model_key"], ", ".join(datasets))
        if cfg.prepare:
            _ensure_data(cfg, datasets)
        sweep = Sweep(run_dir=run_dir, opts=opts, datasets=datasets, exclusive=exclusive)
        sweep.setup()
        sweep.run()
        table = format_table(summarize(run_dir))
        (run_dir / "summary.txt").write_text(table + "\n")
        print(table)
        if cfg.leaderboard and not multirun:
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
