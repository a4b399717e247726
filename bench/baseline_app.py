"""The floor for HTTP benchmarks: a FastAPI app whose endpoints return a constant, served with the same
uvicorn settings as gridmap (same number of workers), so the ratio isolates what the work itself costs.
Both endpoints are ``async def``, like gridmap's lookup: answered in the event loop, no thread hop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()
_BODY = {"match": "inside", "microgrid": {"code": "440309002005061001"}}
_CASE = {"id": 1, "state": "received", "version": 1, "repeat": False}


@app.get("/api/v1/lookup")
async def constant(lon: float, lat: float) -> JSONResponse:
    """Same route, same query parsing, no database."""
    return JSONResponse(_BODY)


@app.post("/api/v1/incidents", status_code=201)
async def constant_intake(body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Same route, the JSON body parsed, no database: the floor of intake."""
    return JSONResponse(_CASE, 201)
