"""Fault test: PostgreSQL is killed (SIGKILL) while creates are in flight, then restarted. Every create the
API acknowledged is still there, none is duplicated (retries carry their Idempotency-Key), the API
answers 503 during the outage and recovers by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from gridmap.access.accounts import add_key
from gridmap.access.rules import cli_principal
from gridmap.db.embedded import EmbeddedCluster, free_port
from gridmap.db.migrate import migrate
from gridmap.io.importer import import_file
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.helpers import GRID, small_city

WRITERS = 4
CREATES_EACH = 12


@pytest.fixture
def cluster():
    cluster = EmbeddedCluster(Path(tempfile.mkdtemp(prefix="gridmap-fault-")) / "pg")
    port = free_port()
    status = cluster.start(port)
    try:
        yield cluster, status.url(), port
    finally:
        cluster.destroy()


def _kill(cluster: EmbeddedCluster) -> None:
    pid = int((cluster.pgdata / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)


def _restart(cluster: EmbeddedCluster, port: int) -> None:
    # Backends notice their postmaster's death within moments; until then the old shared memory is busy.
    deadline = time.monotonic() + 30
    while True:
        try:
            cluster.start(port)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_acknowledged_writes_survive_a_killed_database(cluster, tmp_path):
    cluster_, url, port = cluster
    migrate(url)
    with psycopg.connect(url) as conn:
        for level, path in small_city(tmp_path).items():
            assert import_file(conn, level, path, commit=True).committed
        settings = Settings(database_url=url, rate_limit_anonymous=0, pool_timeout_s=1)
        key = add_key(conn, cli_principal(), settings.security.secret_key.get_secret_value(), "writer", "admin", [])
    acknowledged: dict[str, int] = {}
    statuses: list[int] = []
    lock = threading.Lock()
    started = threading.Event()

    def writer(w: int, base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for i in range(CREATES_EACH):
                n = w * CREATES_EACH + i
                x, y = 114.03 + 0.00005 + (n % 19) * 0.0001, 22.60 + 0.00005 + (n // 19) * 0.0001
                ring = [[x, y], [x + 0.00008, y], [x + 0.00008, y + 0.00008], [x, y + 0.00008], [x, y]]
                body = {"level": "microgrid", "parent": GRID, "name": f"w{w}-{i}", "layer": "fault",
                        "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
                headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"w{w}-{i}"}
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    try:
                        response = client.post("/api/v1/areas", json=body, headers=headers)
                    except httpx.TransportError:
                        time.sleep(0.2)
                        continue
                    with lock:
                        statuses.append(response.status_code)
                    if response.status_code == 201:
                        with lock:
                            acknowledged[f"w{w}-{i}"] = response.json()["id"]
                        started.set()
                        break
                    assert response.status_code == 503, response.text
                    assert response.headers["retry-after"]
                    time.sleep(0.2)

    with LiveServer(settings) as server:
        threads = [threading.Thread(target=writer, args=(w, server.url)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        assert started.wait(30)
        _kill(cluster_)
        time.sleep(1.5)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            down = client.get("/health")
            assert down.status_code == 503 and down.headers["retry-after"]
        _restart(cluster_, port)
        for t in threads:
            t.join(120)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/health").status_code == 200  # recovered without a restart of the app

    assert 503 in statuses, "the outage was never seen by a writer"
    assert len(acknowledged) == WRITERS * CREATES_EACH
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name, id FROM area WHERE layer = 'fault' AND valid_to IS NULL").fetchall()
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a retried create was written twice"
    assert dict(rows) == acknowledged


def test_gridmap_db_start_after_a_crash_brings_the_running_app_back(tmp_path):
    """The app found the embedded cluster by its data directory (no GRIDMAP_DATABASE_URL). After a SIGKILL,
    `gridmap db start` restarts it on the port it had, so the app's pool reconnects: /health is 200 again
    within 5 s of the restart, without restarting the app."""
    data_dir = tmp_path / "data"
    env = {**os.environ, "GRIDMAP_DATA_DIR": str(data_dir)}
    env.pop("GRIDMAP_DATABASE_URL", None)
    gridmap = [sys.executable, "-m", "cli"]
    started = subprocess.run([*gridmap, "db", "start"], env=env, capture_output=True, text=True, check=True)
    subprocess.run([*gridmap, "db", "migrate"], env=env, capture_output=True, text=True, check=True)
    cluster_ = EmbeddedCluster(data_dir / "pg")
    try:
        settings = Settings(data_dir=data_dir, rate_limit_anonymous=0, pool_timeout_s=1, escalate_every_s=0)
        with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/health").status_code == 200
            _kill(cluster_)
            deadline = time.monotonic() + 15
            while client.get("/health").status_code != 503:
                assert time.monotonic() < deadline, "the killed database was never noticed"
                time.sleep(0.2)
            deadline = time.monotonic() + 30
            while True:  # until the killed server's backends have gone and its shared memory is free
                again = subprocess.run([*gridmap, "db", "start"], env=env, capture_output=True, text=True)
                if again.returncode == 0:
                    break
                assert time.monotonic() < deadline, again.stderr
                time.sleep(0.5)
            assert again.stdout.strip() == started.stdout.strip(), "restarted on another port"
            restarted = time.monotonic()
            while client.get("/health").status_code != 200:
                assert time.monotonic() - restarted < 5, "the app did not reconnect within 5 s"
                time.sleep(0.1)
    finally:
        cluster_.destroy()
