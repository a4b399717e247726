"""Schema migrations: plain SQL files in ``gridmap/db/migrations`` applied by yoyo-migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

from yoyo import get_backend, read_migrations


def _yoyo_url(url: str) -> str:
    """yoyo picks its driver by URL scheme; ours is psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextmanager
def _backend(url: str) -> Iterator:
    backend = get_backend(_yoyo_url(url))
    try:
        yield backend, read_migrations(str(files("gridmap.db") / "migrations"))
    finally:
        # yoyo keeps its connection open; a lingering session blocks CREATE DATABASE … TEMPLATE.
        backend.connection.close()


def pending(url: str) -> list[str]:
    """Return the ids of migrations not yet applied to the database at ``url``."""
    with _backend(url) as (backend, migrations):
        return [m.id for m in backend.to_apply(migrations)]


def migrate(url: str) -> list[str]:
    """Apply every pending migration under yoyo's lock; return the ids applied (empty when current)."""
    with _backend(url) as (backend, migrations), backend.lock():
        todo = backend.to_apply(migrations)
        backend.apply_migrations(todo)
        return [m.id for m in todo]
