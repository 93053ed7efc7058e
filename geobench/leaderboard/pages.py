"""The pages of one leaderboard, as a mapping of relative path -> file text.

Layout (``MODE`` is a fine-tuning mode: ``full_ft``, ``frozen``, ``lora``)::

    index.html                       one ranked section per mode (never ranked together)
    submissions.html                 what each input submission declares
    MODE/capability-CAP.html         a capability: its datasets, normalized and raw, and plots
    MODE/dataset-DS.html             a dataset: every model's normalized and raw IQM and seeds
    MODE/plots/CAP-{intervals,poi,profiles,ranks}.svg
    data/TABLE.csv, data/TABLE.json  every table shown; data/*-poi.csv, *-ranks.csv: plot numbers
    assets/style.css, assets/sort.js
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geobench.capabilities import Capability
from geobench.leaderboard import svg
from geobench.leaderboard.assets import SORT_JS, STYLE_CSS
from geobench.leaderboard.boards import Board, short_submission, slug
from geobench.leaderboard.reader import CapabilityScope, SubmissionInfo
from geobench.leaderboard.render import (
    NavLink,
    esc,
    figure,
    kv_list,
    link_or_text,
    note,
    page,
    table_html,
)
from geobench.leaderboard.scope_notes import column_title, scope_items
from geobench.leaderboard.table import Table, is_missing
from geobench.leaderboard.tables import (
    capability_tables,
    dataset_table,
    interval_columns,
    overview_table,
    poi_table,
    rank_capability,
    rank_table,
    submission_rows,
)


@dataclass
class Site:
    """Everything the pages need; ``files`` collects the output."""

    brand: str
    boards: list[Board]
    capabilities: list[Capability]
    datasets: list[str]
    footer: str  # escaped HTML
    intro: str  # escaped HTML: how the scores were computed
    attribution: str  # escaped HTML, may be empty
    submissions: list[SubmissionInfo]  # in input order
    anchors: dict[str, str]
    scopes: dict[str, CapabilityScope] = field(default_factory=dict)  # capability key -> scope
    files: dict[str, str] = field(default_factory=dict)

    @property
    def hashes(self) -> dict[str, str]:
        return {s.name: s.sha256 for s in self.submissions}

    def nav(self) -> list[NavLink]:
        return [NavLink(f"index.html#{b.key}", b.title) for b in self.boards] + [
            NavLink("submissions.html", "Submissions")]

    def emit(self, path: str, title: str, body: str, depth: int) -> None:
        self.files[path] = page(title=f"{title} · {self.brand}", body=body, depth=depth,
                                brand=self.brand, nav=self.nav(), footer=self.footer)

    def table(self, table: Table, depth: int) -> str:
        """Write the table's CSV and JSON; return its HTML."""
        self.files[f"data/{table.table_id}.csv"] = table.to_csv()
        self.files[f"data/{table.table_id}.json"] = table.to_json()
        return table_html(table, "../" * depth + "data/")

    def plot_data(self, table: Table) -> str:
        """Write the numbers behind a plot (CSV only); return its relative path from a mode page."""
        self.files[f"data/{table.table_id}.csv"] = table.to_csv()
        return f"../data/{table.table_id}.csv"


def board_datasets(site: Site, board: Board) -> list[str]:
    present = set().union(*(e.datasets for e in board.entries)) if board.entries else set()
    return [d for d in site.datasets if d in present]


def _missing_items(site: Site, board: Board) -> list[str]:
    caps = site.capabilities
    needed = [d for d in site.datasets if any(d in c.datasets for c in caps)]
    have = set().union(*(e.datasets for e in board.entries)) if board.entries else set()
    absent = [d for d in needed if d not in have]
    recs = board.capability_records
    items = []
    if absent:
        hit = [c.display_name for c in caps if any(d in c.datasets for d in absent)]
        items.append(f"No {esc(board.title.lower())} results at all for {esc(', '.join(absent))}; "
                     f"affected capabilities: {esc(', '.join(hit))}.")
    for e in board.entries:
        miss = [d for d in needed if d not in e.datasets and d not in absent]
        if not miss:
            continue
        effects = []
        for c in caps:
            gone = [d for d in c.datasets if d not in e.datasets]
            if any(d in miss for d in gone):
                value = recs[(e.submission, e.backbone)].get(c.display_name)
                n = len(c.datasets)
                effects.append(f"{c.display_name} n/a" if is_missing(value)
                               else f"{c.display_name} from {n - len(gone)} of {n} datasets")
        items.append(f"{esc(e.label)} ({esc(short_submission(e.submission))}): no results for "
                     f"{esc(', '.join(miss))} — {esc('; '.join(effects))}.")
    return items


