"""Access control over real HTTP: the BOLA matrix (every role × every write endpoint × own and foreign
jurisdiction), mass assignment, sessions and keys, public lookups and masked phones."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest

from gridmap.access.accounts import add_key
from gridmap.access.rules import cli_principal
from gridmap.areas.edit import AreaFields, create_area
from gridmap.areas.geometry import polygon_from_geojson
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.access_setup import PASSWORD, PRINCIPALS, box
from tests.support.helpers import cli

ENDPOINTS = ("create_area", "edit_area", "retire_area", "edit_building")
SUCCESS = {"create_area": 201, "edit_area": 200, "retire_area": 204, "edit_building": 200}


def expected(principal: str, endpoint: str, side: str) -> int:
    """The status each caller must get: the whole access policy in one place."""
    if principal == "anonymous":
        return 401
    role = PRINCIPALS[principal][0]
    if role in ("dispatcher", "viewer"):
        return 403
    if role == "planner" and side == "foreign":
        return 404
    return SUCCESS[endpoint]


@pytest.fixture(scope="module")
def world(access_api):
    client, url, tokens, own, foreign = access_api
    # Areas to retire, one per caller and side, each in its own layer so none overlaps another.
    retire = {}
    with psycopg.connect(url) as conn:
        for principal in (*PRINCIPALS, "anonymous"):
            for side_name, side in (("own", own), ("foreign", foreign)):
                geom = polygon_from_geojson(box(*side.spot), "wgs84", 100)
                values = AreaFields(name="待撤销", geometry=geom, parent=side.grid_code, layer=f"retire_{principal}")
                retire[principal, side_name] = create_area(conn, cli_principal(), "microgrid", values)["id"]
    return client, url, tokens, {"own": own, "foreign": foreign}, retire


def _headers(tokens: dict, principal: str, version: int | None = None) -> dict:
    headers = {} if principal == "anonymous" else {"Authorization": f"Bearer {tokens[principal]}"}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return headers


def _version(client: httpx.Client, path: str) -> int:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return int(response.headers["etag"].strip('"'))


def _call(client, tokens, sides, retire, principal, endpoint, side_name) -> httpx.Response:
    side = sides[side_name]
    if endpoint == "create_area":
        body = {"level": "microgrid", "parent": side.grid_code, "name": f"{principal}的微网格",
                "layer": f"matrix_{principal}", "geometry": box(*side.spot)}  # fmt: skip
        return client.post("/api/v1/areas", json=body, headers=_headers(tokens, principal))
    if endpoint == "edit_area":
        path = f"/api/v1/areas/{side.microgrid_id}"
        headers = _headers(tokens, principal, _version(client, path))
        return client.patch(path, json={"name": f"{principal}改的名"}, headers=headers)
    if endpoint == "retire_area":
        path = f"/api/v1/areas/{retire[principal, side_name]}"
        return client.delete(path, headers=_headers(tokens, principal, _version(client, path)))
    path = f"/api/v1/buildings/{side.building_id}"
    headers = _headers(tokens, principal, _version(client, path))
    return client.patch(path, json={"name": f"{principal}改的楼名"}, headers=headers)


def test_bola_matrix(world):
    client, url, tokens, sides, retire = world
    with psycopg.connect(url) as conn:
        foreign_community = conn.execute(
            "SELECT id FROM area WHERE code = %s AND valid_to IS NULL", (sides["foreign"].community,)
        ).fetchone()[0]
        # What the matrix changes is counted from here, so that other tests of the module may run first.
        versions_before = conn.execute(
            "SELECT (SELECT version FROM area WHERE id = %s AND valid_to IS NULL),"
            " (SELECT version FROM building WHERE id = %s)",
            (sides["foreign"].microgrid_id, sides["foreign"].building_id),
        ).fetchone()
        actors_before = dict(conn.execute("SELECT actor, count(*) FROM audit_log GROUP BY actor").fetchall())
    failures = []
    cases = 0
    for principal in ("anonymous", *PRINCIPALS):
        for endpoint in ENDPOINTS:
            for side_name in ("own", "foreign"):
                response = _call(client, tokens, sides, retire, principal, endpoint, side_name)
                cases += 1
                want = expected(principal, endpoint, side_name)
                if response.status_code != want:
                    failures.append(f"{principal} {endpoint} {side_name}: {response.status_code} (want {want})")
                elif want >= 400:
                    assert response.json()["error"]["code"] in ("unauthenticated", "forbidden", "not_found")
    assert not failures, "\n".join(failures)
    assert cases == 6 * 4 * 2
    with psycopg.connect(url) as conn:
        # Zero foreign writes by anyone but the admin, counted from the audit log and from the data itself.
        foreign_by_others = conn.execute(
            "SELECT count(*) FROM audit_log WHERE actor <> 'admin' AND actor_kind <> 'cli' AND %s = ANY(area_path)",
            (foreign_community,),
        ).fetchone()[0]
        assert foreign_by_others == 0
        foreign_versions = conn.execute(
            "SELECT (SELECT version FROM area WHERE id = %s AND valid_to IS NULL),"
            " (SELECT version FROM building WHERE id = %s)",
            (sides["foreign"].microgrid_id, sides["foreign"].building_id),
        ).fetchone()
        assert foreign_versions == (versions_before[0] + 1, versions_before[1] + 1)  # the admin's edit only
        created_foreign = conn.execute(
            "SELECT layer FROM area WHERE layer LIKE 'matrix_%%' AND code LIKE %s || '%%'",
            (sides["foreign"].community,),
        ).fetchall()
        assert created_foreign == [("matrix_admin",)]
        by_actor = dict(conn.execute("SELECT actor, count(*) FROM audit_log GROUP BY actor").fetchall())
        made = {actor: n - actors_before.get(actor, 0) for actor, n in by_actor.items()}
        assert made["admin"] == 8 and made["planner"] == 4 and made["planner_key"] == 4
        assert "dispatcher" not in by_actor and "viewer" not in by_actor


@pytest.mark.parametrize(
    ("body", "field"),
    [({"code": "440309002005001099"}, "code"), ({"parent": "440309002005"}, "parent")],
)
def test_planner_may_not_set_admin_fields(world, body, field):
    client, _, tokens, sides, _ = world
    path = f"/api/v1/areas/{sides['own'].microgrid_id}"
    response = client.patch(path, json=body, headers=_headers(tokens, "planner", _version(client, path)))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field and "planner" in response.json()["error"]["message"]


def test_version_and_ids_are_never_fields(world):
    client, _, tokens, sides, _ = world
    path = f"/api/v1/areas/{sides['own'].microgrid_id}"
    for body in ({"version": 9}, {"parent_id": 1}, {"id": 5}):
        response = client.patch(path, json=body, headers=_headers(tokens, "admin", _version(client, path)))
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == next(iter(body))


def test_admin_may_renumber(world):
    client, _, tokens, sides, _ = world
    path = f"/api/v1/areas/{sides['own'].microgrid_id}"
    code = sides["own"].grid_code + "987"
    response = client.patch(path, json={"code": code}, headers=_headers(tokens, "admin", _version(client, path)))
    assert response.status_code == 200, response.text
    assert response.json()["properties"]["code"] == code
    assert client.get(f"/api/v1/code/{code}", follow_redirects=True).json()["id"] == sides["own"].microgrid_id


def test_planner_cannot_draw_into_a_foreign_community(world):
    client, _, tokens, sides, _ = world
    path = f"/api/v1/areas/{sides['own'].microgrid_id}"
    far = box(*sides["foreign"].spot)
    response = client.patch(path, json={"geometry": far}, headers=_headers(tokens, "planner", _version(client, path)))
    assert response.status_code == 422
    assert "sticks out of its parent" in response.json()["error"]["message"]


def test_login_logout_and_disable(world):
    client, url, _, sides, _ = world
    own = sides["own"]
    bad = client.post("/api/v1/auth/login", json={"username": "planner", "password": "wrong password!"})
    nobody = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong password!"})
    assert bad.status_code == nobody.status_code == 401
    assert bad.json()["error"]["message"] == nobody.json()["error"]["message"]  # no hint which part was wrong
    planner = client.post("/api/v1/auth/login", json={"username": "planner", "password": PASSWORD}).json()
    assert planner["user"] == {"name": "planner", "kind": "user", "role": "planner", "scope": [own.community],
                               "person": None}  # fmt: skip
    token = client.post("/api/v1/auth/login", json={"username": "viewer", "password": PASSWORD}).json()["token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"name": "viewer", "kind": "user", "role": "viewer", "scope": [], "person": None,
                         "timezone": "Asia/Shanghai"}  # fmt: skip
    assert client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # Disabling a user from the command line ends their open sessions at once.
    token = client.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD}).json()["token"]
    assert cli("user", "disable", "dispatcher", GRIDMAP_DATABASE_URL=url).returncode == 0
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    relogin = client.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD})
    assert relogin.status_code == 401
    client.cookies.clear()  # the logins left a (now dead) session cookie in this module's shared client


def test_keys_from_the_command_line(world):
    client, url, _, sides, _ = world
    made = cli("key", "add", "gis-sync", "--role", "planner", "--scope", sides["own"].community,
               GRIDMAP_DATABASE_URL=url)  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"name": "gis-sync", "kind": "key", "role": "planner", "scope": [sides["own"].community],
                  "person": None, "timezone": "Asia/Shanghai"}  # fmt: skip
    assert cli("key", "revoke", "gis-sync", GRIDMAP_DATABASE_URL=url).returncode == 0
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    unscoped = cli("key", "add", "loose", "--role", "planner", GRIDMAP_DATABASE_URL=url)
    assert unscoped.returncode == 2 and "jurisdiction" in unscoped.stderr
    listed = cli("user", "list", "--json", GRIDMAP_DATABASE_URL=url)
    assert {u["name"] for u in json.loads(listed.stdout)} >= {"admin", "planner", "viewer"}
    assert "password" not in listed.stdout


@pytest.mark.parametrize("header", ["Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer", "gmk_only"])
def test_bad_credentials_get_401_even_on_public_reads(world, header):
    client, *_ = world
    response = client.get("/api/v1/lookup", params={"lon": 114.03, "lat": 22.62}, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_phones_are_masked_for_anonymous_callers(world):
    client, _, tokens, sides, _ = world
    x, y = sides["own"].spot
    anonymous = client.get("/api/v1/lookup", params={"lon": x, "lat": y}).json()
    signed_in = client.get("/api/v1/lookup", params={"lon": x, "lat": y}, headers=_headers(tokens, "viewer")).json()
    assert signed_in["people"], "the spot should have people to call"
    for masked, whole in zip(anonymous["people"], signed_in["people"], strict=True):
        assert "*" not in whole["phone"] and "****" in masked["phone"]
        assert masked["phone"][:3] == whole["phone"][:3] and masked["phone"][-4:] == whole["phone"][-4:]


def test_lookups_can_require_credentials(demo_db):
    settings = Settings(database_url=demo_db, public_lookup=False, rate_limit_anonymous=0)
    with psycopg.connect(demo_db) as conn:
        token = add_key(conn, cli_principal(), settings.security.secret_key.get_secret_value(), "reader", "viewer", [])
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as client:
        params = {"lon": 114.03, "lat": 22.62}
        assert client.get("/api/v1/lookup", params=params).status_code == 401
        assert client.get("/api/v1/areas", params={"limit": 1}).status_code == 401
        ok = client.get("/api/v1/lookup", params=params, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert client.get("/health").status_code == 200
