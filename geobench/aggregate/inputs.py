"""Inputs of the aggregation: run directories, submission folders and official result folders.

Each input is one :class:`Submission` (as on the official leaderboard, inputs are never merged):

* a **run directory** (``RUN_DIR/results/*.json``, :mod:`geobench.results_store`): its finished
  seed runs (``phase == "repeat"``); its model's display name and size from
  ``RUN_DIR/model_info.json`` when the run wrote one;
* a **submission folder** (``submissions/<id>/``) or an **official result folder**:
  ``results_and_parameters.csv`` + ``additional_info.json`` (+ ``geobench.json`` for ours).

The metric scale rule (BioMassters). The official leaderboard scores BioMassters as
``1 − RMSE × 0.2537951171398163``. Its published CSVs hold that value in ``test metric`` while
``Metric`` still reads ``RMSE`` (the values are 0.948–0.961, and the normalizer bounds are in the
same units); its compile step never rescales. geobench follows the same convention everywhere:
``test metric`` is on the **leaderboard scale** in official CSVs, in geobench's run rows (the
training loop stores ``leaderboard_value(raw, manifest.metric_transform)``, the raw value stays
in ``test_metrics_raw``) and in geobench's submission folders (copies of run rows). So nothing
is rescaled on load by default. Rows that hold the *raw* metric (another tool's output) are
loaded with ``raw_metrics=True`` (``--raw-metrics``), which applies :func:`to_leaderboard_scale`.
A leaderboard-scale ``1 − RMSE × s`` can never exceed 1, so a BioMassters value above 1 is
rejected as a raw RMSE. The scale comes from the dataset manifest's ``metric_transform`` when a
manifest exists (the manifests are the one place it is written).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobench.errors import ResultsError

if TYPE_CHECKING:
    import pandas as pd

CSV_NAME = "results_and_parameters.csv"
INFO_NAME = "additional_info.json"
GEOBENCH_INFO_NAME = "geobench.json"
RUN_MODEL_INFO_NAME = "model_info.json"  # RUN_DIR/model_info.json: the run's model, by backbone
REQUIRED_COLUMNS: tuple[str, ...] = ("dataset", "Metric", "test metric", "Seed", "backbone",
                                     "frozen_or_full_ft")


@dataclass
class Submission:
    """One input: its rows (at least :data:`REQUIRED_COLUMNS`, ``test metric`` on the leaderboard
    scale), its metadata and where it came from."""

    name: str  # folder name (uuid for official ones)
    rows: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)  # additional_info.json (+ "geobench")
    source: Path = field(default_factory=Path)


def metric_transform(dataset: str) -> tuple[str, float] | None:
    """``(raw metric name, scale)`` if ``dataset``'s leaderboard score is ``1 − raw × scale``."""
    from geobench.errors import UnknownNameError
    from geobench.manifest import load_manifest

    try:
        m = load_manifest(dataset)
    except UnknownNameError:
        return None  # not a benchmark dataset: its score is the metric as given
    t = m.metric_transform
    if t is None:
        return None
    return (m.metric, float(t.scale))


def _transform_candidates(rows: pd.DataFrame) -> list[str]:
    """Datasets of ``rows`` that may have a metric transform: those reported with the regression
    metric (the only lower-is-better one), so only their manifests are read."""
    from geobench.manifest import METRIC_FOR_TASK

    sel = rows["Metric"].astype(str) == METRIC_FOR_TASK["regression"]
    return sorted(rows.loc[sel, "dataset"].astype(str).unique())


def to_leaderboard_scale(rows: pd.DataFrame) -> pd.DataFrame:
    """Raw results rows -> leaderboard scale (a copy): ``test metric`` of every dataset with a
    metric transform becomes ``1 − raw × scale``; ``Metric`` keeps the raw metric's name, as in
    the official CSVs. Apply it once, to rows that hold raw metrics only."""
    out = rows.copy()
    for ds in _transform_candidates(out):
        t = metric_transform(ds)
        if t is None:
            continue
        metric, scale = t
        sel = (out["dataset"].astype(str) == ds) & (out["Metric"].astype(str) == metric)
        out.loc[sel, "test metric"] = 1.0 - out.loc[sel, "test metric"].astype(float) * scale
    return out


def _read_json(path: Path, required: bool) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise ResultsError(f"{path}: missing; a result folder holds {CSV_NAME} and {INFO_NAME}")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ResultsError(f"{path}: empty file; expected a header line and one row per run") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResultsError(f"{path}: not a readable CSV ({first})") from None


def _check_scale(rows: pd.DataFrame, where: str, at: Any) -> None:
    """Leaderboard-scale values of transformed metrics are ``1 − raw × s <= 1``."""
    for ds in _transform_candidates(rows):
        t = metric_transform(ds)
        if t is None:
            continue
        sel = ((rows["dataset"] == ds) & (rows["Metric"] == t[0])).to_numpy()
        over = sel & (rows["test metric"].to_numpy() > 1.0)
        if over.any():
            i = int(over.argmax())
            raise ResultsError(f"{where}: {at(i)}: {ds} 'test metric' {rows['test metric'].iloc[i]} "
                               f"is above 1, so it is a raw {t[0]}, not the leaderboard's "
                               f"1 - {t[0]} * {t[1]}; convert it (or pass --raw-metrics / "
                               "raw_metrics=True if every row holds raw metrics)")


