"""GeoJSON area reads (/areas, /areas/{id}, /children, /code/{code}) and the area query (/area)."""

from __future__ import annotations

import pytest
import shapely

from gridmap.coords import from_wgs84
from tests.support.helpers import connect

COMMUNITY = "440309002005"


def _community_id(url: str) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT id FROM area WHERE code = %s AND valid_to IS NULL", (COMMUNITY,)).fetchone()[0]


def test_area_by_id_in_each_crs(live_api, demo_db_shared):
    area_id = _community_id(demo_db_shared)
    wgs = live_api.get(f"/api/v1/areas/{area_id}")
    assert wgs.status_code == 200 and wgs.headers["content-type"].startswith("application/geo+json")
    feature = wgs.json()
    assert feature["type"] == "Feature" and feature["properties"]["code"] == COMMUNITY
    assert feature["properties"]["parent"]["code"] == COMMUNITY[:9]
    assert feature["properties"]["households"] > 0
    first = feature["geometry"]["coordinates"][0][0][0]
    for crs in ("gcj02", "bd09"):
        shifted = live_api.get(f"/api/v1/areas/{area_id}", params={"crs": crs}).json()
        got = shifted["geometry"]["coordinates"][0][0][0]
        assert got == pytest.approx(list(from_wgs84(*first, crs)), abs=1e-9)


