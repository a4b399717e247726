"""Connections and pools. The caller opens the pool (the API in its lifespan, the CLI per command).

Every connection handed out here reads and writes JSON through orjson (``configure_json``): an owner answer
or an incident's route snapshot is a couple of kilobytes, and with the standard library parsing and writing
them was a fifth of a bulk import. It is set per connection, so importing gridmap changes nothing for a
program's other psycopg connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import psycopg
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from gridmap.db.embedded import EmbeddedCluster
from gridmap.db.epoch import announce_write
from gridmap.errors import DatabaseUnavailable, GridmapError, UnsafeDatabase
from gridmap.settings import DEFAULT_SECRET_KEY, Settings


def _options(statement_timeout_ms: int = 0) -> dict:
    # JIT compiles for ~0.4 s whenever a misestimated plan looks costly; our queries are short index probes.
    options = "-c TimeZone=UTC -c jit=off"
    if statement_timeout_ms:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    return {"options": options}


class _BatchConnection(psycopg.Connection):
    """A connection that, when its ``with`` block ends (and commits), announces a write on this
    machine (``gridmap.db.epoch``), so the servers' lookup indexes take the change in before their next
    answer. A command that wrote nothing costs them one extra round trip."""

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        dsn = self.info.dsn
        try:
            super().__exit__(exc_type, exc_val, exc_tb)
        finally:
            announce_write(dsn)


def _orjson_dumps(value) -> bytes:
    # Non-string keys become strings, as the standard library would make them.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def configure_json(conn: psycopg.Connection) -> psycopg.Connection:
    """Make ``conn`` (and its cursors) dump and load json/jsonb with orjson; returns ``conn``."""
    set_json_dumps(_orjson_dumps, context=conn)
    set_json_loads(orjson.loads, context=conn)
    return conn


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Open one connection for batch work (CLI import/export/demo): UTC, no statement timeout,
    because one statement of a city-sized import may rightly run for minutes."""
    return configure_json(_BatchConnection.connect(url, **_options(), **kwargs))


def make_pool(url: str, settings: Settings) -> ConnectionPool:
    """Create a pool that is not yet open; the owner calls ``open()`` and ``close()``.

    Its connections carry ``statement_timeout`` so that no request can hang on the database. They are in
    autocommit mode: each write is one explicit transaction that commits inside the request, so a write
    is durable before its answer is sent (a commit left to the pool's return would run after it)."""
    return ConnectionPool(
        url,
        min_size=settings.database.pool_min_size,
        max_size=settings.database.pool_max_size,
        timeout=settings.database.pool_timeout_s,
        kwargs=_options(settings.database.statement_timeout_ms) | {"autocommit": True},
        configure=_configure_pooled,
        # After a database restart the idle connections are dead; test each before lending it, so the
        # first requests after an outage do not fail on a stale connection.
        check=ConnectionPool.check_connection,
        open=False,
        name="gridmap",
    )


@contextmanager
def pooled(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """A connection lent by ``pool``; DatabaseUnavailable (503) when none comes within the pool's timeout."""
    try:
        with pool.connection() as conn:
            yield conn
    except PoolTimeout:
        raise DatabaseUnavailable("the database is not answering; retry shortly") from None


def _configure_pooled(conn: psycopg.Connection) -> None:
    configure_json(conn)
    check_durability(conn)


def check_durability(conn: psycopg.Connection) -> None:
    """Raise UnsafeDatabase when the server may lose acknowledged writes (fsync or synchronous_commit
    off, for the server, this database or this role). Runs on every new pool connection."""
    fsync, sync_commit = conn.execute(
        "SELECT current_setting('fsync'), current_setting('synchronous_commit')"
    ).fetchone()
    if not conn.autocommit:
        conn.rollback()  # the pool wants its new connections idle
    if fsync == "off" or sync_commit == "off":
        raise UnsafeDatabase(
            f"refusing to use a database with fsync={fsync}, synchronous_commit={sync_commit}: acknowledged "
            "writes could be lost in a crash; turn both on"
        )


def check_startup(settings: Settings, url: str) -> None:
    """Refuse to serve with the built-in secret key outside development, or with a database that may lose
    acknowledged writes. An unreachable database is not an error here: the pool keeps trying."""
    if settings.env != "development" and settings.security.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
        raise GridmapError(
            "GRIDMAP_SECRET_KEY is the built-in development key; set a long random one "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) or GRIDMAP_ENV=development"
        )
    try:
        with psycopg.connect(url, connect_timeout=3, **_options()) as conn:
            check_durability(conn)
    except psycopg.OperationalError:
        return


def database_url(settings: Settings) -> str:
    """The URL to use: ``GRIDMAP_DATABASE_URL`` if set, else the running embedded cluster's."""
    if settings.database.database_url:
        return settings.database.database_url
    url = EmbeddedCluster(settings.embedded_dir).status().url()
    if url is None:
        raise DatabaseUnavailable(
            "GRIDMAP_DATABASE_URL is unset and the embedded database is not running; start it with `gridmap db start`"
        )
    return url
