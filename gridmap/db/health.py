"""Is the database reachable, and which PostGIS does it run: what GET /health shows of the database."""

from __future__ import annotations

import threading

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

_probing = threading.Lock()


def database_health(pool: ConnectionPool) -> tuple[str, dict]:
    """(status, database): ``ok`` with the PostGIS and PostgreSQL versions when a pooled connection answers;
    else ``busy`` (reachable, every pooled connection in use) or ``unavailable`` (unreachable), with why."""
    try:
        with pool.connection(timeout=2) as conn:
            postgis, server = conn.execute("SELECT postgis_lib_version(), current_setting('server_version')").fetchone()
    except PoolTimeout:
        # No pooled connection came free: either all are in use (busy) or none can be made (down). One
        # connection of its own, at most one at a time, tells which.
        reachable = _probe(pool)
        if reachable:
            return "busy", {"reachable": True, "busy": True, "connections": pool.get_stats()["pool_size"]}
        return "unavailable", {"reachable": reachable, "error": "PoolTimeout"}
    except psycopg.Error as exc:
        return "unavailable", {"reachable": False, "error": type(exc).__name__}
    return "ok", {"reachable": True, "postgis": postgis, "postgresql": server}


def _probe(pool: ConnectionPool) -> bool | None:
    """Whether a connection outside the pool can be opened (None while another probe is under way, so a
    flood of health checks opens no more than one connection)."""
    if not _probing.acquire(blocking=False):
        return None
    try:
        with psycopg.connect(pool.conninfo, connect_timeout=2, **pool.kwargs):
            return True
    except psycopg.Error:
        return False
    finally:
        _probing.release()
