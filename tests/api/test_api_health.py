"""GET /health, the landing page and the API docs over real HTTP."""

from __future__ import annotations

import re

import httpx

from gridmap.db.embedded import free_port
from gridmap.settings import Settings
from tests.conftest import LiveServer

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']?(https?://[^"' >]+)""", re.I)


def test_health_reports_postgis(live_api: httpx.Client):
    r = live_api.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"]["reachable"] is True
    assert re.match(r"^\d+\.\d+", body["database"]["postgis"])


def test_health_is_503_with_retry_after_when_the_database_is_down():
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/gridmap"
    with LiveServer(Settings(database_url=dead, pool_timeout_s=1)) as server:
        r = httpx.get(server.url + "/health", timeout=10)
        assert r.status_code == 503
        assert r.headers["retry-after"]
        assert r.json()["database"]["reachable"] is False
        missing = httpx.get(server.url + "/no-such-page", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_pages_load_nothing_from_the_internet(live_api: httpx.Client):
    for path in ("/", "/docs"):
        r = live_api.get(path)
        assert r.status_code == 200, path
        assert ASSET.findall(r.text) == [], path
        for asset in re.findall(r"""(?:src|href)\s*=\s*["'](/static/[^"']+)""", r.text):
            assert live_api.get(asset).status_code == 200, asset
    # The Swagger badge would call validator.swagger.io; the docs page's own init script turns it off.
    assert "validatorUrl: null" in live_api.get("/static/docs/swagger-init.js").text
    assert live_api.get("/openapi.json").json()["paths"]["/health"]


def test_health_says_busy_not_unreachable_when_every_connection_is_taken(demo_db_shared: str):
    settings = Settings(database_url=demo_db_shared, pool_min_size=1, pool_max_size=1, pool_timeout_s=1)
    with LiveServer(settings) as server:
        assert httpx.get(server.url + "/health", timeout=10).status_code == 200
        pool = server.server.config.app.state.pool  # the app's own pool: hold its only connection
        with pool.connection():
            r = httpx.get(server.url + "/health", timeout=10)
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json()["status"] == "busy"
        assert r.json()["database"]["reachable"] is True
        assert httpx.get(server.url + "/health", timeout=10).status_code == 200
