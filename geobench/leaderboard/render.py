"""HTML building blocks: the page frame, sortable tables, notes and figures.

Every text that comes from an input file goes through :func:`esc` (``html.escape`` with quotes),
links are only relative paths built here or http(s) URLs, and pages carry a Content-Security-Policy
that allows scripts and styles from files only (no inline script, no network), so a model name
like ``<script>alert(1)</script>`` renders as text and can run nothing.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from geobench.leaderboard.table import Column, Table, csv_value, format_number, is_missing

# file: pages have an opaque origin in Chromium, so the policy names the file: scheme.
CSP = ("default-src 'none'; script-src file: 'self'; style-src file: 'self'; "
       "img-src file: 'self' data:; base-uri 'none'; form-action 'none'")
MISSING = "n/a"


def esc(value: Any) -> str:
    """HTML-escape any value (quotes too) for text and attribute positions."""
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: Any) -> str | None:
    """An absolute http(s) URL as given, else None (no javascript:, data:, relative tricks)."""
    text = str(url or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and parts.netloc and not any(c.isspace() for c in text):
        return text
    return None


def link_or_text(value: Any) -> str:
    url = safe_url(value)
    if url:
        return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a>'
    return esc(value)


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str


def page(*, title: str, body: str, depth: int, brand: str, nav: Sequence[NavLink],
         footer: str) -> str:
    """A complete HTML document; ``depth`` is how many folders below the leaderboard root it is.

    ``footer`` is an HTML fragment (already escaped)."""
    up = "../" * depth
    links = "".join(f'<a href="{esc(up + n.href)}">{esc(n.label)}</a>' for n in nav)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{up}assets/style.css">\n'
        f'<script src="{up}assets/sort.js" defer></script>\n'
        "</head>\n<body>\n"
        f'<header class="site"><a href="{up}index.html">{esc(brand)}</a><nav>{links}</nav></header>\n'
        f"<main>\n{body}\n</main>\n<footer>{footer}</footer>\n</body>\n</html>\n"
    )


def _cell(col: Column, row: dict[str, Any]) -> str:
    value = row.get(col.key)
    classes = [] if col.numeric else ["text"]
    if col.wrap:
        classes.append("wrap")
    if is_missing(value) or (not col.numeric and str(value) == ""):
        classes.append("missing")
        reason = row.get(f"_why_{col.key}", "")
        title = f' title="{esc(reason)}"' if reason else ""
        return f'<td class="{" ".join(classes)}" data-v=""{title}>{MISSING}</td>'
    if col.text_key:
        text = esc(row.get(col.text_key, ""))
    elif col.numeric:
        text = esc(format_number(value, col.scale, col.digits))
        if col.ci and not is_missing(row.get(col.ci[0])) and not is_missing(row.get(col.ci[1])):
            lo = format_number(row[col.ci[0]], col.scale, col.digits)
            hi = format_number(row[col.ci[1]], col.scale, col.digits)
            text += f'<span class="ci">[{esc(lo)}, {esc(hi)}]</span>'
        elif col.pm and not is_missing(row.get(col.pm)):
            text += f'<span class="ci">± {esc(format_number(row[col.pm], col.scale, col.digits))}</span>'
    else:
        text = esc(value)
    href = row.get(col.link) if col.link else None
    if href:
        text = f'<a href="{esc(href)}">{text}</a>'
    cls = f' class="{" ".join(classes)}"' if classes else ""
    if not col.numeric:  # text columns sort by their text
        return f"<td{cls}>{text}</td>"
    return f'<td{cls} data-v="{esc(csv_value(value))}">{text}</td>'


def table_html(table: Table, data_prefix: str) -> str:
    """A sortable table with its caption and CSV/JSON download links."""
    heads = []
    for col in table.columns:
        attrs = [f'data-k="{esc(col.key)}"', f'data-type="{"num" if col.numeric else "text"}"']
        if not col.numeric:
            attrs.append('class="text"')
        if col.ascending_first:
            attrs.append('data-order="asc"')
        if col.title:
            attrs.append(f'title="{esc(col.title)}"')
        heads.append(f'<th {" ".join(attrs)}><button type="button">{esc(col.label)}</button></th>')
    body = "\n".join(
        "<tr>" + "".join(_cell(col, row) for col in table.columns) + "</tr>" for row in table.rows
    )
    caption = f'<p class="hint">{table.caption}</p>' if table.caption else ""
    base = esc(data_prefix + table.table_id)
    return (
        f'<div class="table-block" id="{esc(table.table_id)}">{caption}\n'
        f'<div class="table-wrap"><table class="sortable" data-table="{esc(table.table_id)}">\n'
        f'<thead><tr>{"".join(heads)}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>\n'
        f'<p class="downloads">Download this table: <a href="{base}.csv">CSV</a>'
        f'<a href="{base}.json">JSON</a></p></div>'
    )


def note(title: str, items: Iterable[str]) -> str:
    """A visible missing-data note; ``items`` are already-escaped HTML fragments."""
    lis = "".join(f"<li>{item}</li>" for item in items)
    return f'<div class="note" role="note"><strong>{esc(title)}</strong><ul>{lis}</ul></div>'


def figure(src: str, alt: str, caption: str) -> str:
    return (f'<figure><a href="{esc(src)}"><img src="{esc(src)}" alt="{esc(alt)}">'
            f"</a><figcaption>{caption}</figcaption></figure>")


def kv_list(pairs: Iterable[tuple[str, Any]]) -> str:
    items = "".join(f"<dt>{esc(k)}</dt><dd>{link_or_text(v)}</dd>" for k, v in pairs)
    return f'<dl class="kv">{items}</dl>'
