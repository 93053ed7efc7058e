"""The aggregate output folder (format ``geobench-aggregate/1``): every number the leaderboard
pages show, as CSV and JSON files that any tool can read, check or replace.

Keys: ``frozen_or_full_ft`` (the fine-tuning mode: one leaderboard, a *board*, per value),
``submission`` (input folder name), ``backbone``, ``dataset``, ``capability`` (key, e.g.
``core``). Scores are fractions (0.778, not 77.8); floats are written as the shortest text that
reads back as the same float64; a missing value is an empty cell (``null`` in JSON).

======================== ==================================================================
file                     content
======================== ==================================================================
manifest.json            format, options (mode, reps, seed, ci, unit, plot seed, ...), boards,
                         notes (capabilities left missing, and why), and for every file below
                         its description, columns, number of rows and sha256
capabilities.csv         submission, backbone, then per capability ``<Cap>, <Cap> ci_low,
                         <Cap> ci_high`` (default mode) or ``<Cap>, <Cap> sem`` (official mode);
                         rows by input, then backbone
per_dataset.csv          submission, backbone, then per dataset the IQM over seeds of the
                         normalized score (official dataset order, then others by name)
raw_per_dataset.csv      as per_dataset.csv, of the leaderboard-scale ``test metric``
scores.csv               frozen_or_full_ft, submission, backbone, dataset, Metric, Seed,
                         test metric, score: every seed run, normalized (``score``) and not;
                         by board, input, backbone, dataset, then in input order
backbones.csv            frozen_or_full_ft, submission, backbone, datasets, rows: the rows of
                         each board, by board, input, backbone
datasets.csv             dataset, frozen_or_full_ft, Metric, transform_metric, transform_scale:
                         per board the metric its rows name and the leaderboard scale
                         (``1 − transform_metric × transform_scale`` where given)
capability_datasets.json [{name, display_name, datasets}]: the capabilities scored, in column
                         order; ``synthetic: true`` for one on geobench's synthetic data,
                         ``partial: {of, display_name, datasets}`` (the whole capability) for
                         one scored over only the datasets the inputs ran
normalizer.json          the normalizer used (``geobench-normalizer/1``)
submissions.json         [{submission, sha256 (of rows and metadata), rows, protocols,
                         parts: [{frozen_or_full_ft, rows, backbones}], info}]: what each
                         input declares (additional_info.json, geobench.json as ``geobench``)
plot_backbones.csv       frozen_or_full_ft, capability, submission, backbone, position,
                         excluded: who is in each capability's plots (position 1 … n, the
                         plot order) and why the others are not
poi.csv                  frozen_or_full_ft, capability, submission, backbone, other_submission,
                         other_backbone, probability, ci_low, ci_high: P(backbone > other)
performance_profiles.csv frozen_or_full_ft, capability, submission, backbone, tau, fraction
rank_distribution.csv    frozen_or_full_ft, capability, submission, backbone, rank, probability
======================== ==================================================================

Every file is written atomically (:mod:`geobench.fileio`); all are rendered in memory first and
``manifest.json`` is written last, so a reader can tell a half-replaced folder by its hashes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geobench.csvsafe import neutralize, neutralize_value
from geobench.fileio import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from geobench.aggregate.boards import Board
    from geobench.aggregate.inputs import Submission
    from geobench.aggregate.normalize import Normalizer

FORMAT = "geobench-aggregate/1"
MANIFEST = "manifest.json"
FILES: dict[str, str] = {
    "capabilities.csv": "capability scores per submission and backbone, with interval bounds",
    "per_dataset.csv": "IQM over seeds of the normalized score per dataset",
    "raw_per_dataset.csv": "IQM over seeds of the leaderboard-scale test metric per dataset",
    "scores.csv": "every seed run: test metric and normalized score",
    "backbones.csv": "the backbones of each fine-tuning mode's leaderboard",
    "datasets.csv": "per dataset and mode: the metric name and its leaderboard scale",
    "capability_datasets.json": "the capabilities scored and their datasets",
    "normalizer.json": "the normalizer used (geobench-normalizer/1)",
    "submissions.json": "the inputs: sha256, rows, protocols, parts per mode, metadata",
    "plot_backbones.csv": "who is in each capability's plots, in plot order, and who is not",
    "poi.csv": "probability of improvement of each plotted backbone over each other one",
    "performance_profiles.csv": "fraction of normalized scores above each threshold tau",
    "rank_distribution.csv": "fraction of bootstrap resamples in which a backbone takes a rank",
}
PLOT_KEYS = ["frozen_or_full_ft", "capability", "submission", "backbone"]


def _float(value: float) -> str:
    """The shortest text that reads back as the same float (Python's repr)."""
    return repr(float(value))


def _cell(value: Any) -> str:
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _float(value) if isinstance(value, float) else str(value)


def frame_csv(table: pd.DataFrame) -> str:
    """A DataFrame as CSV with exact floats and empty missing cells."""
    safe = table.map(neutralize_value)  # no spreadsheet formula in a text cell
    return safe.to_csv(index=False, float_format=_float, lineterminator="\n")


def rows_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([neutralize(_cell(v)) for v in row] for row in rows)
    return buf.getvalue()


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def input_hash(sub: Submission) -> str:
    """sha256 of what the scores are computed from: the rows (as CSV, stable order) and the
    metadata."""
    rows = sub.rows
    keys = [c for c in ("frozen_or_full_ft", "backbone", "dataset", "Seed") if c in rows.columns]
    if keys:
        rows = rows.sort_values(keys, kind="mergesort")
    h = hashlib.sha256(rows.to_csv(index=False).encode("utf-8"))
    h.update(json.dumps(_jsonable(sub.info), sort_keys=True).encode("utf-8"))
    return h.hexdigest()


def protocols(rows: pd.DataFrame) -> list[str]:
    """The distinct values of the rows' ``protocol`` column ([] without one)."""
    if "protocol" not in rows.columns:
        return []
    return sorted({str(v) for v in rows["protocol"].dropna()})


def _submissions(subs: Sequence[Submission], boards: Sequence[Board]) -> list[dict[str, Any]]:
    out = []
    for s in subs:
        parts = [{"frozen_or_full_ft": b.value, "rows": len(p.rows),
                  "backbones": sorted(set(p.rows["backbone"].astype(str)))}
                 for b in boards for p in b.submissions if p.name == s.name]
        out.append({"submission": s.name, "sha256": input_hash(s), "rows": len(s.rows),
                    "protocols": protocols(s.rows), "parts": parts, "info": _jsonable(s.info)})
    return out


def _scores(boards: Sequence[Board], order: Sequence[str]) -> str:
    import pandas as pd

    position = {n: i for i, n in enumerate(order)}
    cols = ["submission", "backbone", "dataset", "Metric", "Seed", "test metric", "score"]
    parts = []
    for b in boards:
        t = b.result.scores[cols].assign(_o=lambda d: d["submission"].map(position))
        # within a backbone and dataset the rows stay in input order: the order in which the
        # default mode's shared bootstrap counts are paired with the seeds (a table read back in
        # this order is scored exactly as its source was)
        t = t.sort_values(["_o", "backbone", "dataset"], kind="mergesort")
        parts.append(t.drop(columns="_o").assign(frozen_or_full_ft=b.value))
    return frame_csv(pd.concat(parts, ignore_index=True)[["frozen_or_full_ft", *cols]])


def _backbones(boards: Sequence[Board]) -> str:
    rows = []
    for b in boards:
        scores = b.result.scores
        for sub, bb in b.result.capabilities[["submission", "backbone"]].itertuples(
                index=False, name=None):
            mine = scores[(scores["submission"] == sub) & (scores["backbone"] == bb)]
            rows.append((b.value, sub, bb, mine["dataset"].nunique(), len(mine)))
    return rows_csv(["frozen_or_full_ft", "submission", "backbone", "datasets", "rows"], rows)


def _datasets(boards: Sequence[Board]) -> str:
    from geobench.aggregate.inputs import metric_transform
    from geobench.manifest import DATASETS

    metric: dict[tuple[str, str], str] = {}
    for b in boards:
        for p in b.submissions:
            for d, m in p.rows[["dataset", "Metric"]].astype(str).drop_duplicates().itertuples(
                    index=False, name=None):
                metric.setdefault((d, b.value), m)
    present = {d for d, _ in metric}
    rows = []
    for d in [d for d in DATASETS if d in present] + sorted(present - set(DATASETS)):
        rule = metric_transform(d)
        for b in boards:
            if (d, b.value) in metric:
                rows.append((d, b.value, metric[(d, b.value)], rule[0] if rule else None,
                             rule[1] if rule else None))
    return rows_csv(["dataset", "frozen_or_full_ft", "Metric", "transform_metric",
                     "transform_scale"], rows)


def _plot_files(boards: Sequence[Board]) -> dict[str, str]:
    members: list[tuple[Any, ...]] = []
    poi: list[tuple[Any, ...]] = []
    profiles: list[tuple[Any, ...]] = []
    ranks: list[tuple[Any, ...]] = []
    for b in boards:
        for cap, data in b.plots.items():
            head = (b.value, cap)
            members += [(*head, *k, i + 1, None) for i, k in enumerate(data.keys)]
            members += [(*head, *k, None, why) for k, why in data.excluded.items()]
            if data.poi is None or data.taus is None or data.profiles is None or data.ranks is None:
                continue
            point, low, high = data.poi
            for i, a in enumerate(data.keys):
                profiles += [(*head, *a, t, f) for t, f in zip(data.taus, data.profiles[i],
                                                               strict=True)]
                ranks += [(*head, *a, r + 1, p) for r, p in enumerate(data.ranks[i])]
                poi += [(*head, *a, *o, point[i, j], low[i, j], high[i, j])
                        for j, o in enumerate(data.keys) if j != i]
    return {
        "plot_backbones.csv": rows_csv([*PLOT_KEYS, "position", "excluded"], members),
        "poi.csv": rows_csv([*PLOT_KEYS, "other_submission", "other_backbone", "probability",
                             "ci_low", "ci_high"], poi),
        "performance_profiles.csv": rows_csv([*PLOT_KEYS, "tau", "fraction"], profiles),
        "rank_distribution.csv": rows_csv([*PLOT_KEYS, "rank", "probability"], ranks),
    }


def render_files(submissions: Sequence[Submission], boards: Sequence[Board],
                 normalizer: Normalizer, options: Mapping[str, Any]) -> dict[str, str]:
    """Every file of the folder (name -> text), ``manifest.json`` included."""
    from geobench.aggregate.boards import combined
    from geobench.aggregate.scope import describe

    order = [s.name for s in submissions]
    tables = combined(boards, order)
    files = {
        "capabilities.csv": frame_csv(tables["capabilities"]),
        "per_dataset.csv": frame_csv(tables["per_dataset"]),
        "raw_per_dataset.csv": frame_csv(tables["raw_per_dataset"]),
        "scores.csv": _scores(boards, order),
        "backbones.csv": _backbones(boards),
        "datasets.csv": _datasets(boards),
        "capability_datasets.json": _json([describe(c) for c in boards[0].result.scored]),
        "normalizer.json": json.dumps(normalizer.to_json(), indent=2) + "\n",
        "submissions.json": _json(_submissions(submissions, boards)),
        **_plot_files(boards),
    }
    entries = {}
    for name, text in files.items():
        entry: dict[str, Any] = {"description": FILES[name]}
        if name.endswith(".csv"):
            head, *body = list(csv.reader(io.StringIO(text)))
            entry |= {"columns": head, "rows": len(body)}
        entries[name] = entry | {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    files[MANIFEST] = _json({
        "format": FORMAT, "generator": "geobench.aggregate", "options": dict(options),
        "boards": [{"frozen_or_full_ft": b.value, "submissions": [p.name for p in b.submissions],
                    "backbones": len(b.result.capabilities)} for b in boards],
        "notes": tables["notes"], "files": entries})
    return files


def write_folder(out: str | Path, files: Mapping[str, str]) -> None:
    """Write ``files`` into ``out``, each atomically, ``manifest.json`` last."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n == MANIFEST):
        atomic_write_text(folder / name, files[name])