def test_code_redirects_to_the_area_keeping_the_query(live_api, demo_db_shared):
    area_id = _community_id(demo_db_shared)
    r = live_api.get(f"/api/v1/code/{COMMUNITY}", params={"crs": "gcj02"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == f"/api/v1/areas/{area_id}?crs=gcj02"
    assert live_api.get(r.headers["location"]).json()["properties"]["code"] == COMMUNITY


def test_list_filters_and_pages(live_api):
    first = live_api.get("/api/v1/areas", params={"level": "grid", "code": COMMUNITY, "limit": 10}).json()
    assert first["numberReturned"] == 10 and first["numberMatched"] > 10
    assert all(f["properties"]["code"].startswith(COMMUNITY) for f in first["features"])
    seen = [f["properties"]["code"] for f in first["features"]]
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = live_api.get(nxt).json()
    assert second["features"][0]["properties"]["code"] > seen[-1]
    assert any(link["rel"] == "prev" for link in second["links"])
    by_parent = live_api.get("/api/v1/areas", params={"parent": COMMUNITY, "limit": 1000}).json()
    assert by_parent["numberMatched"] == first["numberMatched"]


def test_bbox_keeps_only_areas_that_intersect_it(live_api):
    box = (114.04, 22.61, 114.045, 22.615)
    page = live_api.get("/api/v1/areas", params={"level": "microgrid", "bbox": ",".join(map(str, box)),
                                                 "limit": 1000}).json()  # fmt: skip
    assert 0 < page["numberReturned"] < 6969
    envelope = shapely.box(*box)
    assert all(shapely.geometry.shape(f["geometry"]).intersects(envelope) for f in page["features"])


def test_children(live_api, demo_db_shared):
    area_id = _community_id(demo_db_shared)
    page = live_api.get(f"/api/v1/areas/{area_id}/children", params={"limit": 1000}).json()
    assert page["numberMatched"] == page["numberReturned"] > 10
    assert {f["properties"]["level"] for f in page["features"]} == {"grid"}


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/v1/areas/999999999", {}, 404, None),
        ("/api/v1/areas/0", {}, 422, "area_id"),
        ("/api/v1/areas/abc", {}, 422, "area_id"),
        ("/api/v1/code/440309002999", {}, 404, None),
        ("/api/v1/code/12ab", {}, 422, "code"),
        ("/api/v1/areas", {"level": "street"}, 422, "level"),
        ("/api/v1/areas", {"bbox": "1,2,3"}, 422, "bbox"),
        ("/api/v1/areas", {"bbox": "114.1,22.6,114.0,22.7"}, 422, "bbox"),
        ("/api/v1/areas", {"limit": 5000}, 422, "limit"),
        ("/api/v1/areas", {"code": "44%"}, 422, "code"),
        ("/api/v1/areas", {"crs": "mars"}, 422, "crs"),
        ("/api/v1/areas", {"at": "2026-13-45"}, 422, "at"),
        ("/api/v1/areas", {"colour": "red"}, 422, "colour"),
    ],
)
def test_bad_area_reads(live_api, path, params, status, field):
    r = live_api.get(path, params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"].get("field") == field


def test_area_query_circle_totals_equal_the_sum_of_members(live_api):
    r = live_api.post("/api/v1/area", json={"lon": 114.04, "lat": 22.62, "radius_m": 300})
    assert r.status_code == 200, r.text
    body = r.json()
    totals = body["totals"]
    assert totals["microgrids"] == len(body["microgrids"]) > 0
    assert totals["households"] == sum(m["households"] for m in body["microgrids"])
    assert totals["building_households"] == sum(b["households"] for b in body["buildings"])
    assert totals["party_cells"] == len(body["party_cells"]) and totals["people"] == len(body["people"])
    assert 0.27 < body["area_km2"] < 0.29  # π·0.3²
    cells = {m["party_cell"] for m in body["microgrids"]}
    assert cells == {c["code"] for c in body["party_cells"]}
    assert {p["role"] for p in body["people"]} == {"microgrid_worker", "building_chief", "cell_leader", "grid_worker"}


def test_area_query_polygon_in_gcj02_equals_the_same_polygon_in_wgs84(live_api):
    ring = [(114.04, 22.61), (114.045, 22.61), (114.045, 22.615), (114.04, 22.615), (114.04, 22.61)]
    wgs = live_api.post("/api/v1/area", json={"geometry": {"type": "Polygon", "coordinates": [ring]}}).json()
    gcj_ring = [list(from_wgs84(x, y, "gcj02")) for x, y in ring]
    gcj = live_api.post(
        "/api/v1/area", params={"crs": "gcj02"}, json={"geometry": {"type": "Polygon", "coordinates": [gcj_ring]}}
    ).json()
    assert [m["code"] for m in gcj["microgrids"]] == [m["code"] for m in wgs["microgrids"]]
    assert gcj["totals"] == wgs["totals"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"lon": 114.04, "lat": 22.62, "radius_m": 30_000}, "over the limit"),
        ({"lon": 114.04, "lat": 22.62}, "radius_m"),
        ({"lon": 114.04, "lat": 22.62, "radius_m": -5}, "greater than 0"),
        ({"lon": 22.62, "lat": 114.04, "radius_m": 50}, "swapped"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[114.04, 22.61], [114.05, 22.61], [114.04, 22.62],
                                                            [114.03, 22.62]]]}}, "not closed"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[114.04, 22.61], [114.05, 22.61], [114.04, 22.61]]]}},
         "at least 4"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[114.04, 22.61], [114.05, 22.61], [114.04, 22.62],
                                                            [114.05, 22.62], [114.04, 22.61]]]}}, "Self-intersection"),
        ({"geometry": {"type": "Polygon", "coordinates": []}}, "empty"),
        ({"geometry": {"type": "Point", "coordinates": [114.0, 22.6]}}, "Polygon"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[114.04, 22.61], [114.05, 22.61], [114.05, 22.62],
                                                            [114.04, 22.61]]]}, "lon": 114.0}, "not both"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[114.04, 22.61], [114.05, 22.61], [114.05, 22.62],
                                                            [114.04, 22.61]]], "crs": "EPSG:3857"}}, "unknown field"),
        ({"radius": 5, "lon": 114.0, "lat": 22.6}, "unknown field"),
    ],
)  # fmt: skip
def test_bad_area_queries_get_422(live_api, body, words):
    r = live_api.post("/api/v1/area", json=body)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]["message"], r.json()
