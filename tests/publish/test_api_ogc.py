"""OGC API – Features at /ogc, read by a real client library (OWSLib) and checked against the
standard's requirements: landing page, conformance, collections, paged items, single features, 400s."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
from owslib.ogcapi.features import Features

from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.access_setup import communities, make_principals
from tests.support.incident_setup import seed_incidents, spots

AREA_COLLECTIONS = {"subdistricts": "subdistrict", "communities": "community", "grids": "grid",
                    "microgrids": "microgrid"}  # fmt: skip


@pytest.fixture(scope="module")
def world(demo_db_module: str) -> Iterator[tuple[str, str, dict]]:
    own, foreign = communities(demo_db_module)
    with psycopg.connect(demo_db_module) as conn:
        places = spots(conn, 40)
        code_of = {c: conn.execute("SELECT substr(%s, 1, 12)", (c,)).fetchone()[0] for _, _, c in places}
    mine = [p for p in places if code_of[p[2]] == own.community][:2]
    theirs = [p for p in places if code_of[p[2]] == foreign.community][:1]
    assert mine and theirs
    rows = [dict(lon=x, lat=y, category="road", description="路面破损", external_id=f"OGC{i}",
                 reported_at=f"2026-11-0{i + 1}T09:00:00+08:00")
            for i, (x, y, _) in enumerate(mine + theirs)]  # fmt: skip
    seed_incidents(demo_db_module, rows)
    settings = Settings(database_url=demo_db_module, rate_limit_anonymous=0)
    tokens = make_principals(demo_db_module, own.community, settings)
    with LiveServer(settings) as server:
        yield server.url, demo_db_module, tokens


def test_landing_page_and_conformance(world):
    url, _, _ = world
    api = Features(url + "/ogc")
    rels = {link["rel"]: link for link in api.links}
    assert {"self", "service-desc", "conformance", "data"} <= rels.keys()
    assert httpx.get(rels["service-desc"]["href"]).json()["openapi"].startswith("3.")
    conforms = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conforms


def test_collections_list_each_level_and_buildings(world):
    url, db, _ = world
    api = Features(url + "/ogc")
    assert api.feature_collections() == [*AREA_COLLECTIONS, "buildings"]  # incidents need a signed-in role
    for cid in api.feature_collections():
        c = api.collection(cid)
        assert c["id"] == cid and c["itemType"] == "feature"
        assert {link["rel"] for link in c["links"]} >= {"self", "items"}
        west, south, east, north = c["extent"]["spatial"]["bbox"][0]
        assert 113.9 < west < east < 114.2 and 22.5 < south < north < 22.8


@pytest.mark.parametrize("cid", [*AREA_COLLECTIONS, "buildings"])
def test_paging_through_a_bbox_returns_each_feature_once(world, cid):
    url, db, _ = world
    bbox = [114.02, 22.62, 114.035, 22.635]
    with psycopg.connect(db) as conn:
        if cid in AREA_COLLECTIONS:
            expected = {
                i
                for (i,) in conn.execute(
                    "SELECT id FROM area WHERE level = %s AND valid_to IS NULL"
                    " AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))",
                    (AREA_COLLECTIONS[cid], *bbox),
                )
            }
        else:
            expected = {i for (i,) in conn.execute(
                "SELECT id FROM building WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)", bbox)}  # fmt: skip
    assert expected
    page = Features(url + "/ogc").collection_items(cid, bbox=bbox, limit=50)
    seen: list = []
    while True:
        assert page["type"] == "FeatureCollection" and page["numberMatched"] == len(expected)
        assert page["numberReturned"] == len(page["features"]) <= 50
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        r = httpx.get(nxt[0])
        assert r.headers["content-type"].startswith("application/geo+json")
        page = r.json()
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_one_feature_and_its_properties(world):
    url, db, _ = world
    api = Features(url + "/ogc")
    first = api.collection_items("microgrids", limit=1)["features"][0]
    again = api.collection_item("microgrids", str(first["id"]))
    assert again["id"] == first["id"] and again["properties"]["code"] == first["properties"]["code"]
    assert len(again["properties"]["code"]) == 18 and again["properties"]["parent"] == again["properties"]["code"][:15]
    assert isinstance(again["properties"]["households"], int)
    assert {link["rel"] for link in again["links"]} == {"self", "collection"}
    for wrong in (f"/ogc/collections/grids/items/{first['id']}", "/ogc/collections/microgrids/items/abc",
                  "/ogc/collections/microgrids/items/999999999", "/ogc/collections/roads/items"):  # fmt: skip
        assert httpx.get(url + wrong).status_code == 404, wrong
    building = api.collection_items("buildings", limit=1)["features"][0]
    assert api.collection_item("buildings", str(building["id"]))["properties"]["code"] == building["properties"]["code"]


def test_datetime_instant_selects_area_versions(world):
    url, _, _ = world
    before = httpx.get(url + "/ogc/collections/communities/items", params={"datetime": "2001-01-01T00:00:00Z"}).json()
    now = httpx.get(url + "/ogc/collections/communities/items", params={"limit": 100}).json()
    assert before["numberMatched"] == 0 and now["numberMatched"] == 12


def test_incidents_for_signed_in_staff_within_jurisdiction(world):
    url, db, tokens = world
    anonymous = httpx.get(url + "/ogc/collections/incidents/items")
    assert anonymous.status_code == 404  # not listed, not readable
    admin = Features(url + "/ogc", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert "incidents" in admin.feature_collections()
    every = admin.collection_items("incidents", limit=100)
    assert every["numberMatched"] == 3
    assert all(set(f["properties"]) >= {"category", "state", "received_at", "microgrid"} for f in every["features"])
    assert not any("reporter" in k for f in every["features"] for k in f["properties"])
    window = admin.collection_items("incidents", datetime_="2026-11-01T00:00:00+08:00/2026-11-02T12:00:00+08:00")
    assert window["numberMatched"] == 2
    open_end = httpx.get(url + "/ogc/collections/incidents/items", params={"datetime": "2026-11-02T12:00:00Z/.."},
                         headers={"Authorization": f"Bearer {tokens['admin']}"}).json()  # fmt: skip
    assert open_end["numberMatched"] == 1
    planner = httpx.get(url + "/ogc/collections/incidents/items",
                        headers={"Authorization": f"Bearer {tokens['planner']}"}).json()  # fmt: skip
    assert planner["numberMatched"] == 2  # only their own community's cases


@pytest.mark.parametrize(
    "query",
    [
        {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "114,23,113,22"}, {"bbox": "0,0,0,nan"},
        {"limit": 0}, {"limit": "ten"}, {"limit": 10_001}, {"offset": -1}, {"colour": "red"}, {"f": "xml"},
        {"datetime": "yesterday"}, {"datetime": "2026-01-01/2026-02-01"},
    ],
)  # fmt: skip
def test_bad_parameters_get_400(world, query):
    url, _, _ = world
    r = httpx.get(url + "/ogc/collections/microgrids/items", params=query)
    assert r.status_code == 400, (query, r.status_code, r.text)
    assert r.json()["error"]["message"]


def test_limit_is_cut_not_refused(world):
    url, _, _ = world
    r = httpx.get(url + "/ogc/collections/microgrids/items", params={"limit": 5000})
    assert r.status_code == 200 and r.json()["numberReturned"] == 1000
