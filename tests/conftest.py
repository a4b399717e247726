"""Test databases on a real PostGIS.

The session starts a throwaway cluster (as the postgres user when root) unless
GRIDMAP_TEST_DATABASE_URL names a server we may create databases on. Two template databases are
built once, migrated-empty and with the demo city, and each test gets a copy (CREATE DATABASE …
TEMPLATE …), so tests never see each other's writes.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn

from gridmap.db.embedded import EmbeddedCluster, free_port
from gridmap.db.migrate import migrate
from gridmap.io.demo import load_demo
from gridmap.settings import Settings
from tests.support.helpers import create_database, drop_database, with_database

# Tests run as development (the built-in secret key is allowed); test_hardening checks production refuses it.
os.environ.setdefault("GRIDMAP_ENV", "development")

# Template names carry this session's process id: sessions sharing one server (GRIDMAP_TEST_DATABASE_URL) would
# otherwise drop and rebuild each other's templates mid-copy ("source database … is being accessed by other users").
SESSION_TAG = f"p{os.getpid()}"
EMPTY_TEMPLATE = f"gm_template_empty_{SESSION_TAG}"
DEMO_TEMPLATE = f"gm_template_demo_{SESSION_TAG}"
HANDMADE_TEMPLATE = f"gm_template_handmade_{SESSION_TAG}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _drop_stale_templates(server_url: str) -> None:
    """Drop the per-session databases (``gm_…_p<pid>``) of sessions on this machine that were killed before their
    teardown."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'gm\\_%\\_p%'")]
    for name in names:
        tag = name.rsplit("_", 1)[-1]
        if tag.startswith("p") and tag[1:].isdigit() and tag != SESSION_TAG and not _pid_alive(int(tag[1:])):
            drop_database(server_url, name)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of the maintenance database of a PostgreSQL server with PostGIS."""
    given = os.environ.get("GRIDMAP_TEST_DATABASE_URL")
    if given:
        url = with_database(given, "postgres")
        _drop_stale_templates(url)
        yield url
        for name in (HANDMADE_TEMPLATE, DEMO_TEMPLATE, EMPTY_TEMPLATE):
            drop_database(url, name)
        return
    cluster = EmbeddedCluster(Path(tempfile.mkdtemp(prefix="gridmap-test-")) / "pg")
    status = cluster.start()
    try:
        yield status.url("postgres")
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def empty_template(server_url: str) -> str:
    """Name of a migrated database with no data."""
    url = create_database(server_url, EMPTY_TEMPLATE)
    migrate(url)
    return EMPTY_TEMPLATE


@pytest.fixture(scope="session")
def demo_template(server_url: str, empty_template: str) -> str:
    """Name of a migrated database holding the demo city."""
    url = create_database(server_url, DEMO_TEMPLATE, empty_template)
    with psycopg.connect(url) as conn:
        load_demo(conn)
    return DEMO_TEMPLATE


def _copy(server_url: str, template: str) -> Iterator[str]:
    name = f"gm_test_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name, template)
    try:
        yield url
    finally:
        drop_database(server_url, name)


@pytest.fixture
def empty_db(server_url: str, empty_template: str) -> Iterator[str]:
    """URL of a fresh migrated, empty database for one test."""
    yield from _copy(server_url, empty_template)


@pytest.fixture
def demo_db(server_url: str, demo_template: str) -> Iterator[str]:
    """URL of a fresh copy of the demo city for one test (free to write)."""
    yield from _copy(server_url, demo_template)


@pytest.fixture(scope="module")
def demo_db_shared(server_url: str, demo_template: str) -> Iterator[str]:
    """URL of a demo-city copy shared by one module's read-only tests."""
    yield from _copy(server_url, demo_template)


@pytest.fixture(scope="module")
def demo_db_module(server_url: str, demo_template: str) -> Iterator[str]:
    """URL of a demo-city copy one module writes to; its tests use objects of their own, not each other's."""
    yield from _copy(server_url, demo_template)


@pytest.fixture(scope="session")
def handmade_template(server_url: str, empty_template: str, tmp_path_factory) -> str:
    """Name of a migrated database holding the hand-made lookup city (tests/support/handmade.py)."""
    from tests.support.handmade import load_handmade

    load_handmade(create_database(server_url, HANDMADE_TEMPLATE, empty_template), tmp_path_factory.mktemp("handmade"))
    return HANDMADE_TEMPLATE


@pytest.fixture(scope="module")
def handmade_db(server_url: str, handmade_template: str) -> Iterator[str]:
    """URL of a hand-made-city copy shared by one module's read-only tests."""
    yield from _copy(server_url, handmade_template)


class LiveServer:
    """The real app under uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, settings: Settings):
        from api.app import UVICORN_OPTIONS, create_app

        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", **UVICORN_OPTIONS
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_api(demo_db_shared: str) -> Iterator[httpx.Client]:
    """An HTTP client for the real app serving the demo city."""
    # The anonymous rate limit is off here (these modules make hundreds of calls); test_hardening checks it.
    settings = Settings(database_url=demo_db_shared, rate_limit_anonymous=0)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as client:
        yield client


@pytest.fixture(scope="module")
def access_api(server_url: str, demo_template: str) -> Iterator[tuple]:
    """A demo-city copy with one principal per role (tests/support/access_setup.py) and the app serving it:
    (client, url, tokens, own community side, foreign community side)."""
    from tests.support.access_setup import communities, make_principals

    for url in _copy(server_url, demo_template):
        settings = Settings(database_url=url, rate_limit_anonymous=0)
        own, foreign = communities(url)
        tokens = make_principals(url, own.community, settings)
        with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield client, url, tokens, own, foreign


@pytest.fixture(scope="module")
def planner_api(server_url: str, demo_template: str) -> Iterator[tuple]:
    """A demo-city copy with planners ana and bo (one community) and cy (another), served by the app:
    (base url, database url, planner_setup.Target). Each module gets its own copy to write to."""
    from tests.support.planner_setup import add_planners, find

    for url in _copy(server_url, demo_template):
        target = find(url)
        add_planners(url, target)
        with LiveServer(Settings(database_url=url, rate_limit_anonymous=0)) as server:
            yield server.url, url, target
