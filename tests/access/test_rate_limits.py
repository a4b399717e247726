"""Rate limits against the real app over HTTP: whose address a request counts against (X-Forwarded-For
only from trusted proxies), login throttling per account and per address, valid credentials from an
address that sent many bad ones, and the bound on concurrent password checks."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from gridmap.db.embedded import free_port
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.helpers import GRIDMAP_COMMAND, cli_env

PASSWORD = "a long enough password"
SPOT = {"lon": 114.03, "lat": 22.62}
# Login tests that are not about the per-address or per-account limit lift it out of the way.
UNLIMITED = {"rate_limit_anonymous": 0, "login_free_failures": 1000, "login_address_free_failures": 1000}


@pytest.fixture
def serve(demo_db_shared):
    """Start the real app with some settings changed; yields a function returning an HTTP client that
    connects from ``local_address`` (any 127.x address: loopback answers them all)."""
    servers, clients = [], []

    def start(local_address: str = "127.0.0.1", **changes) -> httpx.Client:
        server = LiveServer(Settings(database_url=demo_db_shared, **changes)).__enter__()
        servers.append(server)
        transport = httpx.HTTPTransport(local_address=local_address)
        clients.append(httpx.Client(base_url=server.url, timeout=30, transport=transport))
        return clients[-1]

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.__exit__(None)


@contextmanager
def gridmap_serve(**env) -> Iterator[str]:
    """`gridmap serve` as a deployment starts it, in a process of its own; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [GRIDMAP_COMMAND, "serve", "--port", str(port)],
        env=cli_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gridmap serve did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _add_user(url: str, name: str) -> None:
    with psycopg.connect(url) as conn:
        accounts.add_user(conn, cli_principal(), name, PASSWORD, "viewer", [])


