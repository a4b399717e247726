"""Vector tiles over HTTP, decoded with mapbox-vector-tile: the right features, properties, cache headers."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import mapbox_vector_tile
import psycopg
import pytest

from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.access_setup import add_principal
from tests.support.incident_setup import seed_incidents, spots

MVT = "application/vnd.mapbox-vector-tile"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


@pytest.fixture(scope="module")
def world(demo_db_module: str) -> Iterator[tuple[httpx.Client, str, list]]:
    with psycopg.connect(demo_db_module) as conn:
        places = spots(conn, 3)
    lon, lat, _ = places[0]
    rows = [dict(lon=lon, lat=lat, category="road", description=f"坑洼 {i}", reported_at="2026-11-02T09:00:00+08:00",
                 external_id=f"T{i}", **({"closed_at": "2026-11-03T09:00:00+08:00"} if i == 0 else {}))
            for i in range(3)]  # fmt: skip
    seed_incidents(demo_db_module, rows)
    with LiveServer(Settings(database_url=demo_db_module, rate_limit_anonymous=0)) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield client, demo_db_module, places


def _codes_near(url: str, level: str, z: int, x: int, y: int, margin: float) -> set[str]:
    with psycopg.connect(url) as conn:
        return {c for (c,) in conn.execute(
            "SELECT code FROM area WHERE level = %s AND valid_to IS NULL"
            " AND ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(%s, %s, %s, margin => %s))",
            (level, z, x, y, margin),
        )}  # fmt: skip


@pytest.mark.parametrize(("layer", "level", "z"), [("microgrids", "microgrid", 15), ("grids", "grid", 13),
                                                   ("communities", "community", 12)])  # fmt: skip
def test_tiles_hold_the_areas_of_their_square(world, layer, level, z):
    api, url, places = world
    x, y = tile_of(places[1][0], places[1][1], z)
    r = api.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
    assert r.status_code == 200 and r.headers["content-type"] == MVT
    decoded = mapbox_vector_tile.decode(r.content)
    features = decoded[layer]["features"]
    codes = {f["properties"]["code"] for f in features}
    # every area inside the square is there; nothing beyond the 64/4096 buffer is
    assert _codes_near(url, level, z, x, y, 0) <= codes <= _codes_near(url, level, z, x, y, 64 / 4096 + 1e-3)
    assert len(codes) == len(features)
    if layer == "microgrids":
        assert places[1][2] in codes


def test_properties_and_geometry_are_right(world):
    api, url, places = world
    lon, lat, code = places[0]
    z = 16
    x, y = tile_of(lon, lat, z)
    with psycopg.connect(url, autocommit=True) as conn:
        viewer = add_principal(conn, Settings(), "tile-viewer", "viewer", [], is_key=True)
    tile = api.get(f"/tiles/microgrids/{z}/{x}/{y}.mvt", headers={"Authorization": f"Bearer {viewer}"})
    assert tile.headers["cache-control"].startswith("private")
    features = mapbox_vector_tile.decode(tile.content)["microgrids"]["features"]
    mine = next(f for f in features if f["properties"]["code"] == code)
    with psycopg.connect(url) as conn:
        households = conn.execute(
            "SELECT h.households FROM area a JOIN area_households h ON h.id = a.id"
            " WHERE a.code = %s AND a.valid_to IS NULL",
            (code,),
        ).fetchone()[0]  # fmt: skip
    assert mine["properties"]["households"] == households
    assert mine["properties"]["incidents"] == 3 and mine["properties"]["open_incidents"] == 2
    others = [f for f in features if f["properties"]["code"] != code]
    assert all(f["properties"]["incidents"] == 0 for f in others if f["properties"]["code"] not in
               {p[2] for p in places})  # fmt: skip
    # The point lies inside the decoded polygon (tile pixels, y up as the decoder gives them).
    import shapely

    n = 2**z
    px = ((lon + 180) / 360 * n - x) * 4096
    py = 4096 - ((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n - y) * 4096
    assert shapely.geometry.shape(mine["geometry"]).buffer(2).contains(shapely.Point(px, py))


def test_buildings_tile(world):
    api, url, places = world
    z = 16
    x, y = tile_of(places[2][0], places[2][1], z)
    features = mapbox_vector_tile.decode(api.get(f"/tiles/buildings/{z}/{x}/{y}.mvt").content)["buildings"]["features"]
    assert features
    with psycopg.connect(url) as conn:
        expected = {c for (c,) in conn.execute(
            "SELECT code FROM building WHERE ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(%s, %s, %s))",
            (z, x, y),
        )}  # fmt: skip
    got = {f["properties"]["code"]: f["properties"] for f in features}
    assert expected <= got.keys()
    assert all(p["microgrid"] and len(p["microgrid"]) == 18 for p in got.values() if p["households"])


def test_cache_headers_and_revalidation(world):
    api, _, places = world
    x, y = tile_of(places[0][0], places[0][1], 15)
    first = api.get(f"/tiles/grids/15/{x}/{y}.mvt")
    assert "max-age" in first.headers["cache-control"] and first.headers["etag"].startswith('"')
    again = api.get(f"/tiles/grids/15/{x}/{y}.mvt", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = api.get(f"/tiles/microgrids/15/{x}/{y}.mvt", headers={"If-None-Match": first.headers["etag"]})
    assert other.status_code == 200


def test_empty_below_the_layers_zoom_and_far_away(world):
    api, _, places = world
    x, y = tile_of(places[0][0], places[0][1], 8)
    low = api.get(f"/tiles/microgrids/8/{x}/{y}.mvt")
    assert low.status_code == 200 and low.content == b""
    assert api.get("/tiles/grids/14/0/0.mvt").content == b""  # the Arctic holds no grids


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tiles/roads/14/1/1.mvt", 404),
        ("/tiles/grids/23/1/1.mvt", 422),
        ("/tiles/grids/3/8/1.mvt", 422),
        ("/tiles/grids/3/1/-1.mvt", 422),
        ("/tiles/grids/3/1/x.mvt", 422),
        ("/tiles/grids/14/1/1.mvt?layer=nope", 422),
        ("/tiles/grids/14/1/1.mvt?zoom=3", 422),
    ],
)
def test_bad_tile_addresses(world, path, status):
    api, _, _ = world
    r = api.get(path)
    assert r.status_code == status, r.text


def test_incident_counts_in_tiles_follow_the_callers_jurisdiction(world):
    """Anonymous callers and intake keys count no cases; a viewer scoped to another community counts none
    of these; one scoped to their community counts them all."""
    api, url, places = world
    lon, lat, code = places[0]
    x, y = tile_of(lon, lat, 16)
    with psycopg.connect(url, autocommit=True) as conn:
        own, other = [c for (c,) in conn.execute(
            "SELECT code FROM area WHERE valid_to IS NULL AND level = 'community'"
            " ORDER BY code <> left(%s, 12), code LIMIT 2", (code,))]  # fmt: skip
        tokens = {
            "intake": add_principal(conn, Settings(), "tile-intake", "intake", [], is_key=True),
            "own": add_principal(conn, Settings(), "tile-own", "viewer", [own], is_key=True),
            "other": add_principal(conn, Settings(), "tile-other", "viewer", [other], is_key=True),
        }
    seen = {}
    for who in (None, *tokens):
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        r = api.get(f"/tiles/microgrids/16/{x}/{y}.mvt", headers=headers)
        assert r.status_code == 200, r.text
        features = mapbox_vector_tile.decode(r.content)["microgrids"]["features"]
        seen[who] = next(f["properties"]["incidents"] for f in features if f["properties"]["code"] == code)
    assert seen == {None: 0, "intake": 0, "own": 3, "other": 0}
