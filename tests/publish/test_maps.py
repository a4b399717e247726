"""Rendered maps: each kind holds the expected layers and features, stays offline, escapes user text;
the CLI writes them; the API serves them with their size and a policy that blocks outside loads."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import shapely

from gridmap.errors import InvalidInput
from gridmap.partition.coverage import check
from gridmap.publish.maps.assets import VENDOR
from gridmap.publish.maps.render import MapOptions, render
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.access_setup import add_principal, make_principals
from tests.support.helpers import GRIDMAP_COMMAND
from tests.support.map_setup import (
    COMMUNITY,
    asset_urls,
    collections,
    heat_points,
    layer_names,
    microgrid_codes,
    prepare,
)


@pytest.fixture(scope="module")
def city(demo_db_module: str) -> Iterator[tuple[str, dict]]:
    yield demo_db_module, prepare(demo_db_module)


def _render(url: str, kind: str, area: str = COMMUNITY, **options) -> str:
    with psycopg.connect(url) as conn:
        return render(conn, kind, area, MapOptions(**options)).html


def _microgrid_layer(page: str) -> dict:
    layers = [c for c in collections(page)
              if c["features"] and len(c["features"][0]["properties"].get("code", "")) == 18]  # fmt: skip
    assert len(layers) == 1, "micro-grids are drawn once"
    return layers[0]


def test_density_map_colours_every_micro_grid_by_households(city):
    url, _ = city
    page = _render(url, "density")
    layer = _microgrid_layer(page)
    assert {f["properties"]["code"] for f in layer["features"]} == microgrid_codes(url)
    for f in layer["features"]:
        p = f["properties"]
        in_band = 30 <= p["households"] <= 50
        assert (p["_households"] == "#1a9641") == in_band, p  # green exactly for the band
        assert p["_per_km2"].startswith("#")
    assert {"households 户数", "households per km² 户/km²"} <= layer_names(page)
    assert "quintiles" in page and "1–29" in page  # legends of both colourings
    assert heat_points(page) == []  # no incident layer on a density map


def test_incident_map_counts_filters_and_heat(city):
    url, seeded = city
    page = _render(url, "incidents")
    counts = {f["properties"]["code"]: f["properties"]["incidents"] for f in _microgrid_layer(page)["features"]}
    routed = [p[2] for p in seeded["places"]]
    assert sum(counts.values()) == 3 and all(counts[c] == 1 for c in routed)
    assert len(heat_points(page)) == 3
    roads = _render(url, "incidents", category="road")
    assert len(heat_points(roads)) == 2
    early = _render(url, "incidents", until=datetime.fromisoformat("2026-10-02T00:00:00+08:00"))
    assert len(heat_points(early)) == 1
    layer = {f["properties"]["code"]: f["properties"] for f in _microgrid_layer(early)["features"]}
    assert layer[routed[0]]["incidents"] == 1 and layer[routed[1]]["incidents"] == 0


def test_unassigned_map_shows_every_coverage_problem(city):
    url, _ = city
    page = _render(url, "unassigned")
    with psycopg.connect(url) as conn:
        report = check(conn, COMMUNITY)
    names = layer_names(page)
    assert report.findings and any(report.counts.values()), "the demo community should have coverage problems to draw"
    for problem, n in report.counts.items():
        if n:
            assert f"{problem} ({n})" in names
    drawn = [c for c in collections(page) if c["features"] and "problem" in c["features"][0]["properties"]]
    assert sum(len(c["features"]) for c in drawn) == len(report.findings)


def test_overview_has_every_layer_and_tooltips(city):
    url, _ = city
    page = _render(url, "overview")
    names = layer_names(page)
    assert {"households 户数", "households per km² 户/km²", "incidents 事件数", "incident heat 事件热力",
            "grid outlines", "community outlines"} <= names  # fmt: skip
    layer = _microgrid_layer(page)
    assert any(f["properties"]["party_cell"] for f in layer["features"])
    assert all(json.dumps(alias)[1:-1] in page for alias in ("party cell 党小组", "worker 网格员"))  # tooltip fields
    assert len(heat_points(page)) == 3
    without = _render(url, "overview", incidents=False)
    assert "incidents 事件数" not in layer_names(without) and heat_points(without) == []


def test_user_text_is_escaped(city):
    url, _ = city
    for kind in ("density", "overview"):
        page = _render(url, kind)
        assert "window.__pwned" in page  # the payload is there…
        assert "<script>window.__pwned" not in page and "<img src=x" not in page  # …but never as markup
        # HTML-escaped, then JSON-escaped by folium (& → \u0026): shown as text, never run
        assert "\\u0026lt;script\\u0026gt;window.__pwned=1\\u0026lt;/script\\u0026gt;" in page


@pytest.mark.parametrize("mode", ["inline", "link"])
def test_no_asset_comes_from_outside(city, mode):
    url, _ = city
    page = _render(url, "overview", assets=mode)
    urls = asset_urls(page)
    assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    if mode == "link":
        served = [u for u in urls if not u.startswith("data:")]
        assert served and all(u.startswith("/static/vendor/") for u in served)
        assert all((VENDOR / u.removeprefix("/static/vendor/")).is_file() for u in served)
    else:
        assert not [u for u in urls if not u.startswith(("data:", "#"))]  # "#default#VML": old IE behaviour


def test_base_map_is_optional_and_gcj02_shifts_the_shapes(city):
    url, _ = city
    plain = _render(url, "density")
    assert "L.tileLayer" not in plain
    shifted = _render(url, "density", tiles_url="https://tiles.example/{z}/{x}/{y}.png", tiles_crs="gcj02")
    assert "L.tileLayer" in shifted and "tiles.example" in shifted
    a = shapely.geometry.shape(_microgrid_layer(plain)["features"][0]["geometry"]).centroid
    b = shapely.geometry.shape(_microgrid_layer(shifted)["features"][0]["geometry"]).centroid
    assert 0.002 < abs(a.x - b.x) + abs(a.y - b.y) < 0.01  # GCJ-02 is a few hundred metres off WGS-84


def test_too_large_or_wrong_requests_are_refused(city):
    url, seeded = city
    with pytest.raises(InvalidInput, match="vector tiles"):
        _render(url, "density", max_features=10)
    with pytest.raises(InvalidInput, match="kind"):
        _render(url, "heights")
    with pytest.raises(InvalidInput, match="micro-grid"):
        _render(url, "density", area=seeded["victim"])


def test_cli_writes_an_offline_map(city, tmp_path: Path):
    url, _ = city
    out = tmp_path / "density.html"
    env = {"GRIDMAP_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    done = subprocess.run([GRIDMAP_COMMAND, "map", "density", "--area", COMMUNITY, "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "MB" in done.stderr and out.stat().st_size > 10_000
    assert {f["properties"]["code"] for f in _microgrid_layer(out.read_text())["features"]} == microgrid_codes(url)
    bad = subprocess.run([GRIDMAP_COMMAND, "map", "density", "--area", "440309002999", "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "no area has code" in bad.stderr


def test_api_serves_maps_with_size_and_policy(city):
    url, _ = city
    settings = Settings(database_url=url, rate_limit_anonymous=0)
    tokens = make_principals(url, COMMUNITY, settings)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        r = api.get("/maps/density.html", params={"area": COMMUNITY})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert int(r.headers["x-map-bytes"]) == len(r.content) and int(r.headers["x-map-features"]) > 100
        assert "default-src 'self'" in r.headers["content-security-policy"]
        served = [u for u in asset_urls(r.text) if not u.startswith("data:")]
        assert served and all(u.startswith("/static/vendor/") for u in served)
        for u in served:
            assert api.get(u).status_code == 200
        assert api.get("/maps/incidents.html", params={"area": COMMUNITY}).status_code == 401
        anonymous = api.get("/maps/overview.html", params={"area": COMMUNITY}).text
        assert "incidents 事件数" not in layer_names(anonymous)
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        staff = api.get("/maps/overview.html", params={"area": COMMUNITY}, headers=admin).text
        assert "incidents 事件数" in layer_names(staff)
        incidents = api.get("/maps/incidents.html", params={"area": COMMUNITY, "category": "noise"}, headers=admin)
        assert incidents.status_code == 200 and len(heat_points(incidents.text)) == 1
        for params, status in (({"area": "440309002999"}, 404), ({"area": "x"}, 422), ({}, 422),
                               ({"area": COMMUNITY, "zoom": 3}, 422), ({"area": COMMUNITY, "since": "soon"}, 422),
                               ({"area": COMMUNITY, "min": 60, "max": 50}, 422)):  # fmt: skip
            assert api.get("/maps/density.html", params=params).status_code == status, params
        assert api.get("/maps/heights.html", params={"area": COMMUNITY}).status_code == 422


def test_incident_maps_follow_the_jurisdiction(city):
    """A principal scoped to one community sees only that community's cases on the incident and overview
    maps (counts and heat), whichever area it draws; anonymous pages carry no incident figures at all."""
    url, _ = city
    settings = Settings(database_url=url, rate_limit_anonymous=0)
    with psycopg.connect(url, autocommit=True) as conn:
        community_id, other = conn.execute(
            "SELECT a.id, (SELECT code FROM area WHERE level = 'community' AND valid_to IS NULL AND code <> a.code"
            " ORDER BY code LIMIT 1) FROM area a WHERE a.code = %s AND a.valid_to IS NULL",
            (COMMUNITY,),
        ).fetchone()
        located = conn.execute(
            "SELECT count(*) FROM incident WHERE geom IS NOT NULL AND %s = ANY(area_path)", (community_id,)
        ).fetchone()[0]
        tokens = {name: add_principal(conn, settings, name, "viewer", [scope], is_key=True)
                  for name, scope in (("map_own", COMMUNITY), ("map_foreign", other))}  # fmt: skip
    assert located == 3
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        for who, expected in (("map_own", located), ("map_foreign", 0)):
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            for kind in ("incidents", "overview"):
                r = api.get(f"/maps/{kind}.html", params={"area": COMMUNITY}, headers=headers)
                assert r.status_code == 200, r.text
                counts = [f["properties"]["incidents"] for f in _microgrid_layer(r.text)["features"]]
                assert sum(counts) == expected and len(heat_points(r.text)) == expected, (who, kind)
        anonymous = api.get("/maps/density.html", params={"area": COMMUNITY}).text
        assert not any(f["properties"]["incidents"] for f in _microgrid_layer(anonymous)["features"])
