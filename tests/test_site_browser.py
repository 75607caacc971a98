"""The report site in a real browser: served on loopback, driven by headless Chromium.

Every page reachable from ``index.html`` loads with no failed request, no
request leaving the machine and no console error; no link or image is broken;
every image has alt text and every inline chart a title; the index reaches
every step report and every trust page, and its search finds a trust by code.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the Python
``selenium`` package (dev extra); skips with the reason if any is missing.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import tempfile
import threading
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000"]

pytestmark = pytest.mark.slow


def _requirements() -> str | None:
    if CHROMIUM is None:
        return "chromium not installed (apt-get install chromium chromium-driver; CI installs it)"
    if not Path(CHROMEDRIVER).exists():
        return f"chromedriver not found at {CHROMEDRIVER} (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e '.[dev]')"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def served_site(small_site):
    """``reports/`` of the small site on an http.server bound to 127.0.0.1 (a free port)."""
    handler = functools.partial(_QuietHandler, directory=str(small_site["reports"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", small_site["reports"]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.get("about:blank")
    driver.get_log("performance")  # drop what the browser itself did at start-up
    driver.get_log("browser")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _network(driver) -> tuple[list[str], list[str]]:
    """(requested URLs, failures) from the performance log since the last call."""
    urls, failures = [], []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
        elif msg["method"] == "Network.loadingFailed":
            failures.append(f"{params.get('errorText')} ({params.get('type')})")
        elif msg["method"] == "Network.responseReceived" and params["response"]["status"] >= 400:
            failures.append(f"HTTP {params['response']['status']} {params['response']['url']}")
    return urls, failures


def _check_page(driver, url: str, base: str) -> tuple[list[str], list[str]]:
    """Load ``url``; return (problems, same-site links on the page)."""
    driver.get(url)
    problems = []
    urls, failures = _network(driver)
    problems += [f"failed request: {f}" for f in failures]
    problems += [f"request leaves the machine: {u}" for u in urls
                 if not (u.startswith(base) or u.startswith("data:") or u.startswith("about:"))]
    problems += [f"console: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.getAttribute('alt'),"
        " i.complete && i.naturalWidth > 0]);")
    for src, alt, ok in images:
        if not ok:
            problems.append(f"broken image {src}")
        if not (alt or "").strip():
            problems.append(f"image without alt text {src}")
    charts = driver.execute_script(
        "return Array.from(document.querySelectorAll('svg[role=img]')).map(s => (s.querySelector('title')||{}).textContent||'');")
    problems += ["inline chart without a title" for t in charts if not t.strip()]
    if not driver.title.strip() or driver.title.strip() == "Home":
        problems.append(f"page title says nothing: {driver.title!r}")
    links = driver.execute_script("return Array.from(document.links).map(a => a.href);")
    own = [urldefrag(link) for link in links if link.startswith(base)]
    for target, frag in own:
        if frag and urldefrag(url)[0] == target and not driver.execute_script(
                "return !!document.getElementById(arguments[0]);", frag):
            problems.append(f"link to missing anchor #{frag}")
    return [f"{url}: {p}" for p in problems], [t for t, _ in own]


def test_every_page_loads_cleanly_and_the_index_reaches_everything(browser, served_site):
    base, folder = served_site
    start = urljoin(base, "index.html")
    seen, queue, problems = {start}, deque([start]), []
    while queue:
        url = queue.popleft()
        page_problems, links = _check_page(browser, url, base)
        problems += page_problems
        for link in links:
            if link not in seen and urlparse(link).path.endswith((".html", "/")):
                seen.add(link)
                queue.append(link)
    assert not problems, "\n".join(problems[:40])
    reached = {urlparse(u).path.lstrip("/") for u in seen}
    expected = {str(p.relative_to(folder)) for p in folder.rglob("*.html")}
    assert expected <= reached, f"not reachable from index.html: {sorted(expected - reached)[:10]}"
    assert {f"trusts/{p.name}" for p in (folder / "trusts").glob("*.html")} <= reached
    assert {p.with_suffix(".html").name for p in folder.glob("0*_*.ipynb")} <= reached


SCREENSHOTS = Path(__file__).resolve().parents[1] / "ci-artifacts" / "screenshots"


def test_pages_are_screenshotted_for_review(browser, served_site):
    """Full-page screenshots of the index, summary, board page, a trust page, a merged trust's page and step 6
    (ci-artifacts/screenshots/, small demo site)."""
    base, folder = served_site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    trust = sorted((folder / "trusts").glob("*.html"))[0]
    merged = [p for p in sorted((folder / "trusts").glob("*.html")) if 'class="merged"' in p.read_text(encoding="utf-8")]
    pages = [("index", "index.html"), ("summary", "summary.html"), ("board", "board.html"),
             ("trust", f"trusts/{trust.name}"), ("curve", "06_multiverse.html")]
    pages += [("trust_merged", f"trusts/{merged[0].name}")] if merged else []
    for name, rel in pages:
        browser.get(urljoin(base, rel))
        height = browser.execute_script("return document.documentElement.scrollHeight;")
        browser.set_window_size(1280, min(int(height), 6000))
        path = SCREENSHOTS / f"demo_{name}.png"
        browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
    browser.set_window_size(1280, 1000)


def test_index_finds_a_trust_by_code_and_by_name(browser, served_site):
    from selenium.webdriver.common.by import By

    base, folder = served_site
    code = sorted(p.stem for p in (folder / "trusts").glob("*.html"))[0]
    browser.get(urljoin(base, "index.html"))
    box = browser.find_element(By.ID, "trust-search")
    box.send_keys(code.lower())
    visible = [r for r in browser.find_elements(By.CSS_SELECTOR, "#trust-table tbody tr") if r.is_displayed()]
    assert visible and all(code in r.text for r in visible)
    name = visible[0].find_element(By.TAG_NAME, "a").text
    box.clear()
    box.send_keys(name.split(" (")[0][:30])
    visible = [r for r in browser.find_elements(By.CSS_SELECTOR, "#trust-table tbody tr") if r.is_displayed()]
    assert any(code in r.text for r in visible)
    visible[0].find_element(By.TAG_NAME, "a").click()
    assert browser.find_element(By.TAG_NAME, "h1").text.strip()


# --------------------------------------------------------------------------- what a reader sees
# These checks look at the pages as a reader does: where the answer is, whether every chart names its axes,
# whether any two pieces of text sit on top of each other, and whether program names leak into the text.


def _real_multiverse_notebook(run) -> object:
    """A step 6 notebook whose outputs are the real notebook's tables (joint test, bootstrap, unfitted reasons)."""
    import nbformat
    import pandas as pd

    def table(frame) -> object:
        return nbformat.v4.new_output("display_data", data={"text/html": frame.to_html(), "text/plain": "table"})

    b = run.bootstrap.merge(run.table[["spec_id", "exposure", "dependent", "lag"]], on="spec_id")
    bad = run.table[run.table["status"] != "ok"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Step 6: every reasonable specification"),
                nbformat.v4.new_code_cell("tables", outputs=[
                    table(pd.Series(run.joint, name="joint test").to_frame()), table(b),
                    table(bad.groupby("reason").size().rename("specifications").to_frame())])]
    return nb


