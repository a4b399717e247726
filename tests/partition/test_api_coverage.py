"""GET /api/v1/coverage over HTTP: findings as GeoJSON, output CRS, bad input, access."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import shapely
import shapely.geometry

from gridmap.settings import Settings
from tests.conftest import SESSION_TAG, LiveServer
from tests.support.coverage_layers import CV, DD, EXPECTED, EXPECTED_COMMUNITY, load_layers
from tests.support.helpers import create_database, drop_database


@pytest.fixture(scope="module")
def layers_url(server_url: str, empty_template: str, tmp_path_factory) -> Iterator[str]:
    name = f"gm_api_coverage_{SESSION_TAG}"  # one per session: sessions may share the server
    url = create_database(server_url, name, empty_template)
    load_layers(url, tmp_path_factory.mktemp("api_coverage"))
    yield url
    drop_database(server_url, name)


@pytest.fixture(scope="module")
def api(layers_url: str) -> Iterator[httpx.Client]:
    with LiveServer(Settings(database_url=layers_url, rate_limit_anonymous=0)) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield client


def test_findings_as_geojson(api):
    r = api.get("/api/v1/coverage", params={"area": CV})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection"
    found = {(f["properties"]["problem"], tuple(f["properties"]["codes"])) for f in body["features"]}
    assert found == EXPECTED_COMMUNITY
    assert body["summary"]["errors"] == 6 and body["summary"]["ok"] is False
    gap = next(f for f in body["features"] if f["properties"]["problem"] == "gap")
    assert gap["geometry"]["type"] in ("Polygon", "MultiPolygon") and gap["properties"]["severity"] == "error"
    assert gap["properties"]["area_m2"] > 5000
    whole_city = api.get("/api/v1/coverage").json()
    assert {(f["properties"]["problem"], tuple(f["properties"]["codes"])) for f in whole_city["features"]} == EXPECTED


def test_output_crs_and_parameters(api):
    wgs = api.get("/api/v1/coverage", params={"area": CV}).json()
    gcj = api.get("/api/v1/coverage", params={"area": CV, "crs": "gcj02"}).json()
    x0 = shapely.get_coordinates(shapely.geometry.shape(wgs["features"][0]["geometry"]))[0]
    x1 = shapely.get_coordinates(shapely.geometry.shape(gcj["features"][0]["geometry"]))[0]
    assert 0.002 < abs(x1 - x0).sum() < 0.01  # GCJ-02 is shifted a few hundred metres
    wide = api.get("/api/v1/coverage", params={"area": CV, "min": 30, "max": 60}).json()
    assert wide["summary"]["problems"]["out_of_band"] == 1
    loose = api.get("/api/v1/coverage", params={"area": CV, "gap_m2": 100_000}).json()
    assert loose["summary"]["problems"]["gap"] == 0 and loose["summary"]["problems"]["overlap"] == 0


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"area": "440309902999"}, 404, "no area has code"),
        ({"area": "12ab"}, 422, "not an area code"),
        ({"area": DD}, 422, "micro-grid"),
        ({"area": CV, "min": 60, "max": 50}, 422, "min"),
        ({"area": CV, "gap_m2": -1}, 422, "gap_m2"),
        ({"area": CV, "gap_m2": "nan"}, 422, "gap_m2"),
        ({"area": CV, "crs": "epsg3857"}, 422, "crs"),
        ({"area": CV, "colour": "red"}, 422, "colour"),
    ],
)
def test_bad_input_is_refused(api, params, status, says):
    r = api.get("/api/v1/coverage", params=params)
    assert r.status_code == status, r.text
    assert says in r.text


def test_closed_lookups_need_credentials(layers_url):
    with LiveServer(Settings(database_url=layers_url, public_lookup=False, rate_limit_anonymous=0)) as server:
        r = httpx.get(server.url + "/api/v1/coverage", params={"area": CV}, timeout=30)
    assert r.status_code == 401
