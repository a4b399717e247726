"""GET/POST /api/v1/lookup over real HTTP on the demo city: chains, CRS twins, batches, bad input."""

from __future__ import annotations

import json

import pytest
import shapely

from gridmap.coords import from_wgs84
from tests.support.helpers import connect


@pytest.fixture(scope="module")
def interiors(demo_db_shared) -> list[tuple[str, float, float]]:
    """(code, lon, lat) of an interior point of 40 demo micro-grids that hold whole buildings."""
    with connect(demo_db_shared) as conn:
        rows = conn.execute(
            """SELECT a.code, ST_AsBinary(a.geom) FROM area a
               WHERE a.level = 'microgrid' AND a.valid_to IS NULL
                 AND NOT EXISTS (SELECT 1 FROM microgrid_member m WHERE m.microgrid_id = a.id
                                 AND (m.unit_from IS NOT NULL OR m.floor_from IS NOT NULL))
               ORDER BY md5(a.code) LIMIT 40"""
        ).fetchall()
    out = []
    for code, wkb in rows:
        # a point well inside, so that a sub-centimetre CRS round trip cannot cross an edge
        inner = shapely.from_wkb(wkb).buffer(-0.00002)
        p = (inner if not inner.is_empty else shapely.from_wkb(wkb)).point_on_surface()
        out.append((code, p.x, p.y))
    return out


def test_one_point_full_chain(live_api, interiors):
    code, lon, lat = interiors[0]
    r = live_api.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["match"] == "inside" and body["microgrid"]["code"] == code
    assert body["grid"]["code"] == code[:15] and body["community"]["code"] == code[:12]
    assert body["subdistrict"]["code"] == code[:9]
    assert body["party_cell"]["code"].startswith(code[:15])
    assert {p["role"] for p in body["people"]} == {"microgrid_worker", "building_chief", "cell_leader", "grid_worker"}
    assert body["point"] == {"lon": lon, "lat": lat, "crs": "wgs84", "wgs84": [lon, lat]}


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_chinese_crs_twins_land_in_the_same_micro_grid(live_api, interiors, crs):
    assert interiors, "no demo micro-grids to look up"
    for code, lon, lat in interiors:
        x, y = from_wgs84(lon, lat, crs)
        assert abs(x - lon) + abs(y - lat) > 0.001  # really shifted (≈100–700 m)
        body = live_api.get("/api/v1/lookup", params={"lon": x, "lat": y, "crs": crs}).json()
        assert body["microgrid"]["code"] == code, (crs, code)
        # and read naively as WGS-84 the same numbers land elsewhere
        naive = live_api.get("/api/v1/lookup", params={"lon": x, "lat": y}).json()
        assert (naive["microgrid"] or {}).get("code") != code


def test_batch_in_gcj02_keeps_order_and_ids(live_api, interiors):
    points = [{"id": f"p{i}", "lon": from_wgs84(lon, lat, "gcj02")[0], "lat": from_wgs84(lon, lat, "gcj02")[1]}
              for i, (_, lon, lat) in enumerate(interiors)][::-1]  # fmt: skip
    points.insert(3, {"id": 99, "lon": 100.0, "lat": 30.0})
    r = live_api.post("/api/v1/lookup", params={"crs": "gcj02"}, json=points)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [b["id"] for b in body] == [p["id"] for p in points]
    expected = [c for c, _, _ in interiors][::-1]
    expected.insert(3, None)
    assert [(b["microgrid"] or {}).get("code") for b in body] == expected
    assert body[3]["match"] == "unassigned" and body[3]["owner"] is None


def test_batch_over_the_limit_is_refused(live_api):
    r = live_api.post("/api/v1/lookup", json=[{"lon": 114.04, "lat": 22.62}] * 10_001)
    assert r.status_code == 422 and r.json()["error"]["field"] == "points"
    assert "10000" in r.json()["error"]["message"]


def test_layer_all_answers_every_layer(live_api, interiors):
    _, lon, lat = interiors[0]
    body = live_api.get("/api/v1/lookup", params={"lon": lon, "lat": lat, "layer": "all"}).json()
    assert [r["layer"] for r in body["layers"]] == ["comprehensive"]


def test_at_in_the_past_before_the_city_existed(live_api, interiors):
    _, lon, lat = interiors[0]
    body = live_api.get("/api/v1/lookup", params={"lon": lon, "lat": lat, "at": "2000-01-01"}).json()
    assert body["match"] == "unassigned" and body["owner"] is None


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"lat": 22.6}, "lon", "required"),
        ({"lon": "nan", "lat": 22.6}, "lon", "finite"),
        ({"lon": "inf", "lat": 22.6}, "lon", "finite"),
        ({"lon": 114.0, "lat": "-Infinity"}, "lat", "finite"),
        ({"lon": 22.6, "lat": 114.0}, "lat", "swapped"),
        ({"lon": 190, "lat": 22.6}, "lon", "[-180, 180]"),
        ({"lon": "abc", "lat": 22.6}, "lon", "number"),
        ({"lon": 114.0, "lat": 22.6, "crs": "epsg3857"}, "crs", "wgs84, gcj02, bd09"),
        ({"lon": 114.0, "lat": 22.6, "at": "last tuesday"}, "at", "ISO-8601"),
        ({"lon": 114.0, "lat": 22.6, "layer": "nope"}, "layer", "known layers"),
        ({"lon": 114.0, "lat": 22.6, "unit": 0}, "unit", "greater than or equal"),
        ({"lon": 114.0, "lat": 22.6, "lng": 1}, "lng", "unknown query parameter"),
    ],
)
def test_bad_single_lookups_get_422_naming_the_field(live_api, params, field, words):
    r = live_api.get("/api/v1/lookup", params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('[{"lon": 114.0, "lat": 22.6}, {"lon": 114.0, "lat": NaN}]', "[1].lat", "finite"),
        ('[{"lon": 114.0, "lat": 22.6, "x": 1}]', "[0].x", "unknown field"),
        ('[{"lon": 114.0}]', "[0].lat", "required"),
        ('{"points": []}', "body", "list"),
        ('[{"lon": 114.0, "lat": ', "body", "not valid JSON"),
        ('[{"lon": 22.6, "lat": 114.0}]', "[0].lat", "swapped"),
    ],
)
def test_bad_batches_get_422_naming_the_point(live_api, body, field, words):
    r = live_api.post("/api/v1/lookup", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error


def test_oversize_body_gets_413(live_api):
    big = json.dumps([{"lon": 114.0, "lat": 22.6, "id": "x" * 100}] * 40_000)
    r = live_api.post("/api/v1/lookup", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_empty_batch_is_an_empty_answer(live_api):
    r = live_api.post("/api/v1/lookup", json=[])
    assert r.status_code == 200 and r.json() == []


def test_openapi_documents_the_lookup_contract(live_api):
    spec = live_api.get("/openapi.json").json()
    assert {"/api/v1/lookup", "/api/v1/area", "/api/v1/areas", "/api/v1/areas/{area_id}",
            "/api/v1/areas/{area_id}/children", "/api/v1/code/{code}"} <= set(spec["paths"])  # fmt: skip
    assert "LookupRecord" in spec["components"]["schemas"]