@pytest.fixture(scope="module")
def reader_site(small_site, tmp_path_factory):
    """A copy of the small site whose step 6 page shows the real step 6 tables; served on loopback."""
    from linkage.site.build import render_step_page

    folder = tmp_path_factory.mktemp("reader_site") / "reports"
    shutil.copytree(small_site["reports"], folder)
    render_step_page(_real_multiverse_notebook(small_site["multiverse"]), "06_multiverse", small_site["params"],
                     small_site["reports"].parent, folder)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    server.shutdown()
    server.server_close()


def _reader_pages(folder: Path) -> list[str]:
    """The pages a reader opens: index, summary, board, methods, every step report and every trust page."""
    pages = ["index.html", "summary.html", "board.html", "methods.html"]
    pages += sorted(p.name for p in folder.glob("0*_*.html"))
    return pages + sorted(f"trusts/{p.name}" for p in (folder / "trusts").glob("*.html"))


def test_the_answer_box_is_on_the_first_screen_of_index_and_summary(browser, reader_site):
    base, _ = reader_site
    browser.set_window_size(1280, 1000)
    for page in ("index.html", "summary.html"):
        browser.get(urljoin(base, page))
        box = browser.execute_script(
            "var b = document.querySelector('.key-findings'); if (!b) return null;"
            "var r = b.getBoundingClientRect(); var v = b.querySelector('.verdict');"
            "return [r.top + window.scrollY, v ? v.getBoundingClientRect().bottom + window.scrollY : null,"
            " b.innerText.length, b.offsetParent !== null];")
        assert box is not None, f"{page}: no key-findings box"
        top, verdict_bottom, length, visible = box
        assert visible and length > 80, f"{page}: key-findings box hidden or empty"
        assert top < 900 and verdict_bottom is not None and verdict_bottom < 900, \
            f"{page}: key findings start at {top:.0f} px, verdict ends at {verdict_bottom} px (first screen is 900 px)"


def _png_axis_titles(path: Path) -> str | None:
    from PIL import Image

    with Image.open(path) as im:
        return im.text.get("Axis titles")


