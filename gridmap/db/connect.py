"""Connections and pools. The caller opens the pool (the API in its lifespan, the CLI per command)."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from gridmap.db.embedded import EmbeddedCluster
from gridmap.errors import DatabaseUnavailable
from gridmap.settings import Settings


def _options(statement_timeout_ms: int = 0) -> dict:
    # JIT compiles for ~0.4 s whenever a misestimated plan looks costly; our queries are short index probes.
    options = "-c TimeZone=UTC -c jit=off"
    if statement_timeout_ms:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    return {"options": options}


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Open one connection for batch work (CLI import/export/demo): UTC, no statement timeout,
    because one statement of a city-sized import may rightly run for minutes."""
    return psycopg.connect(url, **_options(), **kwargs)


def make_pool(url: str, settings: Settings) -> ConnectionPool:
    """Create a pool that is not yet open; the owner calls ``open()`` and ``close()``.

    Its connections carry ``statement_timeout`` so that no request can hang on the database."""
    return ConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        kwargs=_options(settings.statement_timeout_ms),
        open=False,
        name="gridmap",
    )


def database_url(settings: Settings) -> str:
    """The URL to use: ``GRIDMAP_DATABASE_URL`` if set, else the running embedded cluster's."""
    if settings.database_url:
        return settings.database_url
    url = EmbeddedCluster(settings.embedded_dir).status().url()
    if url is None:
        raise DatabaseUnavailable(
            "GRIDMAP_DATABASE_URL is unset and the embedded database is not running; start it with `gridmap db start`"
        )
    return url
