"""The leaderboard pages in headless Chromium (Debian ``chromium`` + ``chromium-driver``, driven by
selenium): every page loads from file:// with no console error and no request outside file:,
clicking a header sorts the rows, and hostile names render as text and run nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_leaderboard import EVIL, build_board

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--window-size=1400,1000")


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_board(tmp_path_factory.mktemp("lb_browser"))


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if not CHROMIUM or not DRIVER:
        pytest.skip("chromium / chromedriver not installed (Debian: apt-get install chromium "
                    "chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="geobench-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    opts.set_capability("unhandledPromptBehavior", "ignore")  # a dialog stays open: we see it
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _drain(drv: Any) -> None:
    drv.get_log("browser")
    drv.get_log("performance")


def _open(drv: Any, path: Path) -> tuple[list[dict], list[str], list[str]]:
    """Load a page; return (console entries, requested URLs, JavaScript dialogs opened)."""
    from selenium.webdriver.support.ui import WebDriverWait

    drv.get(path.as_uri())
    # get() can return at "interactive" on a loaded machine: wait for "complete" (10 s at most)
    WebDriverWait(drv, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
    # wait until every image has loaded (or failed), so its request is in the log
    drv.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))"
        ".then(() => done(true));")
    console = drv.get_log("browser")
    urls, dialogs = [], []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
        elif msg["method"] == "Page.javascriptDialogOpening":
            dialogs.append(msg["params"].get("message", ""))
    return console, urls, dialogs


def _no_alert(drv: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        drv.switch_to.alert.text  # noqa: B018
    except NoAlertPresentException:
        return True
    return False


def test_every_page_loads_offline_without_errors(driver: Any, board: Path) -> None:
    _drain(driver)
    html_pages = sorted(board.rglob("*.html"))
    assert len(html_pages) > 50
    for page in html_pages:
        console, urls, dialogs = _open(driver, page)
        assert console == [], f"{page.relative_to(board)}: console {console}"
        assert urls and urls[0] == page.as_uri()
        outside = [u for u in urls if not u.startswith("file://")]
        assert outside == [], f"{page.relative_to(board)}: requests outside file:// {outside}"
        assert any(u.endswith("/assets/sort.js") for u in urls)
        assert dialogs == [] and _no_alert(driver)
        # the only script is the sort script (nothing injected by a name or an info field)
        srcs = driver.execute_script("return Array.from(document.scripts).map(s => s.src)")
        assert len(srcs) == 1 and srcs[0].endswith("/assets/sort.js")
    cap_page = board / "full_ft" / "capability-core.html"
    _, urls, _ = _open(driver, cap_page)
    for kind in ("intervals", "poi", "profiles", "ranks"):
        assert (cap_page.parent / "plots" / f"core-{kind}.svg").as_uri() in urls


def _column(drv: Any, table: str, key: str) -> list[tuple[str, str | None]]:
    """(text, data-v) of one column of a table, in display order."""
    return drv.execute_script(
        "const t = document.querySelector(`table[data-table='${arguments[0]}']`);"
        "const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.dataset.k === arguments[1]);"
        "return Array.from(t.tBodies[0].rows).map(r => [r.cells[i].textContent,"
        " r.cells[i].getAttribute('data-v')]);", table, key)


def _click(drv: Any, table: str, key: str) -> str:
    button = drv.find_element(
        "css selector", f"table[data-table='{table}'] th[data-k='{key}'] button")
    button.click()
    return button.find_element("xpath", "..").get_attribute("aria-sort")


def test_clicking_a_header_sorts_rows(driver: Any, board: Path) -> None:
    _open(driver, board / "index.html")
    table = "full_ft-overview"
    start = [t for t, _ in _column(driver, table, "model")]

    assert _click(driver, table, "model") == "ascending"
    models = [t for t, _ in _column(driver, table, "model")]
    assert models == sorted(start, key=str.lower) and models != start
    assert _click(driver, table, "model") == "descending"
    assert [t for t, _ in _column(driver, table, "model")] == sorted(start, key=str.lower, reverse=True)

    # numeric: first click best first; missing values last in both directions
    assert _click(driver, table, "Core") == "descending"
    core = _column(driver, table, "Core")
    values = [float(v) for _, v in core if v]
    assert values == sorted(values, reverse=True) and len(values) == len(core) - 1
    assert core[-1] == ["n/a", ""]
    assert _click(driver, table, "Core") == "ascending"
    core = _column(driver, table, "Core")
    values = [float(v) for _, v in core if v]
    assert values == sorted(values) and core[-1] == ["n/a", ""]

    # rank sorts ascending first; parameter counts sort as numbers, not as text ("25M" < "100M")
    assert _click(driver, table, "rank") == "ascending"
    assert _click(driver, table, "parameters") == "descending"
    params = [float(v) for _, v in _column(driver, table, "parameters") if v]
    assert params == sorted(params, reverse=True) and params[0] > params[-1]

    # whole rows move together: the model next to each Core value is unchanged
    before = dict(zip((t for t, _ in _column(driver, table, "model")),
                      (v for _, v in _column(driver, table, "Core")), strict=True))
    _click(driver, table, "Classification")
    after = dict(zip((t for t, _ in _column(driver, table, "model")),
                     (v for _, v in _column(driver, table, "Core")), strict=True))
    assert before == after


def test_script_tag_in_a_name_renders_as_text(driver: Any, board: Path) -> None:
    for page in (board / "index.html", board / "full_ft" / "capability-core.html",
                 board / "submissions.html"):
        _, _, dialogs = _open(driver, page)
        assert dialogs == [] and _no_alert(driver)
        cells = driver.execute_script(
            "return Array.from(document.querySelectorAll('td, li'))"
            ".map(c => c.textContent).filter(t => t.includes(arguments[0]))", EVIL)
        assert cells, f"{page.name}: the name is not shown as text"
        injected = driver.execute_script(
            "return Array.from(document.querySelectorAll('script:not([src]), svg, img[onerror],"
            " [onload], [onerror], b')).length")
        assert injected == 0
    _open(driver, board / "submissions.html")
    text = driver.find_element("tag name", "main").text
    assert "<img src=x onerror=alert(2)>" in text and "javascript:alert(3)" in text
    hrefs = driver.execute_script("return Array.from(document.links).map(a => a.href)")
    assert not [h for h in hrefs if h.startswith("javascript:")]
