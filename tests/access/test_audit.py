"""The audit log: one entry per write in the writer's transaction, append-only, readable by admins over
HTTP and in the CLI."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.support.access_setup import communities
from tests.support.helpers import cli


@pytest.fixture(scope="module")
def api(access_api):
    return access_api


def _auth(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"}


def test_each_write_is_recorded_with_who_versions_and_request_id(api):
    client, url, tokens, own, _ = api
    path = f"/api/v1/areas/{own.microgrid_id}"
    etag = client.get(path).headers["etag"]
    headers = _auth(tokens, "planner") | {"If-Match": etag, "X-Request-ID": "req-audit-1"}
    response = client.patch(path, json={"name": "审计测试"}, headers=headers)
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-audit-1"
    log = client.get("/api/v1/audit", params={"user": "planner"}, headers=_auth(tokens, "admin")).json()["entries"]
    entry = log[0]
    who = (entry["actor"], entry["actor_kind"], entry["role"], entry["action"])
    assert who == ("planner", "user", "planner", "update")
    assert (entry["object_type"], entry["object_id"]) == ("area", own.microgrid_id)
    assert (entry["before_version"], entry["after_version"]) == (int(etag.strip('"')), int(etag.strip('"')) + 1)
    assert entry["request_id"] == "req-audit-1" and entry["detail"] == {"fields": ["name"]}
    # The area filter finds it from the community down; a foreign community's filter does not.
    mine = client.get("/api/v1/audit", params={"area": own.community}, headers=_auth(tokens, "admin")).json()
    assert any(e["id"] == entry["id"] for e in mine["entries"])
    theirs = client.get("/api/v1/audit", params={"area": communities(url)[1].community}, headers=_auth(tokens, "admin"))
    assert all(e["id"] != entry["id"] for e in theirs.json()["entries"])
    later = client.get("/api/v1/audit", params={"since": "2999-01-01"}, headers=_auth(tokens, "admin")).json()
    assert later["entries"] == []


def _rename_as_planner(client, tokens, own, name: str) -> str:
    """Rename the own micro-grid as the planner (an audited write); return the ETag it had before."""
    path = f"/api/v1/areas/{own.microgrid_id}"
    etag = client.get(path).headers["etag"]
    response = client.patch(path, json={"name": name}, headers=_auth(tokens, "planner") | {"If-Match": etag})
    assert response.status_code == 200, response.text
    return etag


def test_a_refused_write_leaves_no_entry(api):
    client, url, tokens, own, _ = api
    stale_etag = _rename_as_planner(client, tokens, own, "拒绝前")  # this test makes its own stale version
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    path = f"/api/v1/areas/{own.microgrid_id}"
    stale = client.patch(path, json={"name": "x"}, headers=_auth(tokens, "planner") | {"If-Match": stale_etag})
    assert stale.status_code == 409
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before


def test_only_admins_read_the_log(api):
    client, _, tokens, _, _ = api
    assert client.get("/api/v1/audit").status_code == 401
    for who in ("planner", "planner_key", "dispatcher", "viewer"):
        assert client.get("/api/v1/audit", headers=_auth(tokens, who)).status_code == 403


def test_the_log_is_append_only(api):
    _, url, _, _, _ = api
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_cli_audit_and_imports_are_recorded(api, tmp_path):
    client, url, tokens, own, _ = api
    _rename_as_planner(client, tokens, own, "命令行审计")  # the planner's update this test reads back
    shown = cli("audit", "--user", "planner", "--json", GRIDMAP_DATABASE_URL=url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)[0]["actor"] == "planner"
    # The setup's user and key creation by the command line is in the log too.
    made = cli("audit", "--json", "--limit", "1000", GRIDMAP_DATABASE_URL=url)
    actions = {(e["action"], e["object_type"]) for e in json.loads(made.stdout)}
    assert {("add", "user"), ("add", "api_key"), ("import", "microgrids")} <= actions
    table = cli("audit", "--area", own.community, GRIDMAP_DATABASE_URL=url)
    assert table.returncode == 0 and "update" in table.stdout
