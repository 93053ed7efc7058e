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