def test_every_chart_names_its_axes(browser, reader_site):
    """Inline SVG charts have an x and a y axis title in the DOM; PNG figures carry their axis titles."""
    import re

    base, folder = reader_site
    problems = []
    for page in _reader_pages(folder):
        browser.get(urljoin(base, page))
        charts = browser.execute_script(
            "return Array.from(document.querySelectorAll('svg[role=img]')).map(s => "
            "Array.from(s.querySelectorAll('.axis-title')).map(t => t.textContent.trim()).filter(t => t));")
        problems += [f"{page}: inline chart {i} has axis titles {t}" for i, t in enumerate(charts) if len(t) < 2]
        for src in browser.execute_script("return Array.from(document.images).map(i => i.getAttribute('src'));"):
            if src.startswith("data:"):
                continue  # notebook outputs: the same figure is saved as a file by its stage (checked there)
            titles = _png_axis_titles((folder / page).parent / src)
            panels = [{k: v.strip() for k, v in re.findall(r"(?:^|; )([xy]): ([^;]*)", p.strip())}
                      for p in (titles or "").split(" | ")]
            if not titles or not all(p.get("y") for p in panels) or not any(p.get("x") for p in panels):
                problems.append(f"{page}: figure {src} lacks axis titles ({titles!r})")
    assert not problems, "\n".join(problems[:30])


_BOXES_JS = """
function boxes(node, out) {
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var n, k = 0;
  while ((n = walker.nextNode())) {
    if (!n.textContent.trim()) continue;
    var el = n.parentElement, st = getComputedStyle(el);
    if (st.visibility === 'hidden' || el.closest('script,style,title,desc')) continue;
    if (el.checkVisibility && !el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})) continue;
    if (el.closest('details:not([open])') && !el.closest('summary')) continue;  // closed: laid out, not shown
    var rects = el.closest('svg') ? [el.getBoundingClientRect()] : Array.from((function () {
      var r = document.createRange(); r.selectNodeContents(n); return r.getClientRects(); })());
    rects.forEach(function (r) { if (r.width > 1 && r.height > 1)
      out.push({id: k, x: r.left, y: r.top + scrollY, w: r.width, h: r.height, t: n.textContent.trim().slice(0, 40)}); });
    k += 1;
  }
  document.querySelectorAll('svg.chart circle, svg.chart rect').forEach(function (m) {
    var r = m.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) out.push({id: -1, mark: 1, x: r.left, y: r.top + scrollY, w: r.width, h: r.height,
      t: m.tagName, svg: m.closest('svg').id || m.closest('svg').getAttribute('aria-labelledby')});
  });
  return out;
}
var b = boxes(document.body, []), bad = [];
for (var i = 0; i < b.length; i++) for (var j = i + 1; j < b.length; j++) {
  var p = b[i], q = b[j];
  if (p.mark && q.mark) continue;
  if (p.id === q.id && p.id >= 0) continue;
  var ox = Math.min(p.x + p.w, q.x + q.w) - Math.max(p.x, q.x), oy = Math.min(p.y + p.h, q.y + q.h) - Math.max(p.y, q.y);
  if (ox > 1.5 && oy > 1.5) bad.push(p.t + ' / ' + q.t);
  if (bad.length > 20) return bad;
}
return bad;
"""


def test_no_two_text_boxes_overlap_and_no_label_sits_on_data(browser, reader_site):
    """Bounding boxes from Chromium: no two pieces of text overlap; no chart text covers a data mark."""
    base, folder = reader_site
    trusts = sorted(f"trusts/{p.name}" for p in (folder / "trusts").glob("*.html"))
    problems = []
    for page in ["index.html", "summary.html", "board.html", "06_multiverse.html", *trusts]:
        browser.get(urljoin(base, page))
        problems += [f"{page}: {o}" for o in browser.execute_script(_BOXES_JS)]
    assert not problems, "\n".join(problems[:30])


def _metric_names(folder: Path) -> set[str]:
    """Every key of the metrics files beside the site folder ``folder`` that is a program name (has an underscore)."""
    names: set[str] = set()

    def walk(d: object) -> None:
        if isinstance(d, dict):
            for k, v in d.items():
                if "_" in str(k) and not str(k)[:1].isdigit():
                    names.add(str(k))
                walk(v)

    for path in (folder.parent / "metrics").glob("*.json"):
        walk(json.loads(path.read_text()))
    return names


def test_no_raw_metrics_name_in_visible_text(browser, reader_site, small_site):
    """What a reader sees has no metrics keys.

    Not checked: code elements and the methods page's parameter reference (``table.reference``), where a
    reviewer looks up parameter keys and the audit codes their descriptions name.
    """
    import re

    base, folder = reader_site
    names = _metric_names(small_site["reports"])
    assert "n_specs" in names and "p_value" in names  # the check reads the real metrics files
    pattern = re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")(?![\w])")
    problems = []
    for page in _reader_pages(folder):
        browser.get(urljoin(base, page))
        text = browser.execute_script(
            "var c = document.body.cloneNode(true); c.querySelectorAll('code,pre,kbd,script,style,table.reference')"
            ".forEach(e => e.remove()); document.body.appendChild(c); c.style.position='absolute';"
            "var t = c.innerText; c.remove(); return t;")
        found = sorted(set(pattern.findall(text)))
        if found:
            problems.append(f"{page}: {', '.join(found[:8])}")
    assert not problems, "\n".join(problems[:30])
