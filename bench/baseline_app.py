"""The floor for HTTP benchmarks: a FastAPI app whose endpoint returns a constant, served with the same
uvicorn settings as gridmap, so the ratio isolates what the lookup itself costs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()
_BODY = {"match": "inside", "microgrid": {"code": "440309002005061001"}}


@app.get("/api/v1/lookup")
def constant(lon: float, lat: float) -> JSONResponse:
    """Same route, same query parsing, no database."""
    return JSONResponse(_BODY)
