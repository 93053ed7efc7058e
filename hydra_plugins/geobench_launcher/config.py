"""The ``hydra/launcher=geobench_local`` config (Hydra imports this module when it scans plugins)."""

# No `from __future__ import annotations` here: Hydra executes plugin modules outside sys.modules,
# where a dataclass cannot resolve string annotations.

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class GeobenchLocalLauncherConf:
    _target_: str = "hydra_plugins.geobench_launcher.launcher.GeobenchLocalLauncher"
    # how many jobs run at once (null or <= 0: every job of the sweep)
    n_jobs: int | None = None
    # how many times a job whose process dies by a signal (SIGKILL, the OOM killer) is restarted
    respawn: int = 1
    # seconds the children get to exit after SIGTERM (the command was stopped) before SIGKILL
    stop_timeout: float = 10.0
    # "module.function" called in the parent with a job's config once a worker died for good:
    # returns None when every unit of the sweep is done, else one line saying what is left
    # (null: a job whose worker died is a failed job)
    completion_check: str | None = "geobench.run.unfinished"


ConfigStore.instance().store(group="hydra/launcher", name="geobench_local", node=GeobenchLocalLauncherConf,
                             provider="geobench")
