"""Lookups from the in-process index over real HTTP: read-your-writes on a server with 2 uvicorn
workers, credentials revoked within a second on every worker, and SQL answers while the index builds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

import gridmap.lookup.live as live_module
from gridmap.db.embedded import free_port
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.access_setup import add_principal, communities, make_principals
from tests.support.helpers import cli

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 8
ASKS = 12  # lookups per round, each on a new connection, so both workers answer


def _point_of(url: str, microgrid_id: int) -> tuple[float, float]:
    with psycopg.connect(url) as conn:
        # away from buildings: a point in a tower split between micro-grids names none of them
        return conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Difference(a.geom, coalesce("
            " (SELECT ST_Union(b.geom) FROM building b WHERE b.geom && a.geom), 'POLYGON EMPTY'::geometry))) p"
            " FROM area a WHERE a.id = %s AND a.valid_to IS NULL) s",
            (microgrid_id,),
        ).fetchone()


def _ready_everywhere(base: str, workers: int = 2, timeout: float = 180) -> set[int]:
    """Wait until /health says the index is ready from ``workers`` distinct processes; their pids."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = httpx.get(f"{base}/health", timeout=5).json()["lookup_index"]  # a new connection: any worker
            seen[status["pid"]] = status["state"]
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        if len(seen) >= workers and all(s == "ready" for s in seen.values()):
            return set(seen)
        time.sleep(0.2)
    raise AssertionError(f"the index did not become ready on {workers} workers: {seen}")


@pytest.fixture(scope="module")
def two_workers(server_url, demo_template):
    """The real app under ``uvicorn --workers 2`` on its own copy of the demo city."""
    from tests.conftest import _copy

    copies = _copy(server_url, demo_template)
    url = next(copies)
    settings = Settings(database_url=url)
    own, _ = communities(url)
    tokens = make_principals(url, own.community, settings)
    port = free_port()
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_RATE_LIMIT_ANONYMOUS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "2", "--log-level", "warning", "--no-proxy-headers"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        pids = _ready_everywhere(base)
        yield base, url, tokens, own, pids
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        next(copies, None)


def _ask_everywhere(base: str, path: str, headers=None, asks: int = ASKS) -> list[tuple[httpx.Response, int]]:
    """``asks`` GETs of ``path``, each on a new connection (so either worker may answer), with the pid of
    the worker that answered (its /health, asked afterwards on the same kept-alive connection)."""
    out = []
    for _ in range(asks):
        with httpx.Client(base_url=base, timeout=10) as fresh:
            response = fresh.get(path, headers=headers or {})
            out.append((response, fresh.get("/health").json()["lookup_index"]["pid"]))
    return out


def test_a_lookup_after_a_write_answers_the_new_state_on_every_worker(two_workers):
    base, url, tokens, own, pids = two_workers
    lon, lat = _point_of(url, own.microgrid_id)
    planner = {"Authorization": f"Bearer {tokens['planner']}"}
    answered_by: set[int] = set()
    with httpx.Client(base_url=base, timeout=30) as client:
        for round_ in range(ROUNDS):
            version = client.get(f"/api/v1/areas/{own.microgrid_id}").headers["etag"]
            name = f"第{round_}次改名"
            edit = client.patch(f"/api/v1/areas/{own.microgrid_id}", json={"name": name},
                                headers=planner | {"If-Match": version})  # fmt: skip
            assert edit.status_code == 200, edit.text
            # No pause: the very next lookups, on new connections, must see the new name everywhere.
            for r, pid in _ask_everywhere(base, f"/api/v1/lookup?lon={lon!r}&lat={lat!r}"):
                assert r.status_code == 200
                assert (r.json()["microgrid"] or {}).get("name") == name, (round_, pid, r.json())
                answered_by.add(pid)
    assert answered_by == pids  # both workers answered, and each answered the new state
    health = [r.json()["lookup_index"] for r, _ in _ask_everywhere(base, "/health", asks=6)]
    assert all(h["state"] == "ready" for h in health)


def test_a_write_straight_in_the_database_reaches_every_worker_within_a_second(two_workers):
    """Another system's write (no HTTP, no command line) arrives by NOTIFY alone."""
    base, url, _, own, _ = two_workers
    lon, lat = _point_of(url, own.microgrid_id)
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE person SET phone = '13900000042' WHERE area_id = %s AND role = 'microgrid_worker'",
            (own.microgrid_id,),
        )
    time.sleep(1.0)
    for r, _ in _ask_everywhere(base, f"/api/v1/lookup?lon={lon!r}&lat={lat!r}", asks=8):
        phones = {p["phone"] for p in r.json()["people"] if p["role"] == "microgrid_worker"}
        assert phones == {"139****0042"}, phones  # masked for the anonymous caller, and new


@pytest.mark.parametrize("how", ["command line", "straight in SQL"])
def test_a_revoked_key_is_refused_on_every_worker_within_a_second(two_workers, how):
    base, url, _, _, _ = two_workers
    name = f"revoke-{how.replace(' ', '-')}"
    with psycopg.connect(url) as conn:
        token = add_principal(conn, Settings(database_url=url), name, "viewer", [], is_key=True)
    headers = {"Authorization": f"Bearer {token}"}
    assert {r.status_code for r, _ in _ask_everywhere(base, "/api/v1/auth/me", headers)} == {200}  # cached now
    if how == "command line":
        done = cli("key", "revoke", name, GRIDMAP_DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
    else:
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE api_key SET revoked_at = now() WHERE name = %s", (name,))
    time.sleep(1.0)
    assert {r.status_code for r, _ in _ask_everywhere(base, "/api/v1/auth/me", headers)} == {401}


def test_lookups_are_answered_from_sql_while_the_index_builds(demo_db, monkeypatch):
    release = threading.Event()
    real_build = live_module.LiveIndex._build

    def slow_build(self):
        release.wait(60)
        return real_build(self)

    monkeypatch.setattr(live_module.LiveIndex, "_build", slow_build)
    own, _ = communities(demo_db)
    lon, lat = _point_of(demo_db, own.microgrid_id)
    with (
        LiveServer(Settings(database_url=demo_db, rate_limit_anonymous=0)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        assert client.get("/health").json()["lookup_index"]["state"] == "building"
        from_sql = client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
        assert from_sql.status_code == 200 and from_sql.json()["microgrid"]["id"] == own.microgrid_id
        release.set()
        deadline = time.monotonic() + 60
        while client.get("/health").json()["lookup_index"]["state"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        from_index = client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
        assert from_index.json() == from_sql.json()
