"""Rendered maps in headless Chromium: they draw, switch colourings, show escaped tooltips, raise no
console error and request nothing beyond 127.0.0.1 (nor anything at all when opened from a file)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import shapely

from gridmap.publish.maps.render import MapOptions, render
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.access_setup import make_principals
from tests.support.browser import browser_page, hover_map, screenshot
from tests.support.map_setup import COMMUNITY, prepare


@pytest.fixture(scope="module")
def served(demo_db_module: str) -> Iterator[tuple[str, str, dict, str]]:
    seeded = prepare(demo_db_module)
    settings = Settings(database_url=demo_db_module, rate_limit_anonymous=0)
    tokens = make_principals(demo_db_module, COMMUNITY, settings)
    with LiveServer(settings) as server:
        yield server.url, demo_db_module, seeded, tokens["admin"]


def _victim_point(url: str, code: str) -> tuple[float, float]:
    with psycopg.connect(url) as conn:
        query = "SELECT ST_AsBinary(geom) FROM area WHERE code = %s AND valid_to IS NULL"
        wkb = conn.execute(query, (code,)).fetchone()
    p = shapely.from_wkb(wkb[0]).representative_point()
    return p.y, p.x


def test_overview_map_in_the_browser(served):
    base, url, seeded, _ = served
    lat, lon = _victim_point(url, seeded["victim"])
    with browser_page() as (page, problems):
        page.goto(f"{base}/maps/overview.html?area={COMMUNITY}")
        page.wait_for_selector(".leaflet-control-layers")
        assert page.locator(".leaflet-control-layers-base input").count() == 2  # households, per km² (no incidents)
        assert page.locator("canvas.leaflet-zoom-animated").count() >= 1  # shapes drawn on the canvas renderer
        assert page.locator('.gm-legend-block[data-key="households"]').is_visible()
        assert not page.locator('.gm-legend-block[data-key="per_km2"]').is_visible()
        page.get_by_text("households per km² 户/km²").click()
        assert page.locator('.gm-legend-block[data-key="per_km2"]').is_visible()
        assert not page.locator('.gm-legend-block[data-key="households"]').is_visible()
        # Hover the micro-grid whose name is a script: the tooltip shows it as text and nothing runs.
        hover_map(page, lat, lon)
        tooltip = page.locator(".leaflet-tooltip", has_text="__pwned")
        tooltip.wait_for(timeout=5000)
        assert "<script>window.__pwned=1</script>" in tooltip.inner_text()
        assert page.evaluate("window.__pwned") is None
        screenshot(page, "map_overview")
    assert problems == []


def test_incident_map_for_staff(served):
    base, _, _, admin = served
    with browser_page() as (page, problems):
        page.set_extra_http_headers({"Authorization": f"Bearer {admin}"})
        page.goto(f"{base}/maps/incidents.html?area={COMMUNITY}")
        page.wait_for_selector(".leaflet-control-layers")
        assert page.get_by_text("incident heat 事件热力").count() == 1
        assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
        screenshot(page, "map_incidents")
    assert problems == []


def test_a_map_file_opens_with_no_server_and_no_network(served, tmp_path):
    _, url, _, _ = served
    with psycopg.connect(url) as conn:
        page_html = render(conn, "unassigned", COMMUNITY, MapOptions(assets="inline")).html
    path = tmp_path / "unassigned.html"
    path.write_text(page_html, encoding="utf-8")
    requests: list[str] = []
    with browser_page() as (page, problems):
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_selector(".leaflet-control-layers")
        assert page.get_by_text("coverage problems 覆盖问题").count() == 1
        screenshot(page, "map_unassigned_file")
    assert problems == []
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