def index_page(site: Site) -> None:
    parts = [f"<h1>{esc(site.brand)}</h1>", site.intro]
    if site.attribution:
        parts.append(f'<p class="meta">{site.attribution}</p>')
    parts.append("<p>Leaderboards: " + ", ".join(
        f'<a href="#{b.key}">{esc(b.title)}</a> ({len(b.entries)} rows)' for b in site.boards)
        + '; <a href="submissions.html">submission details</a>.</p>')
    scoped = scope_items(site.capabilities, site.scopes)
    if scoped:
        parts.append(note("Scope of the capability scores", scoped))
    for board in site.boards:
        caps = [c for c in site.capabilities if c.display_name in board.columns]
        by = rank_capability(board, caps)
        table = overview_table(board, caps, by,
                               {c.display_name: column_title(c, site.scopes.get(c.name))
                                for c in caps})
        table.caption = (
            f"Ranked only among {esc(board.title.lower())} results"
            + (f", by {esc(by.display_name)}" if by else "")
            + ". Click a column header to sort; missing values stay last.")
        parts.append(f'<section id="{board.key}"><h2>{esc(board.title)} leaderboard</h2>')
        items = _missing_items(site, board)
        if items:
            parts.append(note("Missing data", items))
        parts.append(site.table(table, 0))
        cap_links = "".join(f'<li><a href="{board.key}/capability-{c.name}.html">'
                            f"{esc(c.display_name)}</a></li>" for c in caps)
        ds_links = "".join(f'<li><a href="{board.key}/dataset-{slug(d)}.html">{esc(d)}</a></li>'
                           for d in board_datasets(site, board))
        parts.append(f'<h3>Capabilities</h3><ul class="links">{cap_links}</ul>'
                     f'<h3>Datasets</h3><ul class="links">{ds_links}</ul></section>')
    site.emit("index.html", "Overview", "\n".join(parts), 0)


def _plots(site: Site, board: Board, cap: Capability) -> str:
    name, base = cap.display_name, f"{board.key}/plots/{cap.name}"
    recs = board.capability_records
    ci, pm = interval_columns(board, name)
    have = [e for e in board.entries if not is_missing(recs[(e.submission, e.backbone)].get(name))]
    have.sort(key=lambda e: (-float(recs[(e.submission, e.backbone)][name]), e.label))
    out = []
    if have:
        point = np.array([recs[(e.submission, e.backbone)][name] for e in have], dtype=float)
        if ci:
            low = np.array([recs[(e.submission, e.backbone)][ci[0]] for e in have], dtype=float)
            high = np.array([recs[(e.submission, e.backbone)][ci[1]] for e in have], dtype=float)
            what = "95% stratified-bootstrap confidence interval"
        elif pm:
            sem = np.array([recs[(e.submission, e.backbone)][pm] for e in have], dtype=float)
            low, high, what = point - sem, point + sem, "± standard error over the resamples"
        else:
            low = high = np.full(len(have), np.nan)
            what = "no interval"
        site.files[f"{base}-intervals.svg"] = svg.interval_plot(
            [e.label for e in have], point, low, high, title=f"{name} ({board.title})",
            xlabel=f"{name} score (normalized IQM ×100)")
        out.append(figure(f"plots/{cap.name}-intervals.svg", f"{name} interval estimates",
                          f"Capability score per model with its {esc(what)}."))
    data = board.plots.get(cap.name)
    if (data is not None and data.poi is not None and data.taus is not None
            and data.profiles is not None and data.ranks is not None):
        site.files[f"{base}-poi.svg"] = svg.poi_heatmap(
            data.labels, data.poi[0], title=f"{name}: probability of improvement")
        site.files[f"{base}-profiles.svg"] = svg.profile_plot(
            data.labels, data.taus, data.profiles, title=f"{name}: performance profiles")
        site.files[f"{base}-ranks.svg"] = svg.rank_plot(
            data.labels, data.ranks, title=f"{name}: rank distribution")
        poi_csv = site.plot_data(poi_table(board, cap, data))
        ranks_csv = site.plot_data(rank_table(board, cap, data))
        out.append(figure(f"plots/{cap.name}-poi.svg", f"{name} probability of improvement",
                          "Probability that the row model scores higher than the column model on "
                          "a random (dataset, seed) pair, from the bootstrap "
                          f'(<a href="{poi_csv}">CSV with 95% CIs</a>).'))
        out.append(figure(f"plots/{cap.name}-profiles.svg", f"{name} performance profiles",
                          "Fraction of a model's normalized (dataset, seed) scores above each "
                          "threshold τ; a curve further right is better."))
        out.append(figure(f"plots/{cap.name}-ranks.svg", f"{name} rank distribution",
                          "How often each model took each rank over the bootstrap resamples "
                          f'(<a href="{ranks_csv}">CSV</a>).'))
    if not out:
        return '<p class="hint">No plots: fewer than two models have every dataset of this capability.</p>'
    return '<div class="plots">' + "".join(out) + "</div>"


