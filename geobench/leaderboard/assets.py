"""The leaderboard's two static assets: a style sheet and a small table-sorting script.

Both are written beside the pages (``assets/style.css``, ``assets/sort.js``) and referenced with
relative links, so the pages work from ``file://`` with no server and no network.
"""

from __future__ import annotations

STYLE_CSS = """\
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --head: #f3f5f9; --accent: #0b57d0;
  --warn-bg: #fff7e0; --warn-line: #e5c45c; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header.site { background: #17324d; color: #fff; padding: 0.7rem 1.5rem; }
header.site a { color: #fff; text-decoration: none; font-weight: 600; }
header.site nav { display: inline; margin-left: 1.5rem; }
header.site nav a { font-weight: 400; margin-right: 1rem; opacity: 0.9; }
main { padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 0.6rem 0 0.4rem; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 0.5rem; border-bottom: 1px solid var(--line);
  padding-bottom: 0.2rem; }
h3 { font-size: 1.02rem; margin: 1.2rem 0 0.4rem; }
a { color: var(--accent); }
p.lead, p.meta, p.hint { color: var(--muted); margin: 0.3rem 0; }
p.meta { font-size: 0.85rem; }
p.hint { font-size: 0.85rem; }
.note { background: var(--warn-bg); border: 1px solid var(--warn-line); border-radius: 4px;
  padding: 0.5rem 0.8rem; margin: 0.6rem 0; font-size: 0.9rem; }
.note ul { margin: 0.2rem 0 0; padding-left: 1.2rem; }
.table-wrap { overflow-x: auto; margin: 0.5rem 0 0.3rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.4rem; text-align: right;
  white-space: nowrap; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; }
th.text, td.text { text-align: left; }
td.wrap { white-space: normal; min-width: 16rem; max-width: 40rem; text-align: left; }
th button { all: unset; cursor: pointer; font-weight: 600; }
th button:focus-visible { outline: 2px solid var(--accent); }
th[aria-sort="ascending"] button::after { content: " \\25B2"; font-size: 0.7em; }
th[aria-sort="descending"] button::after { content: " \\25BC"; font-size: 0.7em; }
td.missing { color: #9aa1ad; background: #fafafa; }
td .ci { display: block; color: var(--muted); font-size: 0.75em; }
th { white-space: normal; min-width: 3.5rem; max-width: 9rem; vertical-align: bottom; }
tbody tr:nth-child(even) td { background-color: #fbfcfe; }
tbody tr:hover td { background-color: #eef3fb; }
.downloads { font-size: 0.85rem; }
.downloads a { margin-right: 0.8rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1.2rem; }
figure { margin: 0.4rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); background: #fff; }
figcaption { font-size: 0.85rem; color: var(--muted); max-width: 44rem; }
ul.links { columns: 3 14rem; padding-left: 1.2rem; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; font-size: 0.9rem; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: 0.8rem; padding: 1rem 1.5rem; border-top: 1px solid var(--line); }
"""

# Sorts a <table class="sortable"> when a header button is clicked. A cell's sort key is its
# data-v attribute (its text when absent); numeric columns (th data-type="num") compare as
# numbers; empty keys (missing data) always go last, whichever the direction.
SORT_JS = """\
(function () {
  "use strict";
  function cellKey(row, col, numeric) {
    var cell = row.cells[col];
    if (!cell) { return null; }
    var raw = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
    raw = raw.trim();
    if (raw === "") { return null; }
    if (!numeric) { return raw.toLowerCase(); }
    var num = Number(raw);
    return isFinite(num) ? num : null;
  }
  function sortBy(table, th) {
    var headers = th.parentNode.cells;
    var col = Array.prototype.indexOf.call(headers, th);
    var numeric = th.getAttribute("data-type") === "num";
    var previous = th.getAttribute("aria-sort");
    var descending;
    if (previous === "descending") { descending = false; }
    else if (previous === "ascending") { descending = true; }
    else { descending = numeric && th.getAttribute("data-order") !== "asc"; }
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, index: i, key: cellKey(row, col, numeric) };
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.index - b.index; }
        return a.key === null ? 1 : -1;
      }
      var c = numeric ? a.key - b.key : (a.key < b.key ? -1 : (a.key > b.key ? 1 : 0));
      if (descending) { c = -c; }
      return c !== 0 ? c : a.index - b.index;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  function init() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      var buttons = table.querySelectorAll("thead th button");
      Array.prototype.forEach.call(buttons, function (button) {
        button.addEventListener("click", function () { sortBy(table, button.parentNode); });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
"""