def _login(client: httpx.Client, name: str, password: str, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return client.post("/api/v1/auth/login", json={"username": name, "password": password}, headers=headers)


def _statuses(client: httpx.Client, forwarded_for: list[str]) -> list[int]:
    return [
        client.get("/api/v1/lookup", params=SPOT, headers={"X-Forwarded-For": f}).status_code for f in forwarded_for
    ]


ROTATING = [f"203.0.113.{i}" for i in range(1, 5)]


def test_forwarded_for_from_an_untrusted_peer_is_ignored(serve):
    # GRIDMAP_TRUSTED_PROXIES is empty: 127.0.0.1 is a client like any other, whatever it claims.
    client = serve(rate_limit_anonymous=3)
    assert _statuses(client, ROTATING) == [200, 200, 200, 429]
    # A proxy listed as trusted does not make other peers trusted.
    client = serve(rate_limit_anonymous=3, trusted_proxies="10.0.0.0/8")
    assert _statuses(client, ROTATING) == [200, 200, 200, 429]


def test_gridmap_serve_ignores_forwarded_for_from_an_untrusted_peer(demo_db_shared):
    env = {"GRIDMAP_DATABASE_URL": demo_db_shared, "GRIDMAP_ENV": "development", "GRIDMAP_RATE_LIMIT_ANONYMOUS": "3"}
    with gridmap_serve(**env) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert _statuses(client, ROTATING) == [200, 200, 200, 429]


def test_forwarded_for_from_a_trusted_proxy_names_the_client(serve):
    # The proxy connects from 127.0.0.3, which uvicorn would never trust by itself (its default is
    # 127.0.0.1 and ::1): only the setting makes it trusted.
    client = serve(local_address="127.0.0.3", rate_limit_anonymous=3, trusted_proxies="10.9.0.0/16, 127.0.0.3")
    assert _statuses(client, [f"198.51.100.{i}" for i in range(1, 7)]) == [200] * 6  # six clients
    assert _statuses(client, ["198.51.100.50"] * 4) == [200, 200, 200, 429]  # one client
    # What the client itself put in front of the proxy's entry changes nothing: the rightmost
    # address not of a trusted proxy is the client.
    chains = [f"192.0.2.{i}, 198.51.100.60, 10.9.0.7" for i in range(1, 5)]
    assert _statuses(client, chains) == [200, 200, 200, 429]


def test_the_right_password_waits_out_the_delay_after_failed_logins(serve, demo_db_shared):
    client = serve(**UNLIMITED | {"login_free_failures": 3, "login_delay_base_s": 1})
    _add_user(demo_db_shared, "waits")
    assert [_login(client, "waits", "wrong password").status_code for _ in range(3)] == [401] * 3
    refused = _login(client, "waits", PASSWORD)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and "even with the right password" in error["message"]
    time.sleep(int(refused.headers["retry-after"]))
    # Each further failure doubles the wait.
    assert _login(client, "waits", "wrong password").status_code == 401
    refused = _login(client, "waits", PASSWORD)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    time.sleep(int(refused.headers["retry-after"]))
    assert _login(client, "waits", PASSWORD).status_code == 200
    # A success resets the account's count: the next failure is free again.
    assert _login(client, "waits", "wrong password").status_code == 401
    assert _login(client, "waits", PASSWORD).status_code == 200


def test_failures_from_many_addresses_still_throttle_the_account(serve, demo_db_shared):
    client = serve(**UNLIMITED | {"trusted_proxies": "127.0.0.1", "login_free_failures": 3, "login_delay_base_s": 60})
    _add_user(demo_db_shared, "target")
    _add_user(demo_db_shared, "bystander")
    wrong = [_login(client, "target", "wrong password", f"198.51.100.{i}").status_code for i in range(1, 4)]
    assert wrong == [401] * 3
    refused = _login(client, "target", PASSWORD, "198.51.100.4")
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    # Per account: another account from the same addresses is not affected.
    assert _login(client, "bystander", PASSWORD, "198.51.100.1").status_code == 200


def test_failures_for_many_accounts_from_one_address_throttle_the_address(serve, demo_db_shared):
    limits = {"trusted_proxies": "127.0.0.1", "login_address_free_failures": 3, "login_delay_base_s": 60}
    client = serve(**UNLIMITED | limits)
    _add_user(demo_db_shared, "office")
    # Successful logins do not count: many users behind one address may log in.
    assert [_login(client, "office", PASSWORD, "192.0.2.7").status_code for _ in range(5)] == [200] * 5
    wrong = [_login(client, f"guess{i}", "wrong password", "192.0.2.7").status_code for i in range(3)]
    assert wrong == [401] * 3
    refused = _login(client, "office", PASSWORD, "192.0.2.7")
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert _login(client, "office", PASSWORD, "192.0.2.8").status_code == 200


def test_a_valid_key_still_works_after_many_bad_tokens_from_its_address(serve, demo_db_shared):
    client = serve()  # the default limit: 100 failed credentials per 180 s
    with psycopg.connect(demo_db_shared) as conn:
        key = accounts.add_key(
            conn, cli_principal(), Settings().security.secret_key.get_secret_value(), "busy", "viewer", []
        )
    bad = [client.get("/api/v1/lookup", params=SPOT, headers={"Authorization": f"Bearer gmk_made-up-{i}"})
           for i in range(105)]  # fmt: skip
    assert [r.status_code for r in bad] == [401] * 100 + [429] * 5
    assert bad[-1].headers["retry-after"]
    valid = client.get("/api/v1/lookup", params=SPOT, headers={"Authorization": f"Bearer {key}"})
    assert valid.status_code == 200
    unknown = client.get("/api/v1/lookup", params=SPOT, headers={"Authorization": "Bearer gmk_made-up"})
    assert unknown.status_code == 429


class Verifications:
    """Stands in for the argon2 hasher, counting how many verifications run at once; ``gate`` (when set)
    holds each one until it is opened."""

    def __init__(self, hasher, gate: threading.Event | None = None):
        self.hasher, self.gate = hasher, gate
        self.lock = threading.Lock()
        self.running = self.most = self.calls = 0
        self.entered = threading.Event()

    def verify(self, hash_, password):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        self.entered.set()
        try:
            if self.gate is not None:
                self.gate.wait(timeout=10)
            else:
                time.sleep(0.02)  # widens the window in which unbounded checks would overlap
            return self.hasher.verify(hash_, password)
        finally:
            with self.lock:
                self.running -= 1


def test_parallel_logins_run_one_password_check_at_a_time(serve, monkeypatch):
    client = serve(**UNLIMITED | {"login_hash_concurrency": 1})
    checks = Verifications(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", checks)

    def attempt(i: int) -> httpx.Response:
        return _login(client, f"parallel{i}", "wrong password")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(32)))
    statuses = {r.status_code for r in answers}
    assert statuses <= {401, 503} and 401 in statuses
    assert all(r.headers["retry-after"] for r in answers if r.status_code == 503)
    assert checks.calls >= 1 and checks.most == 1


def test_a_login_that_cannot_get_a_password_check_is_told_to_retry(serve, monkeypatch):
    client = serve(**UNLIMITED | {"login_hash_concurrency": 1})
    gate = threading.Event()
    checks = Verifications(accounts._hasher, gate)
    monkeypatch.setattr(accounts, "_hasher", checks)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_login, client, "first", "wrong password")
        assert checks.entered.wait(timeout=10)  # the first login holds the only slot
        second = _login(client, "second", "wrong password")
        gate.set()
        assert first.result().status_code == 401
    assert second.status_code == 503 and second.json()["error"]["code"] == "busy"
    assert second.headers["retry-after"] and checks.most == 1
