"""GET /health: is the database reachable, and which PostGIS does it run."""

from __future__ import annotations

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
    """200 with the PostGIS version when the database answers, 503 (with Retry-After) when it does not."""
    try:
        with request.app.state.pool.connection(timeout=2) as conn:
            postgis, server = conn.execute("SELECT postgis_lib_version(), current_setting('server_version')").fetchone()
    except (PoolTimeout, psycopg.Error) as exc:
        body = {
            "status": "unavailable",
            "version": __version__,
            "database": {"reachable": False, "error": type(exc).__name__},
        }
        return JSONResponse(body, 503, headers={"Retry-After": RETRY_AFTER_S})
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "database": {"reachable": True, "postgis": postgis, "postgresql": server},
        }
    )
