"""Headless Debian Chromium driven by Playwright (never a downloaded browser), recording console errors and
every request that would leave 127.0.0.1."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Keep Chromium from calling out by itself (updates, sync, field trials), and root needs --no-sandbox.
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-default-apps"]  # fmt: skip


@contextmanager
def browser_page(viewport: dict | None = None, **context):
    """(page, problems): ``problems`` collects console errors, page errors and outside requests. Pages run
    under their real Content-Security-Policy, which forbids eval: give ``wait_for_function`` an arrow
    function (``"() => …"``), never a bare expression, which Playwright would evaluate with eval.
    ``viewport`` (default 1280×860) and ``context`` (other ``new_page`` options, e.g. ``is_mobile=True``,
    ``timezone_id``) set up the page."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport=viewport or {"width": 1280, "height": 860}, **context)
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

        def outside(request) -> None:
            host = urlsplit(request.url).hostname
            if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
                problems.append(f"outside request: {request.url}")

        page.on("request", outside)
        try:
            yield page, problems
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot under tests/artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# The page's folium map object (folium names it map_<hash>).
MAP_OBJECT = ("Object.keys(window).filter(k => k.startsWith('map_') && window[k] instanceof L.Map)"
              ".map(k => window[k])[0]")  # fmt: skip


def hover_map(page, lat: float, lon: float) -> None:
    """Centre a folium map page on (lat, lon) at zoom 18 and move the mouse onto that spot."""
    page.evaluate(f"() => {{ ({MAP_OBJECT}).setView([{lat}, {lon}], 18, {{animate: false}}); }}")
    page.wait_for_timeout(300)
    x, y = page.evaluate(f"(() => {{ const p = ({MAP_OBJECT}).latLngToContainerPoint([{lat}, {lon}]);"
                         " const r = document.querySelector('.folium-map').getBoundingClientRect();"
                         " return [p.x + r.left, p.y + r.top]; })()")  # fmt: skip
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y, steps=3)