def check_rows(rows: pd.DataFrame, where: str, row_label: str = "line",
               raw_metrics: bool = False) -> pd.DataFrame:
    """Validate and type the columns the aggregation uses; returns a copy with ``test metric``
    float and ``Seed`` integer. Errors name the CSV line (``row_label="line"``: header = line 1)
    or, with ``row_label="run_id"``, the results row's run id."""
    import numpy as np
    import pandas as pd

    def at(i: int) -> str:
        if row_label == "line":
            return f"line {i + 2}"
        return f"row {out[row_label].iloc[i]}"

    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise ResultsError(f"{where}: missing column(s) {', '.join(map(repr, missing))}; "
                           f"required: {', '.join(REQUIRED_COLUMNS)}")
    if rows.empty:
        raise ResultsError(f"{where}: no result rows")
    out = rows.reset_index(drop=True).copy()
    for col in ("dataset", "Metric", "backbone", "frozen_or_full_ft"):
        blank = out[col].isna() | (out[col].astype(str).str.strip() == "")
        if blank.any():
            i = int(blank.to_numpy().argmax())
            raise ResultsError(f"{where}: {at(i)}: empty {col!r}")
        out[col] = out[col].astype(str).str.strip()
    for col, integer in (("test metric", False), ("Seed", True)):
        num = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(num.to_numpy(dtype=np.float64, na_value=np.nan))
        if integer:
            bad |= (num.notna() & (num != num.round())).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            kind = "an integer" if integer else "a finite number"
            value = out[col].iloc[i]
            if isinstance(value, str):
                shown = repr(value)
            elif pd.isna(value):
                shown = "empty (or a missing-value marker such as NA or n/a)"
            else:
                shown = str(value)
            raise ResultsError(f"{where}: {at(i)}: {col!r} is {shown}, not {kind}")
        out[col] = num.astype("int64") if integer else num.astype("float64")
    if raw_metrics:
        out = to_leaderboard_scale(out)
    _check_scale(out, where, at)
    modes = out.groupby("backbone")["frozen_or_full_ft"].nunique()
    mixed = sorted(modes[modes > 1].index)
    if mixed:
        raise ResultsError(f"{where}: backbone {mixed[0]!r} has rows in more than one "
                           "frozen_or_full_ft mode; put each mode in its own submission")
    return out


def _load_folder(folder: Path, raw_metrics: bool) -> Submission:
    csv = folder / CSV_NAME
    info = _read_json(folder / INFO_NAME, required=True) or {}
    extra = _read_json(folder / GEOBENCH_INFO_NAME, required=False)
    if extra is not None:
        info = {**info, "geobench": extra}
    rows = check_rows(_read_csv(csv), str(csv), raw_metrics=raw_metrics)
    return Submission(name=folder.name, rows=rows, info=info, source=folder)


def _size(parameters: int) -> str:
    """``25557032`` -> ``26M``, ``1234567`` -> ``1.2M``, ``86000`` -> ``86K``."""
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if parameters >= scale:
            value = parameters / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(parameters)


def _run_models(run_dir: Path) -> dict[str, Any]:
    """The run's model as the pages name it (``{"geobench": {"models": [...]}}``, the layout of a
    submission's geobench.json), from RUN_DIR/model_info.json; {} without a readable one."""
    try:
        data = _read_json(run_dir / RUN_MODEL_INFO_NAME, required=False) or {}
    except ResultsError:
        return {}
    models = []
    for backbone, facts in sorted(data.items()):
        if not isinstance(facts, dict) or not facts.get("display_name"):
            continue
        entry: dict[str, Any] = {"backbone": str(backbone),
                                 "display_name": str(facts["display_name"])}
        count = facts.get("parameters")
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            entry |= {"parameters": count, "size": _size(count)}
        models.append(entry)
    return {"geobench": {"models": models}} if models else {}


def _load_run_dir(run_dir: Path, raw_metrics: bool) -> Submission:
    from geobench.results_store import read_rows

    rows = read_rows(run_dir)
    if rows.empty:
        raise ResultsError(f"{run_dir}: no results rows in {run_dir / 'results'}")
    rows = rows[rows["phase"].astype(str) == "repeat"].reset_index(drop=True)
    if rows.empty:
        raise ResultsError(f"{run_dir}: no finished seed runs (phase 'repeat') yet; "
                           "only HPO trials are in its results")
    rows = check_rows(rows, str(run_dir / "results"), row_label="run_id", raw_metrics=raw_metrics)
    return Submission(name=run_dir.resolve().name, rows=rows, info=_run_models(run_dir),
                      source=run_dir)


def load_input(path: str | Path, raw_metrics: bool = False) -> Submission:
    """Load one input: a run directory, a submission folder or an official result folder.

    ``test metric`` is taken as on the leaderboard scale (see the module docstring); with
    ``raw_metrics=True`` it is converted with :func:`to_leaderboard_scale` first.

    Raises:
        ResultsError: the path does not exist, is none of the three layouts, or its files are
            malformed (message names the file, line and column).
    """
    p = Path(path)
    if not p.exists():
        raise ResultsError(f"{p}: not found")
    if p.is_file() and p.name == CSV_NAME:
        p = p.parent
    if p.is_dir() and (p / CSV_NAME).is_file():
        return _load_folder(p, raw_metrics)
    if p.is_dir() and (p / "results").is_dir():
        return _load_run_dir(p, raw_metrics)
    raise ResultsError(f"{p}: not a run directory (results/*.json), a submission folder or an "
                       f"official result folder ({CSV_NAME} + {INFO_NAME})")


def load_inputs(paths: Sequence[str | Path], raw_metrics: bool = False) -> list[Submission]:
    """Load every input; each stays a separate submission. Names must be unique."""
    subs = [load_input(p, raw_metrics) for p in paths]
    seen: dict[str, Path] = {}
    for s in subs:
        if s.name in seen:
            raise ResultsError(f"{s.source} and {seen[s.name]} are both named {s.name!r}; rename "
                               "one folder (each input is one submission, keyed by its name)")
        seen[s.name] = s.source
    return subs
