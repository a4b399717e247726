"""GET /health: is the database reachable, and which PostGIS does it run."""

from __future__ import annotations

import os
import threading

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from api.errors import RETRY_AFTER_S
from gridmap import __version__

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    summary="Service and database health",
    responses={503: {"description": "The database is unreachable"}},
)
def health(request: Request) -> JSONResponse:
    """200 with the PostGIS version and the lookup index's state when the database answers; 503 (with
    Retry-After) when it does not, saying ``busy`` (reachable, every pooled connection in use) apart from
    ``unavailable`` (unreachable)."""
    pool = request.app.state.pool
    try:
        with pool.connection(timeout=2) as conn:
            postgis, server = conn.execute("SELECT postgis_lib_version(), current_setting('server_version')").fetchone()
    except PoolTimeout:
        # No pooled connection came free: either all are in use (busy) or none can be made (down). One
        # connection of its own, at most one at a time, tells which.
        reachable = _probe(pool)
        if reachable:
            return _unavailable("busy", {"reachable": True, "busy": True, "connections": pool.get_stats()["pool_size"]})
        return _unavailable("unavailable", {"reachable": reachable, "error": "PoolTimeout"})
    except psycopg.Error as exc:
        return _unavailable("unavailable", {"reachable": False, "error": type(exc).__name__})
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "database": {"reachable": True, "postgis": postgis, "postgresql": server},
            "lookup_index": _index_status(request),
        }
    )


def _index_status(request: Request) -> dict:
    """How lookups of now are answered: ``ready`` (from memory, with its build time and size),
    ``building``/``starting`` or ``unavailable`` (from SQL meanwhile), or ``off``."""
    live = request.app.state.lookups.live
    if live is None:
        return {"state": "off"}
    live.current()  # take in pending changes and a finished build first
    return {**live.status, "pid": os.getpid()}  # which worker process answered


_probing = threading.Lock()


def _probe(pool) -> bool | None:
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


def _unavailable(status: str, database: dict) -> JSONResponse:
    body = {"status": status, "version": __version__, "database": database}
    return JSONResponse(body, 503, headers={"Retry-After": RETRY_AFTER_S})
