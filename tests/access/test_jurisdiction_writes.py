"""Writes to incidents under a jurisdiction, over real HTTP: a caller scoped to one community may not
create, join, reroute, split, annotate or attach photos to cases outside it, and such a refused write
leaves no row behind (counted in the database, not read off the answer), on the first try and on a retry.
A scoped admin reads only the audit entries of its jurisdiction. Each test reports its own category at
each community's spot, so no test's case is another's repeat."""

from __future__ import annotations

import psycopg
import pytest

from gridmap.settings import Settings
from tests.support.access_setup import add_principal
from tests.support.incident_setup import act, auth, body, incident_digest, png, post

# Principals scoped to the own community, beside access_setup's: name → (role, is an API key).
SCOPED = {"intake_own": ("intake", True), "dispatcher_own": ("dispatcher", False), "admin_own": ("admin", False)}


@pytest.fixture(scope="module")
def world(access_api):
    """The access-control set-up plus SCOPED and the communities' area ids."""
    client, url, tokens, own, foreign = access_api
    settings = Settings()
    with psycopg.connect(url, autocommit=True) as conn:
        tokens = dict(tokens)
        for name, (role, is_key) in SCOPED.items():
            tokens[name] = add_principal(conn, settings, name, role, [own.community], is_key)
        ids = dict(conn.execute(
            "SELECT code, id FROM area WHERE valid_to IS NULL AND code = ANY(%s)", ([own.community, foreign.community],)
        ).fetchall())  # fmt: skip
    return client, url, tokens, own, foreign, ids


def events_on(url: str, actor: str, community_id: int) -> int:
    """Events recorded by ``actor`` on cases routed into the community (each case write records one)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id"
            " WHERE e.actor = %s AND %s = ANY(i.area_path)",
            (actor, community_id),
        ).fetchone()[0]


def reports_of(url: str, incident_id: int) -> tuple[int, int]:
    """(reports counted on the case, report rows of the case)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT reports, (SELECT count(*) FROM incident_report WHERE incident_id = i.id) FROM incident i"
            " WHERE id = %s",
            (incident_id,),
        ).fetchone()


def test_a_scoped_intake_key_opens_no_case_outside_its_community(world):
    client, url, tokens, own, foreign, ids = world
    lon, lat = foreign.spot
    before = incident_digest(url)
    for _ in range(2):  # a channel's retry must not add one either
        r = post(client, tokens, "intake_own", body(lon, lat))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "lon" and "jurisdiction" in r.json()["error"]["message"]
    with psycopg.connect(url) as conn:
        building = conn.execute("SELECT code FROM building WHERE id = %s", (foreign.building_id,)).fetchone()[0]
    by_building = post(client, tokens, "intake_own", body(None, None, building=building))
    assert by_building.status_code == 422 and by_building.json()["error"]["field"] == "building"
    assert incident_digest(url) == before
    assert events_on(url, "intake_own", ids[foreign.community]) == 0
    mine = post(client, tokens, "intake_own", body(*own.spot))
    assert mine.status_code == 201, mine.text
    assert events_on(url, "intake_own", ids[own.community]) == 1


def test_a_repeat_never_joins_a_case_outside_the_jurisdiction(world):
    client, url, tokens, own, foreign, ids = world
    lon, lat = foreign.spot
    theirs = post(client, tokens, "dispatcher", body(lon, lat, category="noise"))
    assert theirs.status_code == 201, theirs.text
    before = incident_digest(url)
    for _ in range(2):
        r = post(client, tokens, "intake_own", body(lon, lat, category="noise"))
        assert r.status_code == 422, r.text
    assert incident_digest(url) == before and reports_of(url, theirs.json()["id"]) == (1, 1)
    assert events_on(url, "intake_own", ids[foreign.community]) == 0


def test_a_scoped_dispatcher_cannot_reroute_a_case_out_of_its_community(world):
    client, url, tokens, own, foreign, ids = world
    case = post(client, tokens, "dispatcher_own", body(*own.spot, category="road")).json()
    lon, lat = foreign.spot
    with psycopg.connect(url) as conn:
        building = conn.execute("SELECT code FROM building WHERE id = %s", (foreign.building_id,)).fetchone()[0]
    before = incident_digest(url)
    for where in ({"lon": lon, "lat": lat}, {"lon": lon, "lat": lat}, {"building": building}):
        r = act(client, tokens, "dispatcher_own", case["id"], "reroute", **where)
        assert r.status_code == 422, r.text
        assert "jurisdiction" in r.json()["error"]["message"]
    assert incident_digest(url) == before
    assert events_on(url, "dispatcher_own", ids[foreign.community]) == 0
    # An unscoped dispatcher may move a case anywhere.
    anyones = post(client, tokens, "dispatcher", body(*own.spot, category="greenery")).json()
    moved = act(client, tokens, "dispatcher", anyones["id"], "reroute", lon=lon, lat=lat)
    assert moved.status_code == 200 and moved.json()["owner"]["community"]["code"] == foreign.community


