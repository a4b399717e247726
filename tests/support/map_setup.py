"""Shared pieces of the map tests: a demo-city copy with incidents and a hostile name, and readers of
what a rendered page holds (its GeoJSON layers, layer names, heat points, asset URLs)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import psycopg

from tests.support.incident_setup import seed_incidents, spots

COMMUNITY = "440309002005"
XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def prepare(url: str) -> dict:
    """Three incidents in the community (two roads, one noise, on different days) and a micro-grid and a
    worker carrying a script payload in their names; returns what the tests need to know."""
    with psycopg.connect(url) as conn:
        places = [p for p in spots(conn, 200) if p[2].startswith(COMMUNITY)][:3]
        victim = places[0][2]
        conn.execute("UPDATE area SET valid_to = now() WHERE code = %s AND valid_to IS NULL", (victim,))
        conn.execute(
            "INSERT INTO area (id, version, level, code, parent_id, name, kind, layer, geom, attrs)"
            " SELECT id, version + 1, level, code, parent_id, %s, kind, layer, geom, attrs FROM area"
            " WHERE code = %s ORDER BY version DESC LIMIT 1",
            (XSS, victim),
        )
        conn.execute(
            "INSERT INTO person (name, phone, role, area_id) SELECT %s, '13700000000', 'grid_worker', parent_id"
            " FROM area WHERE code = %s AND valid_to IS NULL",
            (XSS[:100], victim),
        )
    rows = [dict(lon=x, lat=y, category=cat, description="测试", external_id=f"MAP{i}",
                 reported_at=f"2026-10-0{i + 1}T09:00:00+08:00")
            for i, ((x, y, _), cat) in enumerate(zip(places, ["road", "road", "noise"], strict=True))]  # fmt: skip
    seed_incidents(url, rows)
    return {"victim": victim, "places": places}


def microgrid_codes(url: str, prefix: str = COMMUNITY) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            c
            for (c,) in conn.execute(
                "SELECT code FROM area WHERE level = 'microgrid' AND valid_to IS NULL AND code LIKE %s", (prefix + "%",)
            )
        }


def collections(page: str) -> list[dict]:
    """Every GeoJSON FeatureCollection embedded in a folium page."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r'\{"features": \[', page):
        value, _ = decoder.raw_decode(page, match.start())
        if value.get("type") == "FeatureCollection":
            found.append(value)
    return found


def layer_names(page: str) -> set[str]:
    """Names shown in the layer control (base layers and overlays)."""
    names = set()
    for block in re.findall(r"(?:base_layers|overlays)\s*:\s*\{(.*?)\}", page, flags=re.S):
        names |= set(re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', block))
    return {json.loads(f'"{n}"') for n in names}


def heat_points(page: str) -> list:
    """[lat, lon] of each point of the incident heat layer (empty when the page has none)."""
    match = re.search(r"L\.heatLayer\(\s*(\[.*?\])\s*,\s*\{", page, flags=re.S)
    return json.loads(match.group(1)) if match else []


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "iframe") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"])


def asset_urls(page: str) -> list[str]:
    """URLs the page loads by itself: script/img/iframe src, link href, and url(…) in its styles."""
    parser = _Assets()
    parser.feed(page)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", page, flags=re.S)
    css = [u for s in styles for u in re.findall(r"url\(['\"]?([^)'\"]+)", s)]
    return parser.urls + css
