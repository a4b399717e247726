"""Limits and refusals in front of the handlers: body size, anonymous rate limit, statement timeout,
the one error shape, and a start-up that refuses unsafe settings."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest

from gridmap.db.embedded import free_port
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.helpers import cli


@pytest.fixture
def serve(demo_db_shared):
    """Start the real app with some settings changed; yields an HTTP client."""
    servers = []

    def start(**changes) -> httpx.Client:
        server = LiveServer(Settings(database_url=demo_db_shared, **changes)).__enter__()
        servers.append(server)
        return httpx.Client(base_url=server.url, timeout=30)

    yield start
    for server in servers:
        server.__exit__(None)


def test_body_limits(serve):
    client = serve(rate_limit_anonymous=0)
    big = client.post("/api/v1/area", content=b"{" + b" " * (256 * 1024) + b"}",
                      headers={"Content-Type": "application/json"})  # fmt: skip
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    # A full lookup batch is bigger than the general limit, and has its own.
    points = [{"id": i, "lon": 114.03 + i * 1e-6, "lat": 22.62} for i in range(10_000)]
    batch = client.post("/api/v1/lookup", content=json.dumps(points), headers={"Content-Type": "application/json"})
    assert len(json.dumps(points)) > 256 * 1024 and batch.status_code == 200


def test_anonymous_callers_are_rate_limited(serve, demo_db_shared):
    client = serve(rate_limit_anonymous=5, rate_limit_window_s=60)
    params = {"lon": 114.03, "lat": 22.62}
    statuses = [client.get("/api/v1/lookup", params=params).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = client.get("/api/v1/lookup", params=params)
    assert limited.json()["error"]["code"] == "rate_limited" and 1 <= int(limited.headers["retry-after"]) <= 60
    assert client.get("/health").status_code == 200  # health checks are not counted
    from gridmap.access.accounts import add_key
    from gridmap.access.rules import cli_principal

    with psycopg.connect(demo_db_shared) as conn:
        token = add_key(
            conn, cli_principal(), Settings().security.secret_key.get_secret_value(), "ratelimit", "viewer", []
        )
    signed = client.get("/api/v1/lookup", params=params, headers={"Authorization": f"Bearer {token}"})
    assert signed.status_code == 200
    # A made-up token does not escape the limit: failed credentials are counted too.
    bogus = [client.get("/api/v1/lookup", params=params, headers={"Authorization": "Bearer made-up"}).status_code
             for _ in range(6)]  # fmt: skip
    assert bogus == [401] * 5 + [429]
    # …and they do not lock out valid credentials sent from the same address.
    assert client.get("/api/v1/lookup", params=params, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_slow_query_gets_503_with_retry_after_not_a_hang(serve):
    client = serve(statement_timeout_ms=1, rate_limit_anonymous=0)
    response = client.post("/api/v1/area", json={"lon": 114.03, "lat": 22.62, "radius_m": 3000})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "timeout" and response.headers["retry-after"]


def test_one_error_shape_for_routing_errors(serve):
    client = serve(rate_limit_anonymous=0)
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.put("/api/v1/lookup")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert missing.headers["x-request-id"]


def _serve_refusal(url: str, **env) -> str:
    """Run `gridmap serve` as a user would and return what it printed; it must exit non-zero."""
    result = cli("serve", "--port", str(free_port()), GRIDMAP_DATABASE_URL=url, **env)
    assert result.returncode != 0
    return result.stdout + result.stderr


def test_start_up_refuses_the_default_secret_outside_development(demo_db_shared):
    out = _serve_refusal(demo_db_shared, GRIDMAP_ENV="production")
    assert "GRIDMAP_SECRET_KEY" in out


def test_start_up_refuses_a_database_that_may_lose_writes(demo_db):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')  # noqa: S608 - our own test db
    out = _serve_refusal(demo_db, GRIDMAP_ENV="development")
    assert "synchronous_commit=off" in out
