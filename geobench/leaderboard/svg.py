"""Hand-written SVG plots: small, deterministic text (fixed number formats, no ids, no dates).

Each function takes already computed numbers (from :mod:`geobench.aggregate`) and returns the
SVG document as a string; every label is escaped. Scores arrive as fractions and are drawn ×100.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape as _xml_escape

import numpy as np

# Tableau-10 followed by its lighter companions: distinct hues for up to 20 lines.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79",
)  # fmt: skip
DASHES = ("", "5,3", "2,2", "8,3,2,3")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
CHAR_W = 6.8  # rough width of one 12 px character, for laying out labels


def _n(x: float) -> str:
    """A coordinate with one decimal, without a trailing '.0'."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def esc(text: object) -> str:
    return _xml_escape(str(text), {'"': "&quot;"})


class Canvas:
    """Collects SVG elements and renders one document."""

    def __init__(self, width: float, height: float, title: str) -> None:
        self.width, self.height, self.title = width, height, title
        self.parts: list[str] = []

    def text(self, x: float, y: float, s: object, *, anchor: str = "start", size: float = 12,
             weight: str = "", fill: str = "#1d2330", rotate: float = 0.0) -> None:
        attrs = f'x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if weight:
            attrs += f' font-weight="{weight}"'
        if fill != "#1d2330":
            attrs += f' fill="{fill}"'
        if rotate:
            attrs += f' transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"'
        self.parts.append(f"<text {attrs}>{esc(s)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, *, stroke: str = "#1d2330",
             width: float = 1.0, dash: str = "", opacity: float = 1.0) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        if opacity < 1:
            extra += f' stroke-opacity="{opacity:.2f}"'
        self.parts.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
                          f'stroke="{stroke}" stroke-width="{_n(width)}"{extra}/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, stroke: str = "") -> None:
        extra = f' stroke="{stroke}"' if stroke else ""
        self.parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
                          f'fill="{fill}"{extra}/>')

    def circle(self, x: float, y: float, r: float, fill: str) -> None:
        self.parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{fill}"/>')

    def polyline(self, points: Sequence[tuple[float, float]], stroke: str, dash: str = "") -> None:
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" '
                          f'stroke-width="1.6"{extra}/>')

    def render(self) -> str:
        w, h = _n(self.width), _n(self.height)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="{FONT}">\n<title>{esc(self.title)}</title>\n'
            f'<rect width="{w}" height="{h}" fill="#ffffff"/>\n' + "\n".join(self.parts) + "\n</svg>\n"
        )


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        lo, hi = (lo - 1, lo + 1) if math.isfinite(lo) else (0.0, 1.0)
    raw = (hi - lo) / max(target - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_label(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"


def _label_width(labels: Sequence[str]) -> float:
    return 12 + CHAR_W * max((len(s) for s in labels), default=4)


def _x_axis(c: Canvas, x0: float, x1: float, y_top: float, y_bottom: float, ticks: list[float],
            to_x: object, label: str) -> None:
    for t in ticks:
        x = to_x(t)  # type: ignore[operator]
        c.line(x, y_top, x, y_bottom, stroke="#d9dde5")
        c.text(x, y_bottom + 14, _tick_label(t), anchor="middle", size=11, fill="#5b6475")
    c.line(x0, y_bottom, x1, y_bottom, stroke="#5b6475")
    c.text((x0 + x1) / 2, y_bottom + 32, label, anchor="middle", size=12)


def interval_plot(labels: Sequence[str], point: np.ndarray, low: np.ndarray, high: np.ndarray,
                  *, title: str, xlabel: str) -> str:
    """Point estimates with their intervals, one row per model, in the given order."""
    n = len(labels)
    left, plot_w, row_h, top = _label_width(labels), 420.0, 20.0, 40.0
    height = top + row_h * max(n, 1) + 50
    c = Canvas(left + plot_w + 30, height, title)
    c.text(10, 22, title, size=14, weight="600")
    vals = np.concatenate([point, low, high]) * 100
    vals = vals[np.isfinite(vals)]
    ticks = nice_ticks(float(vals.min()) if vals.size else 0.0, float(vals.max()) if vals.size else 1.0)
    t0, t1 = ticks[0], ticks[-1]

    def to_x(v: float) -> float:
        return left + (v - t0) / (t1 - t0) * plot_w

    bottom = top + row_h * n
    _x_axis(c, left, left + plot_w, top, bottom, ticks, to_x, xlabel)
    for i, name in enumerate(labels):
        y = top + row_h * (i + 0.5)
        color = PALETTE[i % len(PALETTE)]
        c.text(left - 8, y + 4, name, anchor="end")
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            c.line(to_x(low[i] * 100), y, to_x(high[i] * 100), y, stroke=color, width=6, opacity=0.45)
        if np.isfinite(point[i]):
            c.circle(to_x(point[i] * 100), y, 3.6, color)
    return c.render()


def _diverging(p: float) -> str:
    """0 -> red, 0.5 -> white, 1 -> blue."""
    p = min(max(p, 0.0), 1.0)
    red, white, blue = (178, 24, 43), (247, 247, 247), (33, 102, 172)
    a, b, t = (red, white, p * 2) if p < 0.5 else (white, blue, (p - 0.5) * 2)
    rgb = tuple(round(a[k] + (b[k] - a[k]) * t) for k in range(3))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def poi_heatmap(labels: Sequence[str], prob: np.ndarray, *, title: str) -> str:
    """Upper triangle of the probability-of-improvement matrix, ×100.

    Cell (i, j), j > i: probability that model i (higher in ``labels``) improves on model j;
    the mirrored cell would be 100 minus it, so it is left out (half the file)."""
    n = len(labels)
    cell = 24
    rows, cols = list(labels[:-1]), list(labels[1:])
    left = round(_label_width(rows))
    longest = max((len(s) for s in cols), default=4)
    top = round(46 + CHAR_W * longest * 0.72)
    right = round(CHAR_W * longest * 0.72) + 20
    caption = ("Cell: P(row model > column model) ×100 on a random (dataset, seed) pair; "
               "blue: row better, red: column better.")
    width = max(left + cell * len(cols) + right, 20 + len(caption) * CHAR_W * 11 / 12)
    c = Canvas(width, top + cell * len(rows) + 44, title)
    c.text(10, 22, title, size=14, weight="600")
    for j, name in enumerate(cols):
        x = left + cell * j + cell / 2
        c.text(x + 3, top - 6, name, size=11, rotate=-45)
    for i, name in enumerate(rows):
        y = top + cell * i
        c.text(left - 6, y + cell / 2 + 4, name, anchor="end", size=11)
        cells = []
        for j in range(i + 1, n):
            p = float(prob[i, j])
            x = cell * (j - 1)
            if not math.isfinite(p):
                cells.append(f'<rect x="{x}" width="{cell}" height="{cell}" fill="#eceff3"/>')
                continue
            ink = ' fill="#fff"' if abs(p - 0.5) > 0.3 else ""
            cells.append(f'<rect x="{x}" width="{cell}" height="{cell}" fill="{_diverging(p)}"/>'
                         f'<text x="{x + cell // 2}" y="16"{ink}>{p * 100:.0f}</text>')
        c.parts.append(f'<g transform="translate({left},{y})" font-size="10" text-anchor="middle">'
                       + "".join(cells) + "</g>")
    c.text(10, top + cell * len(rows) + 26, caption, size=11, fill="#5b6475")
    return c.render()


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop the inner points of horizontal runs (they draw nothing new)."""
    out = []
    for k, (x, y) in enumerate(points):
        if 0 < k < len(points) - 1 and _n(points[k - 1][1]) == _n(y) == _n(points[k + 1][1]):
            continue
        out.append((x, y))
    return out


def profile_plot(labels: Sequence[str], taus: np.ndarray, fractions: np.ndarray, *,
                 title: str) -> str:
    """Performance profiles: fraction of runs scoring above τ, one line per model."""
    n = len(labels)
    left, plot_w, plot_h, top = 56.0, 440.0, 260.0, 40.0
    legend_x = left + plot_w + 20
    c = Canvas(legend_x + _label_width(labels) + 30, max(top + plot_h + 50, top + 16 * n + 20), title)
    c.text(10, 22, title, size=14, weight="600")
    tx = taus * 100
    ticks = nice_ticks(float(tx.min()), float(tx.max()))
    t0, t1 = ticks[0], ticks[-1]

    def to_x(v: float) -> float:
        return left + (v - t0) / (t1 - t0) * plot_w

    def to_y(f: float) -> float:
        return top + (1 - f) * plot_h

    bottom = top + plot_h
    _x_axis(c, left, left + plot_w, top, bottom, ticks, to_x, "normalized score τ ×100")
    for f in (0.0, 0.25, 0.5, 0.75, 1.0):
        c.line(left, to_y(f), left + plot_w, to_y(f), stroke="#eceff3")
        c.text(left - 6, to_y(f) + 4, f"{f:g}", anchor="end", size=11, fill="#5b6475")
    c.line(left, top, left, bottom, stroke="#5b6475")
    c.text(14, top + plot_h / 2, "fraction of runs > τ", anchor="middle", size=12, rotate=-90)
    for i, name in enumerate(labels):
        color, dash = PALETTE[i % len(PALETTE)], DASHES[(i // len(PALETTE)) % len(DASHES)]
        pts = _thin([(to_x(t), to_y(float(f))) for t, f in zip(tx, fractions[i], strict=True)
                     if math.isfinite(f)])
        if pts:
            c.polyline(pts, color, dash)
        y = top + 16 * i + 6
        c.line(legend_x, y, legend_x + 18, y, stroke=color, width=2.5, dash=dash)
        c.text(legend_x + 24, y + 4, name, size=11)
    return c.render()


_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


def _sequential(t: float) -> str:
    """t = 0 -> dark purple ... t = 1 -> yellow (viridis anchors, linearly interpolated)."""
    t = min(max(t, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    k = min(int(t), len(_VIRIDIS) - 2)
    a, b, f = _VIRIDIS[k], _VIRIDIS[k + 1], t - k
    rgb = tuple(round(a[m] + (b[m] - a[m]) * f) for m in range(3))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def rank_plot(labels: Sequence[str], probs: np.ndarray, *, title: str) -> str:
    """Stacked bars: for each model, how often it took each rank over the resamples."""
    n, n_ranks = probs.shape
    left, plot_w, row_h, top = _label_width(labels), 420.0, 20.0, 40.0
    bottom = top + row_h * n
    c = Canvas(left + plot_w + 30, bottom + 80, title)
    c.text(10, 22, title, size=14, weight="600")

    def to_x(f: float) -> float:
        return left + f * plot_w

    _x_axis(c, left, left + plot_w, top, bottom, [0, 25, 50, 75, 100],
            lambda v: to_x(v / 100), "share of bootstrap resamples (%)")
    colors = [_sequential(k / max(n_ranks - 1, 1)) for k in range(n_ranks)]
    for i, name in enumerate(labels):
        y = top + row_h * i + 3
        c.text(left - 8, y + row_h / 2 + 1, name, anchor="end")
        acc = 0.0
        for k in range(n_ranks):
            p = float(probs[i, k])
            if p > 0.0005:
                c.rect(to_x(acc), y, p * plot_w, row_h - 6, colors[k])
            acc += p
    ly = bottom + 46
    c.text(left, ly + 4, "rank 1", anchor="end", size=11)
    sw = min(24.0, (plot_w - 60) / max(n_ranks, 1))
    for k in range(n_ranks):
        c.rect(left + 6 + sw * k, ly - 6, sw, 12, colors[k])
    c.text(left + 12 + sw * n_ranks, ly + 4, f"rank {n_ranks}", size=11)
    return c.render()
