"""The leaderboard's tables, built from one :class:`~geobench.leaderboard.boards.Board`.

Scores are kept as the aggregation gives them (fractions); columns show them ×100. Field names
follow ``capabilities.csv``/``per_dataset.csv`` of the aggregate output folder (``submission``,
``backbone``, capability display names, ``<Cap> ci_low``/``ci_high`` or ``<Cap> sem``, dataset
keys) plus the leaderboard's own (``rank``, ``model``, ``parameters``, ``size``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geobench.capabilities import Capability
from geobench.leaderboard.boards import (
    Board,
    CapabilityPlotData,
    Entry,
    ordered,
    short_submission,
    slug,
)
from geobench.leaderboard.reader import SubmissionInfo
from geobench.leaderboard.table import Column, Table, is_missing, json_value, rank_desc

HIDDEN = ("backbone",)  # in the CSV/JSON, not shown (the Model column shows its display name)


def interval_columns(board: Board, cap: str) -> tuple[tuple[str, str] | None, str | None]:
    cols = board.columns
    if f"{cap} ci_low" in cols and f"{cap} ci_high" in cols:
        return (f"{cap} ci_low", f"{cap} ci_high"), None
    if f"{cap} sem" in cols:
        return None, f"{cap} sem"
    return None, None


def _base(e: Entry, board: Board) -> dict[str, Any]:
    return {
        "model": e.label, "submission": e.submission, "backbone": e.backbone,
        "_sub_short": short_submission(e.submission),
        "_sub_href": f"submissions.html#{board.anchors.get(e.submission, '')}",
        "_sub_href1": f"../submissions.html#{board.anchors.get(e.submission, '')}",
    }


def _model_columns(depth: int) -> list[Column]:
    return [
        Column("model", "Model", numeric=False),
        Column("submission", "Submission", numeric=False, text_key="_sub_short",
               link="_sub_href" if depth == 0 else "_sub_href1"),
    ]


def rank_capability(board: Board, caps: Sequence[Capability]) -> Capability | None:
    """The capability the overview is ranked by: Core where any row has it, else the one with the
    most scores (official order breaks ties); None when no capability has a score."""
    recs = board.capability_records.values()
    counts = [(sum(not is_missing(r.get(c.display_name)) for r in recs), -i, c)
              for i, c in enumerate(caps) if c.display_name in board.columns]
    if not counts:
        return None
    core = next((c for n, _, c in counts if c.name == "core" and n > 0), None)
    best = max(counts, key=lambda t: (t[0], t[1]))
    return core or (best[2] if best[0] > 0 else None)


def _why(e: Entry, cap: Capability) -> str:
    missing = [d for d in cap.datasets if d not in e.datasets]
    return f"no results for {', '.join(missing)}" if missing else "not computed"


def overview_table(board: Board, caps: Sequence[Capability], by: Capability | None,
                   titles: dict[str, str] | None = None) -> Table:
    """Models × capabilities of one board, ranked by ``by``; ``titles``: column tooltips by
    capability display name."""
    recs = board.capability_records
    values = {k: r.get(by.display_name) for k, r in recs.items()} if by else {}
    entries = ordered(board.entries, values)
    ranks = rank_desc([values.get((e.submission, e.backbone)) for e in entries])
    rows = []
    for e, rank in zip(entries, ranks, strict=True):
        rec = recs[(e.submission, e.backbone)]
        row = _base(e, board) | {"rank": rank, "parameters": e.meta.parameters, "size": e.meta.size,
                                 "frozen_or_full_ft": board.value}
        for c in caps:
            for k in (c.display_name, f"{c.display_name} ci_low", f"{c.display_name} ci_high",
                      f"{c.display_name} sem"):
                if k in rec:
                    row[k] = json_value(rec[k])
            row[f"_why_{c.display_name}"] = _why(e, c)
        rows.append(row)
    columns = [Column("rank", "Rank", ascending_first=True,
                      title=f"Rank by {by.display_name}" if by else "")]
    columns += _model_columns(0)
    columns += [Column("parameters", "Params", text_key="size", title="Parameter count"),
                Column("frozen_or_full_ft", "Fine-tuning", numeric=False)]
    for c in caps:
        ci, pm = interval_columns(board, c.display_name)
        title = (titles or {}).get(c.display_name, f"{c.display_name}: normalized IQM ×100")
        columns.append(Column(c.display_name, c.display_name, scale=100, ci=ci, pm=pm,
                              title=title))
    return Table(f"{board.key}-overview", f"{board.title}: capability scores", columns, rows,
                 hidden=HIDDEN)


def capability_tables(board: Board, cap: Capability, datasets: Sequence[str]) -> tuple[Table, Table]:
    """(normalized scores with the capability score, raw per-dataset IQM) for one capability."""
    recs, norm, raw = board.capability_records, board.normalized_records, board.raw_records
    name = cap.display_name
    values = {k: r.get(name) for k, r in recs.items()}
    entries = ordered(board.entries, values)
    ranks = rank_desc([values.get((e.submission, e.backbone)) for e in entries])
    ci, pm = interval_columns(board, name)
    score_rows, raw_rows = [], []
    for e, rank in zip(entries, ranks, strict=True):
        key = (e.submission, e.backbone)
        row = _base(e, board) | {"rank": rank, name: json_value(recs[key].get(name)),
                                 f"_why_{name}": _why(e, cap)}
        for k in (*(ci or ()), *((pm,) if pm else ())):
            row[k] = json_value(recs[key].get(k))
        raw_row = _base(e, board)
        for d in datasets:
            row[d] = json_value(norm.get(key, {}).get(d))
            raw_row[d] = json_value(raw.get(key, {}).get(d))
            row[f"_why_{d}"] = raw_row[f"_why_{d}"] = "no results for this dataset"
        score_rows.append(row)
        raw_rows.append(raw_row)
    cols = [Column("rank", "Rank", ascending_first=True), *_model_columns(1)]
    cols.append(Column(name, f"{name} score", scale=100, ci=ci, pm=pm))
    cols += [Column(d, d, scale=100, title=f"{d}: normalized IQM over seeds ×100") for d in datasets]
    scores = Table(f"{board.key}-{cap.name}-normalized", f"{name}: normalized scores", cols,
                   score_rows, hidden=HIDDEN)
    rcols = _model_columns(1) + [
        Column(d, d, digits=4, title=f"{d}: IQM over seeds of {board.metric_names.get(d, 'the test metric')}")
        for d in datasets]
    return scores, Table(f"{board.key}-{cap.name}-raw", f"{name}: raw scores", rcols, raw_rows,
                         hidden=HIDDEN)


def dataset_table(board: Board, dataset: str) -> Table:
    norm, raw = board.normalized_records, board.raw_records
    values = {k: r.get(dataset) for k, r in norm.items()}
    entries = [e for e in ordered(board.entries, values) if dataset in e.datasets]
    ranks = rank_desc([values.get((e.submission, e.backbone)) for e in entries])
    rows = []
    for e, rank in zip(entries, ranks, strict=True):
        key = (e.submission, e.backbone)
        seeds = board.seed_scores.get((*key, dataset), [])
        rows.append(_base(e, board) | {
            "rank": rank,
            "normalized": json_value(norm.get(key, {}).get(dataset)),
            "raw": json_value(raw.get(key, {}).get(dataset)),
            "seeds": len(seeds),
            "seed_scores": "; ".join(f"{seed}: {raw_v:.4f}" for seed, raw_v, _ in seeds),
        })
    metric = board.metric_names.get(dataset, "test metric")
    cols = [
        Column("rank", "Rank", ascending_first=True), *_model_columns(1),
        Column("normalized", "Normalized IQM", scale=100),
        Column("raw", f"IQM ({metric})", digits=4),
        Column("seeds", "Seeds", digits=0),
        Column("seed_scores", f"Seed: {metric}", numeric=False, wrap=True),
    ]
    return Table(f"{board.key}-dataset-{slug(dataset)}", f"{dataset}: scores", cols, rows,
                 hidden=HIDDEN)


def poi_table(board: Board, cap: Capability, data: CapabilityPlotData) -> Table:
    """Probability of improvement of each model over each model below it in ``data.labels``
    (long form, CSV only; P(b > a) = 1 - P(a > b), its CI mirrored likewise)."""
    rows = []
    if data.poi is not None:
        point, low, high = data.poi
        for i, a in enumerate(data.labels):
            for j, b in enumerate(data.labels):
                if j > i:
                    rows.append({"model": a, "other": b, "probability": point[i, j],
                                 "ci_low": low[i, j], "ci_high": high[i, j]})
    cols = [Column("model", "Model", numeric=False), Column("other", "Other", numeric=False),
            Column("probability", "P(model > other)", digits=3, ci=("ci_low", "ci_high"))]
    return Table(f"{board.key}-{cap.name}-poi", f"{cap.display_name}: probability of improvement",
                 cols, rows, decimals=4)


def rank_table(board: Board, cap: Capability, data: CapabilityPlotData) -> Table:
    """How often each model takes each rank over the resamples (data file only)."""
    n = len(data.labels)
    rows = []
    if data.ranks is not None:
        for i, label in enumerate(data.labels):
            rows.append({"model": label} | {f"rank {k + 1}": data.ranks[i, k]
                                            for k in range(n)})
    cols = [Column("model", "Model", numeric=False)] + [
        Column(f"rank {k + 1}", f"rank {k + 1}", digits=3) for k in range(n)]
    return Table(f"{board.key}-{cap.name}-ranks", f"{cap.display_name}: rank distribution", cols,
                 rows, decimals=4)


PUBLISHED_PROTOCOL = "geobench2 (published runs)"


def protocol_of(protocols: Sequence[str]) -> str:
    """The protocol a submission's rows were made under: the values of their ``protocol`` column
    (as the aggregate stage records them in submissions.json), or, for the official submissions
    (no such column), the published GEO-Bench-2 runs themselves."""
    names = sorted({str(v) for v in protocols})
    return ", ".join(names) if names else PUBLISHED_PROTOCOL


def submission_rows(submissions: Sequence[SubmissionInfo], anchors: dict[str, str]) -> Table:
    out = []
    for sub in sorted(submissions, key=lambda s: s.name):
        backbones = {str(b) for p in sub.parts for b in p.get("backbones", [])}
        out.append({
            "submission": sub.name, "short": short_submission(sub.name),
            "rows": sum(int(p.get("rows", 0)) for p in sub.parts), "backbones": len(backbones),
            "modes": ", ".join(str(p.get("frozen_or_full_ft", "")) for p in sub.parts),
            "sha256": sub.sha256, "protocol": protocol_of(sub.protocols),
            "_href": f"#{anchors[sub.name]}"})
    cols = [Column("submission", "Submission", numeric=False, link="_href"),
            Column("rows", "Result rows", digits=0), Column("backbones", "Backbones", digits=0),
            Column("modes", "Fine-tuning", numeric=False),
            Column("protocol", "Protocol", numeric=False),
            Column("sha256", "Input sha256", numeric=False)]
    return Table("submissions", "Submissions", cols, out)