def capability_page(site: Site, board: Board, cap: Capability) -> None:
    datasets = list(cap.datasets)
    scores, raw = capability_tables(board, cap, datasets)
    with_page = set(board_datasets(site, board))
    links = ", ".join(f'<a href="dataset-{slug(d)}.html">{esc(d)}</a>' if d in with_page
                      else f"{esc(d)} (no results)" for d in datasets)
    parts = [f"<h1>{esc(cap.display_name)} <small>· {esc(board.title)}</small></h1>",
             f'<p class="lead">Datasets ({len(datasets)}): {links}.</p>', site.intro]
    scoped = scope_items([cap], site.scopes)
    if scoped:
        parts.append(note("Scope of this capability", scoped))
    items = []
    for e in board.entries:
        miss = [d for d in datasets if d not in e.datasets]
        if miss:
            items.append(f"{esc(e.label)} ({esc(short_submission(e.submission))}): no results for "
                         f"{esc(', '.join(miss))}.")
    data = board.plots.get(cap.name)
    if data is not None:
        items += [f"{esc(lab)} is left out of the plots: {esc(why)}."
                  for lab, why in data.excluded.items() if not why.startswith("no results")]
    if items:
        parts.append(note("Missing data", items))
    parts += ["<h2>Normalized scores (×100)</h2>", site.table(scores, 1),
              "<h2>Raw scores</h2>", '<p class="hint">IQM over seeds of each dataset\'s test metric '
              "on the leaderboard scale, before normalization (BioMassters: 1 − RMSE × 0.2538, "
              "higher is better).</p>", site.table(raw, 1), "<h2>Plots</h2>",
              _plots(site, board, cap)]
    site.emit(f"{board.key}/capability-{cap.name}.html", f"{cap.display_name} ({board.title})",
              "\n".join(parts), 1)


def dataset_page(site: Site, board: Board, dataset: str) -> None:
    table = dataset_table(board, dataset)
    caps = [c for c in site.capabilities if dataset in c.datasets
            and c.display_name in board.columns]
    cap_links = ", ".join(f'<a href="capability-{c.name}.html">{esc(c.display_name)}</a>'
                          for c in caps) or "none"
    metric = board.metric_names.get(dataset, "")
    parts = [f"<h1>{esc(dataset)} <small>· {esc(board.title)}</small></h1>",
             f'<p class="lead">Metric: {esc(metric or "unknown")}. Capabilities: {cap_links}.</p>',
             '<p class="hint">Normalized IQM: the IQM over seeds of the normalized scores ×100 '
             "(normalizer min → 0, max → 100; values outside stay). Raw: IQM over seeds of the "
             "test metric on the leaderboard scale.</p>"]
    absent = [e for e in board.entries if dataset not in e.datasets]
    if absent:
        parts.append(note("Missing data", [
            f"{esc(e.label)} ({esc(short_submission(e.submission))}): no results for this dataset."
            for e in absent]))
    parts.append(site.table(table, 1))
    site.emit(f"{board.key}/dataset-{slug(dataset)}.html", f"{dataset} ({board.title})",
              "\n".join(parts), 1)


def _info_pairs(info: dict) -> list[tuple[str, object]]:
    """Key/value pairs of a submission's metadata for display (nested values as JSON text)."""
    pairs: list[tuple[str, object]] = []
    for k, v in info.items():
        if k == "geobench" and isinstance(v, dict):
            pairs += [(f"geobench.json: {gk}", gv if isinstance(gv, str | int | float) else _flat(gv))
                      for gk, gv in v.items() if gk != "models"]
        else:
            pairs.append((k, v if isinstance(v, str | int | float) else _flat(v)))
    return pairs


def _model_item(label: str, backbone: str, size: str, own: dict) -> str:
    extra = [esc(size)] if size else []
    for key in ("license", "paper", "code"):
        value = own.get(key)
        if value:
            extra.append(f"{esc(key)}: {link_or_text(value)}")
    return f"<li>{esc(label)} — <code>{esc(backbone)}</code>" + "".join(
        f" · {x}" for x in extra) + "</li>"


def submissions_page(site: Site) -> None:
    parts = ["<h1>Submissions</h1>",
             '<p class="hint">What each input declares (official additional_info.json and, for '
             "geobench submissions, geobench.json), shown as given.</p>",
             site.table(submission_rows(site.submissions, site.anchors), 0)]
    for name, info in ((s.name, s.info) for s in site.submissions):
        own_models = info.get("geobench", {}).get("models") if isinstance(info.get("geobench"), dict) else None
        own = {str(m.get("backbone")): m for m in own_models or [] if isinstance(m, dict)}
        models = sorted({(e.label, e.backbone, e.meta.size) for b in site.boards for e in b.entries
                         if e.submission == name})
        parts.append(f'<section id="{site.anchors[name]}"><h2>{esc(name)}</h2>')
        parts.append(kv_list([("input sha256", site.hashes.get(name, "")), *_info_pairs(info)]))
        parts.append("<h3>Models</h3><ul>" + "".join(
            _model_item(lab, bb, size, own.get(bb, {})) for lab, bb, size in models) + "</ul></section>")
    site.emit("submissions.html", "Submissions", "\n".join(parts), 0)


def _flat(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def render_site(site: Site) -> dict[str, str]:
    """Build every page, plot and data file; returns ``site.files``."""
    site.files["assets/style.css"] = STYLE_CSS
    site.files["assets/sort.js"] = SORT_JS
    index_page(site)
    for board in site.boards:
        for cap in site.capabilities:
            if cap.display_name in board.columns:
                capability_page(site, board, cap)
        for d in board_datasets(site, board):
            dataset_page(site, board, d)
    submissions_page(site)
    return site.files
