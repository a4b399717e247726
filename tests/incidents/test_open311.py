"""Open311 GeoReport v2: documents checked against the spec's field lists, JSON and XML, errors in the
spec's shape, POST with an API key in the form; the public view (anonymous, intake keys, staff outside the
case's jurisdiction) holds no internal note, building, address, description or exact point."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import psycopg
import pytest

from gridmap.settings import Settings
from tests.support.access_setup import add_principal
from tests.support.incident_setup import act, auth, spots

# GeoReport v2 (wiki.open311.org/GeoReport_v2): the members of each document.
SERVICE = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
           "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
           "address", "address_id", "zipcode", "lat", "long", "media_url"}  # fmt: skip
# What anyone may see of a request: no description, address, building, photo, agency or deadline.
PUBLIC = {"service_request_id", "status", "status_notes", "service_name", "service_code", "requested_datetime",
          "updated_datetime", "lat", "long"}  # fmt: skip


@pytest.fixture(scope="module")
def api(access_api):
    client, url, tokens, own, foreign = access_api
    with psycopg.connect(url, autocommit=True) as conn:
        key = add_principal(conn, Settings(), "o311", "intake", [], is_key=True)
        scoped = add_principal(conn, Settings(), "d2", "dispatcher", [foreign.community])
        tokens = tokens | {"o311": key, "foreign_dispatcher": scoped}
        points = iter(spots(conn, 10))
    return client, key, points, tokens, url, own


def create(client, key, lon, lat, extra=None):
    form = {"api_key": key, "service_code": "streetlight", "lat": str(lat), "long": str(lon),
            "description": "路灯不亮", "first_name": "王", "phone": "13700000000"} | (extra or {})  # fmt: skip
    return client.post("/open311/v2/requests.json", data=form)


def test_services(api):
    client, key, points, tokens, _, _ = api
    services = client.get("/open311/v2/services.json").json()
    assert services and all(set(s) == SERVICE for s in services)
    assert {"streetlight", "sanitation"} <= {s["service_code"] for s in services}
    xml = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert xml.tag == "services" and {c.tag for c in xml[0]} == SERVICE
    definition = client.get("/open311/v2/services/streetlight.json").json()
    assert definition == {"service_code": "streetlight", "attributes": []}
    assert ET.fromstring(client.get("/open311/v2/services/streetlight.xml").content).tag == "service_definition"


def test_create_read_and_token(api):
    client, key, points, tokens, _, _ = api
    lon, lat, _ = next(points)
    r = create(client, key, lon, lat)
    assert r.status_code == 201, r.text
    (made,) = r.json()
    assert set(made) == {"service_request_id", "token", "service_notice", "account_id"}
    (public,) = client.get(f"/open311/v2/requests/{made['service_request_id']}.json").json()
    assert set(public) == PUBLIC and public["status"] == "open" and public["service_code"] == "streetlight"
    assert (public["lat"], public["long"]) == (round(lat, 3), round(lon, 3))
    (one,) = client.get(f"/open311/v2/requests/{made['service_request_id']}.json", headers=auth(tokens, "admin")).json()
    assert set(one) == REQUEST and one["status"] == "open" and one["service_code"] == "streetlight"
    assert abs(one["lat"] - lat) < 1e-6 and abs(one["long"] - lon) < 1e-6
    assert one["agency_responsible"] and one["expected_datetime"] > one["requested_datetime"]
    (tok,) = client.get(f"/open311/v2/tokens/{made['token']}.json").json()
    assert tok == {"service_request_id": made["service_request_id"], "token": made["token"]}
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{made['service_request_id']}.xml").content)
    assert xml.tag == "service_requests" and {c.tag for c in xml.find("request")} == PUBLIC
    listed = client.get("/open311/v2/requests.json", params={"service_code": "streetlight", "status": "open"}).json()
    assert made["service_request_id"] in {x["service_request_id"] for x in listed}
    assert all(set(x) == PUBLIC and x["status"] == "open" for x in listed)
    closed = client.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert made["service_request_id"] not in {x["service_request_id"] for x in closed}


def test_a_repeat_gets_the_open_request(api):
    client, key, points, tokens, _, _ = api
    lon, lat, _ = next(points)
    first = create(client, key, lon, lat).json()[0]
    again = create(client, key, lon + 0.0001, lat).json()[0]
    assert again["service_request_id"] == first["service_request_id"] and again["service_notice"]


@pytest.mark.parametrize(
    ("form", "status"),
    [({"api_key": "gmk_wrong"}, 401), ({"api_key": ""}, 401), ({"service_code": ""}, 400),
     ({"service_code": "ufo"}, 400), ({"lat": "north"}, 400), ({"colour": "red"}, 400)],
)  # fmt: skip
def test_errors_follow_the_spec(api, form, status):
    client, key, points, tokens, _, _ = api
    r = create(client, key, 114.03, 22.62, form)
    assert r.status_code == status
    (error,) = r.json()
    assert set(error) == {"code", "description"} and error["code"] == status
    xml = client.post("/open311/v2/requests.xml", data={"api_key": key, "service_code": "ufo", "lat": "22.6",
                                                        "long": "114.0", "description": "x"})  # fmt: skip
    assert xml.status_code == 400 and ET.fromstring(xml.content).find("error/code").text == "400"


def test_missing_things_are_404_in_the_spec_shape(api):
    client, key, points, tokens, _, _ = api
    r = client.get("/open311/v2/requests/99999999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert client.get("/open311/v2/tokens/nope.xml").status_code == 404
    assert client.get("/open311/v2/services/ufo.json").status_code == 404


def test_the_public_sees_no_internal_note_building_or_exact_point(api):
    client, key, points, tokens, url, own = api
    lon, lat, _ = next(points)
    made = create(client, key, lon, lat, {"address_string": "民乐新村3栋", "first_name": "王", "last_name": "五"})
    incident_id = int(made.json()[0]["service_request_id"])
    with psycopg.connect(url) as conn:  # moved into a building of the own community, not the foreign one
        building = conn.execute("SELECT code FROM building WHERE id = %s", (own.building_id,)).fetchone()[0]
    for action, extra in (("reroute", {"building": building}), ("dispatch", {"note": "内部：先找物业"}),
                          ("accept", {}), ("reply", {"note": "已修复，谢谢反映"}), ("verify", {}),
                          ("reopen", {"note": "内部：回访不满意"})):  # fmt: skip
        r = act(client, tokens, "dispatcher", incident_id, action, **extra)
        assert r.status_code == 200, (action, r.text)
    callers = {"anonymous": None, "intake key": "o311", "dispatcher of another community": "foreign_dispatcher"}
    for caller, who in callers.items():
        (one,) = client.get(f"/open311/v2/requests/{incident_id}.json", headers=auth(tokens, who)).json()
        listed = client.get("/open311/v2/requests.json", params={"service_request_id": str(incident_id)},
                            headers=auth(tokens, who)).json()  # fmt: skip
        page = client.get("/open311/v2/requests.json", params={"page_size": 500}, headers=auth(tokens, who)).json()
        xml = client.get(f"/open311/v2/requests/{incident_id}.xml", headers=auth(tokens, who)).text
        assert listed == [one] and one in page, caller
        assert set(one) == PUBLIC, caller
        assert one["status_notes"] == "已修复，谢谢反映", caller  # the public reply, not the later internal note
        for text in (str(one), str(page), xml):
            assert "内部" not in text and building not in text and "民乐新村" not in text and "路灯不亮" not in text
            assert "13700000000" not in text and "王" not in text, caller
        assert all(len(str(x["lat"]).split(".")[-1]) <= 3 for x in page if x["lat"] is not None)
    (staff,) = client.get(f"/open311/v2/requests/{incident_id}.json", headers=auth(tokens, "dispatcher")).json()
    assert set(staff) == REQUEST and staff["address_id"] == building and staff["status_notes"] == "内部：回访不满意"