def test_a_split_may_not_open_a_case_outside_the_jurisdiction(world):
    client, url, tokens, own, foreign, ids = world
    lon, lat = own.spot
    first = post(client, tokens, "dispatcher_own", body(lon, lat, category="property")).json()
    again = post(client, tokens, "dispatcher_own", body(lon, lat, category="property")).json()
    assert again["repeat"] and again["id"] == first["id"]
    report = next(r["id"] for r in again["report_list"] if r["repeat"])
    # The repeat was reported across the border: its own point lies in the foreign community.
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE incident_report SET geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326) WHERE id = %s",
                     (*foreign.spot, report))  # fmt: skip
    before = incident_digest(url)
    r = act(client, tokens, "dispatcher_own", first["id"], "split", report=report)
    assert r.status_code == 422, r.text
    assert incident_digest(url) == before
    assert events_on(url, "dispatcher_own", ids[foreign.community]) == 0


def test_actions_notes_and_photos_on_a_foreign_case_write_nothing(world):
    client, url, tokens, own, foreign, ids = world
    theirs = post(client, tokens, "dispatcher", body(*foreign.spot, category="utilities")).json()
    before = incident_digest(url)
    for action, extra in (("dispatch", {"note": "内部备注"}), ("close", {"note": "即办"}),
                          ("reject", {"reason": "不归我管"}), ("reroute", {}), ("escalate", {})):  # fmt: skip
        r = act(client, tokens, "dispatcher_own", theirs["id"], action, **extra)
        assert r.status_code == 404, (action, r.text)
    photo = client.post(f"/api/v1/incidents/{theirs['id']}/photos", content=png(),
                        headers=auth(tokens, "intake_own") | {"Content-Type": "image/png"})  # fmt: skip
    assert photo.status_code == 404
    assert incident_digest(url) == before
    assert events_on(url, "dispatcher_own", ids[foreign.community]) == 0


def test_an_external_id_of_a_foreign_case_is_not_replayed(world):
    client, url, tokens, own, foreign, ids = world
    theirs = post(client, tokens, "dispatcher", body(*foreign.spot, category="dispute",
                                                     external_id="WX-FOREIGN-1"))  # fmt: skip
    assert theirs.status_code == 201, theirs.text
    before = incident_digest(url)
    r = post(client, tokens, "intake_own", body(*own.spot, category="dispute",
                                                external_id="WX-FOREIGN-1"))  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "external_id", r.text
    assert str(theirs.json()["id"]) not in r.text
    assert incident_digest(url) == before


def test_a_scoped_admin_reads_only_the_audit_of_its_jurisdiction(world):
    client, url, tokens, own, foreign, ids = world
    for side in (own, foreign):  # one change on each side, by the unscoped admin
        path = f"/api/v1/areas/{side.microgrid_id}"
        etag = client.get(path).headers["etag"]
        r = client.patch(path, json={"name": "审计范围"}, headers=auth(tokens, "admin") | {"If-Match": etag})
        assert r.status_code == 200, r.text
    everything = client.get("/api/v1/audit", params={"limit": 1000}, headers=auth(tokens, "admin")).json()["entries"]
    assert any(ids[foreign.community] in e["area_path"] for e in everything)
    assert any(not e["area_path"] for e in everything)  # accounts: in no area
    scoped = client.get("/api/v1/audit", params={"limit": 1000}, headers=auth(tokens, "admin_own"))
    assert scoped.status_code == 200
    entries = scoped.json()["entries"]
    assert entries and all(ids[own.community] in e["area_path"] for e in entries)
    assert any(e["object_id"] == own.microgrid_id for e in entries)
    foreign_only = client.get("/api/v1/audit", params={"area": foreign.community}, headers=auth(tokens, "admin_own"))
    assert foreign_only.status_code == 200 and foreign_only.json()["entries"] == []
