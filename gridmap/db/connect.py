"""Connections and pools. The caller opens the pool (the API in its lifespan, the CLI per command)."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from gridmap.db.embedded import EmbeddedCluster
from gridmap.errors import DatabaseUnavailable
from gridmap.settings import Settings


def connection_kwargs(settings: Settings) -> dict:
    """Session options every connection gets: UTC and the statement timeout."""
    options = "-c TimeZone=UTC"
    if settings.statement_timeout_ms:
        options += f" -c statement_timeout={int(settings.statement_timeout_ms)}"
    return {"options": options}


def connect(url: str, settings: Settings | None = None, **kwargs) -> psycopg.Connection:
    """Open one connection to ``url`` with the project's session options."""
    settings = settings or Settings()
    return psycopg.connect(url, **connection_kwargs(settings), **kwargs)


def make_pool(url: str, settings: Settings) -> ConnectionPool:
    """Create a pool that is not yet open; the owner calls ``open()`` and ``close()``."""
    return ConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        kwargs=connection_kwargs(settings),
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
