"""The dispatch desk over HTTP against a demo-city copy: callers' phones checked and written one way, the
assignment rule per level (a unit-split building's case goes to its unit micro-grid's worker; an escalated
case to the grid worker; nobody to receive is refused with the reason), the preview that writes nothing,
repeats joined or filed new on request, search by number, external id, address, phone and building
(jurisdiction-scoped, phones for staff only), a polled queue answered 304 until it changes, a worker's own
cases, and the outbox messages each event writes."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from gridmap.access.rules import mask_phone
from gridmap.settings import Settings
from tests.support.access_setup import PASSWORD, add_principal
from tests.support.incident_setup import act, auth, body, incident_digest, post, spots


@pytest.fixture(scope="module")
def desk(access_api):
    """The access set-up plus a dispatcher scoped to the own community and a worker login tied to a person."""
    client, url, tokens, own, foreign = access_api
    settings = Settings()
    with psycopg.connect(url, autocommit=True) as conn:
        tokens = dict(tokens)
        tokens["local"] = add_principal(conn, settings, "desk-local", "dispatcher", [own.community])
        points = iter(spots(conn, 30, offset=60))
    return client, url, tokens, own, foreign, points


def _one(url: str, query: str, params=()) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()


def _messages(url: str, incident_id: int) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT event, audience, recipient_phone, body FROM notification WHERE incident_id = %s ORDER BY id",
            (incident_id,),
        ).fetchall()


def test_phones_are_checked_and_written_one_way(desk):
    client, url, tokens, own, foreign, points = desk
    lon, lat, _ = next(points)
    before = incident_digest(url)
    for bad in ("12345678", "1381234567", "138123456789", "call me", "0000"):
        answer = post(client, tokens, "dispatcher", body(lon, lat, reporter={"name": "张三", "phone": bad}))
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["error"]["field"] == "reporter_phone"
        assert "电话号码无效" in answer.json()["error"]["message"]
    assert incident_digest(url) == before
    for given, stored in (("+86 139-1234-5678", "13912345678"), ("0755 8888 6666", "0755-88886666")):
        case = post(client, tokens, "dispatcher", body(lon, lat, category="noise", join_repeat=False,
                                                       reporter={"name": "张三", "phone": given})).json()  # fmt: skip
        assert case["report_list"][-1]["reporter"]["phone"] == stored
        viewer = client.get(f"/api/v1/incidents/{case['id']}", headers=auth(tokens, "viewer")).json()
        assert viewer["report_list"][-1]["reporter"] is None
        # The citizen is told the case was filed, in Chinese, with its number.
        event, audience, phone, text = _messages(url, case["id"])[0]
        assert (event, audience, phone) == ("filed", "citizen", stored)
        assert f"#{case['id']}" in text and "已受理" in text


def _unit_split(url: str) -> tuple[str, int, set[str]]:
    """Address text of a building split by unit into micro-grids, one unit of it, and its micro-grids."""
    compound, name, unit, codes = _one(url, """
        SELECT b.compound, b.name, m.unit_from, array_agg(a.code ORDER BY a.code)
        FROM microgrid_member m JOIN building b ON b.id = m.building_id
        JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
        WHERE m.unit_from IS NOT NULL AND m.unit_from = m.unit_to AND m.floor_from IS NULL
          AND b.compound IS NOT NULL AND b.name ~ '栋$' AND m.unit_from > 1
        GROUP BY b.id, b.compound, b.name, m.unit_from ORDER BY b.id, m.unit_from LIMIT 1""")  # fmt: skip
    return f"{compound}{name}{unit}单元", unit, set(codes)


def test_a_unit_split_case_goes_to_its_unit_micro_grid_worker_then_climbs(desk):
    client, url, tokens, own, foreign, points = desk
    address, unit, unit_codes = _unit_split(url)
    draft = {"category": "utilities", "description": "楼道漏水", "channel": "hotline_12345", "address": address}
    shown = client.post("/api/v1/incidents/preview", json=draft, headers=auth(tokens, "dispatcher")).json()
    assert shown["location"]["unit"] == unit and shown["owner"]["microgrid"]["code"] in unit_codes
    assert shown["would"] == "open" and shown["assignment"]["level"] == "microgrid"
    first = shown["assignment"]["candidates"][0]
    assert first["role"] == "microgrid_worker" and first["area"] == shown["owner"]["microgrid"]["code"]
    case = post(client, tokens, "dispatcher", draft).json()
    assert case["assignment"]["candidates"][0] == first
    dispatched = act(client, tokens, "dispatcher", case["id"], "dispatch")
    assert dispatched.status_code == 200, dispatched.text
    doc = dispatched.json()
    assert doc["assignee_person_id"] == first["person_id"] and "微网格员" in doc["assignee"]
    event, audience, phone, text = _messages(url, case["id"])[-1]
    assert (event, audience, phone) == ("dispatched", "assignee", first["phone"]) and "派工单" in text
    # A person the rule does not offer is refused, and changes nothing.
    stranger = _one(url, "SELECT id FROM person WHERE role = 'grid_worker' ORDER BY id LIMIT 1")[0]
    refused = act(client, tokens, "dispatcher", case["id"], "reassign", person=stranger)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "person"
    # Escalated, the case lists the grid's worker, and the grid worker is texted.
    climbed = act(client, tokens, "dispatcher", case["id"], "escalate", reason="需要网格统筹").json()
    assert climbed["level"] == "grid" and climbed["assignee_person_id"] is None
    roles = {c["role"] for c in climbed["assignment"]["candidates"]}
    assert roles == {"grid_worker"}
    grid_phones = {c["phone"] for c in climbed["assignment"]["candidates"]}
    told = [m for m in _messages(url, case["id"]) if m[0] == "escalated"]
    assert told and {m[2] for m in told} == grid_phones and all(m[1] == "next_level" for m in told)


def test_nobody_to_receive_is_refused_with_the_reason(desk):
    client, url, tokens, own, foreign, points = desk
    lon, lat, _ = next(points)
    case = post(client, tokens, "dispatcher", body(lon, lat, category="road", join_repeat=False)).json()
    for _ in range(2):  # micro-grid → grid → community: no person role answers there
        assert act(client, tokens, "dispatcher", case["id"], "escalate").status_code == 200
    doc = client.get(f"/api/v1/incidents/{case['id']}", headers=auth(tokens, "dispatcher")).json()
    assert doc["level"] == "community" and doc["assignment"]["candidates"] == []
    version = doc["version"]
    refused = act(client, tokens, "dispatcher", case["id"], "dispatch")
    assert refused.status_code == 409 and "社区" in refused.json()["error"]["message"]
    assert (
        client.get(f"/api/v1/incidents/{case['id']}", headers=auth(tokens, "dispatcher")).json()["version"] == version
    )
    typed = act(client, tokens, "dispatcher", case["id"], "dispatch", assignee="社区城管执法队")
    assert typed.status_code == 200 and typed.json()["assignee"] == "社区城管执法队"


def test_preview_writes_nothing_and_repeats_join_or_file_new(desk):
    client, url, tokens, own, foreign, points = desk
    lon, lat, _ = next(points)
    draft = body(lon, lat, category="streetlight", description="路灯不亮")
    first = post(client, tokens, "dispatcher", draft).json()
    before = incident_digest(url), _one(url, "SELECT count(*) FROM notification")
    shown = client.post("/api/v1/incidents/preview", json=draft, headers=auth(tokens, "dispatcher"))
    assert shown.status_code == 200
    assert (incident_digest(url), _one(url, "SELECT count(*) FROM notification")) == before
    assert shown.json()["would"] == "join" and shown.json()["repeat"]["id"] == first["id"]
    assert shown.json()["location"]["crs"] == "wgs84" and abs(shown.json()["location"]["lon"] - lon) < 1e-9
    # Bad input is refused by the preview as by filing.
    bad = client.post(
        "/api/v1/incidents/preview", json=draft | {"category": "nope"}, headers=auth(tokens, "dispatcher")
    )
    assert bad.status_code == 422
    joined = post(client, tokens, "dispatcher", draft)
    assert joined.status_code == 200 and joined.json()["id"] == first["id"] and joined.json()["repeat"] is True
    assert _messages(url, first["id"])[-1][0] == "joined"
    apart = post(client, tokens, "dispatcher", draft | {"join_repeat": False})
    assert apart.status_code == 201 and apart.json()["id"] != first["id"]


def test_search_is_scoped_and_phones_are_for_staff(desk):
    client, url, tokens, own, foreign, points = desk
    lon, lat, _ = next(points)
    case = post(client, tokens, "dispatcher", body(lon, lat, category="greenery", description="榕树倒伏压住单车",
                external_id="12345-SZ-0001", reporter={"name": "钱七", "phone": "13760001234"})).json()  # fmt: skip

    def found(who, **params):
        answer = client.get("/api/v1/incidents", params=params | {"limit": 500}, headers=auth(tokens, who))
        assert answer.status_code == 200, answer.text
        return {i["id"] for i in answer.json()["items"]}

    for text in (str(case["id"]), f"#{case['id']}", "12345-SZ-0001", "榕树倒伏"):
        assert case["id"] in found("dispatcher", q=text), text
    assert case["id"] not in found("dispatcher", q="榕树倒伏压住汽车")
    for number in ("13760001234", "+86 137 6000 1234", "1234"):
        assert case["id"] in found("dispatcher", phone=number), number
    assert case["id"] not in found("dispatcher", phone="13760001235")
    assert client.get("/api/v1/incidents", params={"phone": "1234"}, headers=auth(tokens, "viewer")).status_code == 403
    assert (
        client.get("/api/v1/incidents", params={"phone": "12"}, headers=auth(tokens, "dispatcher")).status_code == 422
    )
    # The case lies in whichever community its point is: a dispatcher scoped elsewhere finds nothing of it.
    community = _one(url, "SELECT community_id FROM incident WHERE id = %s", (case["id"],))[0]
    own_id = _one(url, "SELECT id FROM area WHERE code = %s AND valid_to IS NULL", (own.community,))[0]
    assert (case["id"] in found("local", phone="13760001234")) == (community == own_id)
    building = _one(url, "SELECT b.code FROM incident i JOIN building b ON b.id = i.building_id WHERE i.building_id"
                    " IS NOT NULL ORDER BY i.id LIMIT 1")  # fmt: skip
    if building:
        by_building = found("dispatcher", building=building[0])
        expected = _one(url, "SELECT array_agg(i.id) FROM incident i JOIN building b ON b.id = i.building_id"
                        " WHERE b.code = %s", building)[0]  # fmt: skip
        assert by_building == set(expected)


def test_a_polled_queue_is_304_until_it_changes(desk):
    client, url, tokens, own, foreign, points = desk
    headers = auth(tokens, "dispatcher")
    first = client.get("/api/v1/incidents", params={"limit": 20}, headers=headers)
    tag = first.headers["ETag"]
    again = client.get("/api/v1/incidents", params={"limit": 20}, headers=headers | {"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == tag
    lon, lat, _ = next(points)
    post(client, tokens, "dispatcher", body(lon, lat, category="noise", join_repeat=False))
    changed = client.get("/api/v1/incidents", params={"limit": 20}, headers=headers | {"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag and changed.json()["total"] > 0


def test_a_worker_sees_the_cases_given_to_them(desk):
    client, url, tokens, own, foreign, points = desk
    lon, lat, _ = next(points)
    case = post(client, tokens, "dispatcher", body(lon, lat, category="sanitation", join_repeat=False)).json()
    person = case["assignment"]["candidates"][0]
    with psycopg.connect(url, autocommit=True) as conn:
        from gridmap.access import accounts
        from gridmap.access.rules import cli_principal

        accounts.add_user(conn, cli_principal(), "wang-worker", PASSWORD, "worker", [], person=person["person_id"])
        with pytest.raises(Exception, match="no person"):
            accounts.add_user(conn, cli_principal(), "ghost", PASSWORD, "worker", [], person=2**62)
    # Logged in by its own client, so the session cookie stays off the module's shared one.
    with httpx.Client(base_url=client.base_url) as fresh:
        login = fresh.post("/api/v1/auth/login", json={"username": "wang-worker", "password": PASSWORD}).json()
    mine_headers = {"Authorization": f"Bearer {login['token']}"}
    me = client.get("/api/v1/auth/me", headers=mine_headers).json()
    assert me["person"]["id"] == person["person_id"] and me["timezone"] == "Asia/Shanghai"

    def mine():
        answer = client.get("/api/v1/incidents", params={"mine": "true"}, headers=mine_headers)
        assert answer.status_code == 200, answer.text
        return {i["id"] for i in answer.json()["items"]}

    assert case["id"] not in mine()
    act(client, tokens, "dispatcher", case["id"], "dispatch", person=person["person_id"])
    assert case["id"] in mine()
    accepted = client.post(f"/api/v1/incidents/{case['id']}/actions", json={"action": "accept"}, headers=mine_headers)
    assert accepted.status_code == 200 and accepted.json()["state"] == "in_progress"
    # Logins not tied to a person have no "mine": refused, not answered with everything.
    refused = client.get("/api/v1/incidents", params={"mine": "true"}, headers=auth(tokens, "dispatcher"))
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "mine"
    # A viewer sees the messages of a case with phones masked.
    seen = client.get(f"/api/v1/incidents/{case['id']}", headers=auth(tokens, "viewer")).json()
    assert seen["notifications"] and all(m["recipient_phone"] == mask_phone(person["phone"]) or m["audience"] ==
                                         "citizen" for m in seen["notifications"])  # fmt: skip
    assert all(c["phone"] != person["phone"] for c in seen["assignment"]["candidates"])


def test_address_suggestions_read_the_address(desk):
    client, url, tokens, own, foreign, points = desk
    address, unit, _ = _unit_split(url)
    answer = client.get("/api/v1/address-suggestions", params={"q": address + "1502室"},
                        headers=auth(tokens, "dispatcher"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["reading"]["unit"] == unit and doc["reading"]["floor"] == 15
    assert doc["candidates"] and all(c["lon"] is not None for c in doc["candidates"] if c["code"])
    assert doc["best"] is not None and doc["best"]["code"] == doc["candidates"][0]["code"]
    with httpx.Client(base_url=client.base_url) as anonymous:
        assert anonymous.get("/api/v1/address-suggestions", params={"q": address}).status_code == 401
    assert (
        client.get("/api/v1/address-suggestions", params={"q": ""}, headers=auth(tokens, "dispatcher")).status_code
        == 422
    )
