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
    """Full-page screenshots of the index, the summary and one trust page (ci-artifacts/screenshots/, demo site)."""
    base, folder = served_site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    trust = sorted((folder / "trusts").glob("*.html"))[0]
    for name, rel in (("index", "index.html"), ("summary", "summary.html"), ("trust", f"trusts/{trust.name}")):
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
