"""The leaderboard ``python -m geobench.run`` writes into ``RUN_DIR/leaderboard/``.

From the run's ``config.yaml`` (the composed config the run saved at its start):

* a run on geobench's synthetic data (``capability=smoke``) is scored on its own capability only
  (Smoke): the published models never ran it, so the board shows the run's model alone;
* a run on real data is scored on the nine official capabilities (and its own capability when it
  is not one of them), each over the datasets the run covered (``--partial``: a capability it
  ran only in part is a partial score), beside the published GEO-Bench-2 submissions shipped
  with geobench on those datasets (``--published``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geobench.capabilities import OFFICIAL_CAPABILITIES

CONFIG_FILE = "config.yaml"


def _capability(run_dir: Path) -> dict[str, Any]:
    """The ``capability`` node of RUN_DIR/config.yaml ({} when the file is absent or unreadable,
    or the run named a dataset)."""
    import yaml

    try:
        cfg = yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    cap = cfg.get("capability") if isinstance(cfg, dict) else None
    return cap if isinstance(cap, dict) else {}


def run_arguments(run_dir: str | Path, out: str | Path) -> list[str]:
    """The ``python -m geobench.leaderboard`` arguments of a run's leaderboard."""
    from geobench.leaderboard.scores_table import PACKAGE_COPY, SCORES_CSV

    run_dir = Path(run_dir)
    cap = _capability(run_dir)
    name = str(cap.get("name") or "")
    args = [str(run_dir), "--name", run_dir.name, "--out", str(out)]
    if cap.get("synthetic") is True and name:
        return [*args, "--capabilities", name,
                "--title", f"{run_dir.name}: {cap.get('display_name') or name} (synthetic data)"]
    caps = list(OFFICIAL_CAPABILITIES) + ([name] if name and name not in OFFICIAL_CAPABILITIES
                                          else [])
    args += ["--capabilities", ",".join(caps), "--partial"]
    if (PACKAGE_COPY / SCORES_CSV).is_file():
        args += ["--published", "--title", f"{run_dir.name} beside the published GEO-Bench-2 results"]
    return args
