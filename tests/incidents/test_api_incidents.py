"""Incidents over HTTP: intake by role, idempotent retries, GCJ-02, the workflow with roles and history,
jurisdiction, contacts, photos, a redraw that must not rewrite history, figures and exports, bad input."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from openpyxl import load_workbook

from gridmap.coords import from_wgs84
from gridmap.settings import Settings
from tests.support.access_setup import add_principal
from tests.support.incident_setup import act, auth, body, incident_digest, png, post, spots


@pytest.fixture(scope="module")
def api(access_api):
    """The access-control set-up plus a worker, an intake key and a dispatcher scoped to the own community."""
    client, url, tokens, own, foreign = access_api
    settings = Settings()
    with psycopg.connect(url, autocommit=True) as conn:
        tokens = dict(tokens)
        tokens["intake"] = add_principal(conn, settings, "wechat-bridge", "intake", [], is_key=True)
        tokens["worker"] = add_principal(conn, settings, "worker", "worker", [])
        tokens["local"] = add_principal(conn, settings, "local", "dispatcher", [own.community])
        points = iter(spots(conn, 40))
    return client, url, tokens, own, foreign, points


def spot_in(url, community_code):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT ST_X(c.center), ST_Y(c.center) FROM area a, ST_MaximumInscribedCircle(a.geom) c"
            " WHERE a.valid_to IS NULL AND a.level = 'microgrid' AND a.code LIKE %s || '%%'"
            " AND NOT EXISTS (SELECT 1 FROM building b WHERE ST_Covers(b.geom, c.center))"
            " ORDER BY c.radius DESC LIMIT 1",
            (community_code,),
        ).fetchone()


def test_intake_by_role(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, code = next(points)
    assert post(client, tokens, None, body(lon, lat)).status_code == 401
    assert post(client, tokens, "viewer", body(lon, lat)).status_code == 403
    r = post(client, tokens, "intake", body(lon, lat))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert r.headers["Location"] == f"/api/v1/incidents/{doc['id']}" and r.headers["ETag"] == f'"{doc["version"]}"'
    assert doc["state"] == "received" and doc["owner"]["microgrid"]["code"] == code and doc["report_token"]
    assert {p["role"] for p in doc["owner"]["people"]} >= {"microgrid_worker", "grid_worker"}


def test_idempotent_retry_returns_the_same_case(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, _ = next(points)
    first = post(client, tokens, "intake", body(lon, lat, category="noise"), {"Idempotency-Key": "wx-0001"})
    before = incident_digest(url)
    again = post(client, tokens, "intake", body(lon, lat, category="noise"), {"Idempotency-Key": "wx-0001"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert incident_digest(url) == before
    other = post(client, tokens, "intake", body(lon, lat, category="road"), {"Idempotency-Key": "wx-0001"})
    assert other.status_code == 422 and incident_digest(url) == before


def test_the_same_external_id_twice_is_one_case(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, _ = next(points)
    first = post(client, tokens, "intake", body(lon, lat, category="safety_hazard", external_id="12345-0001"))
    assert first.status_code == 201, first.text
    before = incident_digest(url)
    for nearby in (0.0, 0.001):  # a channel's retry, also one that geocoded the address slightly differently
        again = post(client, tokens, "intake", body(lon + nearby, lat, category="safety_hazard",
                                                    external_id="12345-0001"))  # fmt: skip
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"] and not again.json()["repeat"]
        assert again.json()["report_token"] == first.json()["report_token"]
    assert incident_digest(url) == before
    other_channel = post(client, tokens, "intake", body(*next(points)[:2], category="safety_hazard",
                                                        channel="hotline_12345", external_id="12345-0001"))  # fmt: skip
    assert other_channel.status_code == 201 and other_channel.json()["id"] != first.json()["id"]


def test_a_retried_repeat_report_joins_once(api):
    """A report that joined a case as a repeat, sent again with its external_id, answers that case and adds
    no second repeat."""
    client, url, tokens, own, foreign, points = api
    lon, lat, _ = next(points)
    first = post(client, tokens, "intake", body(lon, lat, category="noise", external_id="wx-r-1"))
    joined = post(client, tokens, "intake", body(lon, lat, category="noise", external_id="wx-r-2"))
    assert first.status_code == 201 and joined.status_code == 200, joined.text  # a repeat joins: 200
    assert joined.json()["repeat"] and joined.json()["id"] == first.json()["id"]
    before = incident_digest(url)
    again = post(client, tokens, "intake", body(lon, lat, category="noise", external_id="wx-r-2"))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["repeat"]
    assert again.json()["report_token"] == joined.json()["report_token"]
    assert incident_digest(url) == before


def test_the_same_external_id_at_once_in_two_categories_is_one_case(api):
    """Two sends of one external_id at the same moment, whose categories differ (a channel's retry after a
    correction): one case, the other answer names it; never a server error."""
    client, url, tokens, own, foreign, points = api
    lon, lat, _ = next(points)
    barrier = threading.Barrier(2)

    def send(category: str):
        barrier.wait()
        return post(client, tokens, "intake", body(lon, lat, category=category, external_id="wx-race-1"))

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, ("noise", "sanitation")))
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]


def test_intake_gets_an_acknowledgement_not_the_case(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, code = next(points)
    case = post(client, tokens, "dispatcher", body(lon, lat, category="public_order", description="张三家有人打架"))
    assert act(client, tokens, "dispatcher", case.json()["id"], "dispatch", note="内部：别透露").status_code == 200
    joined = post(client, tokens, "intake", body(lon, lat, category="public_order"))
    assert joined.status_code == 200, joined.text
    ack = joined.json()
    assert ack["id"] == case.json()["id"] and ack["repeat"] and ack["report_token"] and ack["state"] == "dispatched"
    assert ack["owner"]["microgrid"]["code"] == code and joined.headers["ETag"] == f'"{ack["version"]}"'
    assert not {"events", "report_list", "photos", "description", "assignee", "location"} & set(ack)
    assert "张三" not in joined.text and "内部" not in joined.text and "李四" not in joined.text


def test_gcj02_in_and_out(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, code = next(points)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    r = post(client, tokens, "dispatcher", body(glon, glat, category="greenery"), crs="gcj02")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["owner"]["microgrid"]["code"] == code
    assert doc["location"]["crs"] == "gcj02" and abs(doc["location"]["lon"] - glon) < 1e-6
    wgs = client.get(f"/api/v1/incidents/{doc['id']}", headers=auth(tokens, "dispatcher")).json()
    assert abs(wgs["location"]["lon"] - lon) < 1e-6


def test_closed_loop_over_http(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, _ = next(points)
    incident_id = post(client, tokens, "intake", body(lon, lat, category="road")).json()["id"]
    assert act(client, tokens, "worker", incident_id, "dispatch").status_code == 403
    r = act(client, tokens, "dispatcher", incident_id, "dispatch")
    assert r.status_code == 200 and r.json()["state"] == "dispatched" and r.json()["assignee"]
    assert act(client, tokens, "worker", incident_id, "accept").status_code == 200
    before = incident_digest(url)
    wrong = act(client, tokens, "worker", incident_id, "accept")
    assert wrong.status_code == 409 and "in_progress" in wrong.json()["error"]["message"]
    assert incident_digest(url) == before
    assert act(client, tokens, "worker", incident_id, "reply", note="已清理").json()["state"] == "replied"
    assert act(client, tokens, "worker", incident_id, "verify").status_code == 403
    assert act(client, tokens, "dispatcher", incident_id, "verify").json()["state"] == "closed"
    done = act(client, tokens, "dispatcher", incident_id, "rate", satisfaction=5).json()
    assert done["state"] == "rated" and done["satisfaction"] == 5
    assert [e["action"] for e in done["events"]] == ["receive", "dispatch", "accept", "reply", "verify", "rate"]
    assert [e["actor"] for e in done["events"]][1:] == ["dispatcher", "worker", "worker", "dispatcher", "dispatcher"]
    stale = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "reopen", "note": "又脏了"},
                        headers=auth(tokens, "dispatcher") | {"If-Match": '"2"'})  # fmt: skip
    assert stale.status_code == 409 and stale.json()["error"]["current"] == done["version"]


def test_jurisdiction_and_contacts(api):
    client, url, tokens, own, foreign, points = api
    mine = post(client, tokens, "intake", body(*spot_in(url, own.community), category="utilities")).json()["id"]
    theirs = post(client, tokens, "intake", body(*spot_in(url, foreign.community), category="utilities")).json()["id"]
    assert client.get(f"/api/v1/incidents/{mine}", headers=auth(tokens, "local")).status_code == 200
    assert client.get(f"/api/v1/incidents/{theirs}", headers=auth(tokens, "local")).status_code == 404
    assert act(client, tokens, "local", theirs, "dispatch").status_code == 404
    listed = client.get("/api/v1/incidents", params={"limit": 500}, headers=auth(tokens, "local")).json()
    assert mine in {i["id"] for i in listed["items"]} and theirs not in {i["id"] for i in listed["items"]}
    staff = client.get(f"/api/v1/incidents/{mine}", headers=auth(tokens, "dispatcher")).json()
    viewer = client.get(f"/api/v1/incidents/{mine}", headers=auth(tokens, "viewer")).json()
    assert staff["report_list"][0]["reporter"]["phone"] == "13912345678"
    assert viewer["report_list"][0]["reporter"] is None
    assert viewer["owner"]["people"] and staff["owner"]["people"], "the owner should come with people to call"
    assert all("****" in p["phone"] for p in viewer["owner"]["people"])
    assert not any("****" in p["phone"] for p in staff["owner"]["people"])


def test_photos(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, _ = next(points)
    incident_id = post(client, tokens, "intake", body(lon, lat, category="illegal_building",
                                                    photo_urls=["https://example.org/a.jpg"])).json()["id"]  # fmt: skip
    image = png()
    path = f"/api/v1/incidents/{incident_id}/photos"
    r = client.post(path, content=image, headers=auth(tokens, "intake") | {"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    got = client.get(r.json()["href"], headers=auth(tokens, "dispatcher"))
    assert got.content == image and got.headers["content-type"] == "image/png"
    before = incident_digest(url)
    as_png = auth(tokens, "intake") | {"Content-Type": "image/png"}
    fake = client.post(path, content=b"<svg onload=alert(1)>", headers=as_png)
    assert fake.status_code == 415
    huge = client.post(path, content=image + b"\0" * 5_000_001, headers=auth(tokens, "intake"))
    assert huge.status_code == 413
    assert client.post(path, content=b"", headers=auth(tokens, "intake")).status_code == 422
    assert incident_digest(url) == before
    photos = client.get(f"/api/v1/incidents/{incident_id}", headers=auth(tokens, "dispatcher")).json()["photos"]
    assert [p["url"] for p in photos] == ["https://example.org/a.jpg", None]


def test_a_redraw_keeps_the_routed_versions_until_a_reroute(api):
    client, url, tokens, own, foreign, points = api
    lon, lat, code = next(points)
    doc = post(client, tokens, "intake", body(lon, lat, category="property")).json()
    mg = doc["owner"]["microgrid"]
    assert mg["version"] == 1
    r = client.patch(f"/api/v1/areas/{mg['id']}", json={"name": mg["name"] + "（调整）"},
                     headers=auth(tokens, "admin") | {"If-Match": '"1"'})  # fmt: skip
    assert r.status_code == 200, r.text
    kept = client.get(f"/api/v1/incidents/{doc['id']}", headers=auth(tokens, "dispatcher")).json()
    assert kept["owner"]["microgrid"]["version"] == 1 and kept["owner"]["microgrid"]["name"] == mg["name"]
    rerouted = act(client, tokens, "dispatcher", doc["id"], "reroute").json()
    assert rerouted["owner"]["microgrid"]["version"] == 2
    assert rerouted["result"]["before"]["microgrid"] == 1 and rerouted["result"]["after"]["microgrid"] == 2


def test_figures_and_exports(api):
    client, url, tokens, own, foreign, points = api
    params = {"level": "grid", "from": "2000-01-01", "to": "2100-01-01"}
    r = client.get("/api/v1/reports/incidents", params=params, headers=auth(tokens, "viewer"))
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    total = rows[-1]
    with psycopg.connect(url) as conn:
        received, closed = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state IN ('closed', 'rated')) FROM incident"
        ).fetchone()
    assert total["code"] == "TOTAL" and total["received"] == received and total["closed"] == closed
    assert rows[:-1], "the report should have a row per grid before the total"
    assert sum(row["received"] for row in rows[:-1]) <= received
    assert all(row["code"] and len(row["code"]) == 15 for row in rows[:-1])
    csv_text = client.get("/api/v1/reports/incidents", params=params | {"format": "csv"},
                          headers=auth(tokens, "viewer")).text  # fmt: skip
    assert csv_text.lstrip("\ufeff").splitlines()[0].startswith("area_id,code,name,received,closed,closure_rate")
    assert len(csv_text.strip().splitlines()) == len(rows) + 1
    xlsx = client.get("/api/v1/reports/incidents", params=params | {"format": "xlsx"}, headers=auth(tokens, "viewer"))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == len(rows) + 1 and sheet.cell(sheet.max_row, 2).value == "TOTAL"
    assert client.get("/api/v1/reports/incidents", headers=auth(tokens, "intake")).status_code == 403


def test_categories_are_edited_by_admins_only(api):
    client, url, tokens, own, foreign, points = api
    new = {"name": "Shared bikes", "name_zh": "共享单车", "calendar": "working",
           "deadline_minutes": {"dispatch": 30, "accept": 60, "handle": 480, "verify": 240}}  # fmt: skip
    refused = client.put("/api/v1/incident-categories/bikes", json=new, headers=auth(tokens, "dispatcher"))
    assert refused.status_code == 403
    r = client.put("/api/v1/incident-categories/bikes", json=new, headers=auth(tokens, "admin"))
    assert r.status_code == 200 and r.json()["deadline_minutes"]["dispatch"] == 30
    listed = client.get("/api/v1/incident-categories").json()["categories"]
    assert "bikes" in {c["code"] for c in listed}
    audit = client.get("/api/v1/audit", headers=auth(tokens, "admin")).json()["entries"]
    assert any(e["object_type"] == "incident_category" and e["object_code"] == "bikes" for e in audit)


LON, LAT = 114.03, 22.62
BAD = [
    ("unknown category", body(LON, LAT, category="ufo"), 422, "unknown category"),
    ("outside the region", body(116.39, 39.91), 422, "outside the region"),
    ("address without a place", body(None, None, address=" ，。？ "), 422, "say where"),
    ("no location", body(None, None), 422, "say where"),
    ("lon without lat", body(LON, None), 422, "lat"),
    ("swapped coordinates", body(LAT, LON), 422, "swapped"),
    ("description too long", body(LON, LAT, description="长" * 4001), 422, "description"),
    ("empty description", body(LON, LAT, description=""), 422, "description"),
    ("NUL in description", body(LON, LAT, description="坏\x00"), 422, "NUL"),
    ("unknown field", body(LON, LAT, priority="high"), 422, "unknown field"),
    ("bad channel", body(LON, LAT, channel="fax"), 422, "channel"),
    ("bad phone", body(LON, LAT, reporter={"phone": "call me"}), 422, "reporter_phone"),
    ("javascript photo url", body(LON, LAT, photo_urls=["javascript:alert(1)"]), 422, "photo"),
    ("unknown building", body(None, None, building="NOPE-1"), 422, "building"),
    ("reported in the future", body(LON, LAT, reported_at="2999-01-01T00:00:00Z"), 422, "reported_at"),
]


def test_an_address_matching_nothing_is_queued_not_refused(api):
    client, url, tokens, own, foreign, points = api
    r = post(client, tokens, "dispatcher", body(None, None, category="dispute", address="月球背面环形山"))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["flags"] == ["needs_location"] and doc["level"] is None and doc["location"]["lon"] is None
    # A dispatcher of one community cannot hold a case that has no place yet: refused, nothing written.
    before = incident_digest(url)
    local = post(client, tokens, "local", body(None, None, category="dispute", address="月球背面环形山"))
    assert local.status_code == 422 and "jurisdiction" in local.text and incident_digest(url) == before


@pytest.mark.parametrize(("case", "payload", "status", "says"), BAD, ids=[b[0] for b in BAD])
def test_bad_intake_changes_nothing(api, case, payload, status, says):
    client, url, tokens, own, foreign, points = api
    before = incident_digest(url)
    r = post(client, tokens, "dispatcher", payload)
    assert r.status_code == status, r.text
    assert says.lower() in r.text.lower()
    assert incident_digest(url) == before


def test_bad_raw_bodies_and_actions(api):
    client, url, tokens, own, foreign, points = api
    before = incident_digest(url)
    headers = auth(tokens, "dispatcher") | {"Content-Type": "application/json"}
    nan = client.post("/api/v1/incidents", content='{"category": "road", "description": "x", "lon": NaN, "lat": 22.6}',
                      headers=headers)  # fmt: skip
    assert nan.status_code == 422
    oversize = json.dumps(body(LON, LAT, description="x" * 300_000))
    big = client.post("/api/v1/incidents", content=oversize, headers=headers)
    assert big.status_code == 413
    assert post(client, tokens, "dispatcher", body(LON, LAT), crs="mars").status_code == 422
    assert act(client, tokens, "dispatcher", 999_999, "dispatch").status_code == 404
    assert act(client, tokens, "dispatcher", 1, "approve").status_code == 422
    assert act(client, tokens, "dispatcher", 1, "rate", satisfaction=9).status_code == 422
    lost = client.get("/api/v1/incidents", params={"state": "lost"}, headers=auth(tokens, "dispatcher"))
    assert lost.status_code == 422
    assert incident_digest(url) == before
