"""GET /health: is the database reachable, and which PostGIS does it run."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.errors import RETRY_AFTER_S
from gridmap import __version__
from gridmap.db.health import database_health

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
    status, database = database_health(request.app.state.pool)
    body = {"status": status, "version": __version__, "database": database}
    if status != "ok":
        return JSONResponse(body, 503, headers={"Retry-After": RETRY_AFTER_S})
    return JSONResponse(body | {"lookup_index": _index_status(request)})


def _index_status(request: Request) -> dict:
    """How lookups of now are answered: ``ready`` (from memory, with its build time and size),
    ``building``/``starting`` or ``unavailable`` (from SQL meanwhile), or ``off``."""
    live = request.app.state.lookups.live
    if live is None:
        return {"state": "off"}
    live.current()  # take in pending changes and a finished build first
    return {**live.status, "pid": os.getpid()}  # which worker process answered
