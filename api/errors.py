"""One table from domain errors to HTTP statuses, and the single JSON error shape
``{"error": {"code", "message", "field"?}}`` for every 4xx/5xx."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridmap.errors import DatabaseUnavailable, GridmapError, InvalidInput, NotFound

STATUS: dict[type[GridmapError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    DatabaseUnavailable: 503,
}
RETRY_AFTER_S = "5"


def error_body(code: str, message: str, field: str | None = None) -> dict:
    """The JSON error body."""
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    return {"error": body}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the common JSON shape."""

    @app.exception_handler(GridmapError)
    async def domain_error(request: Request, exc: GridmapError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
        headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
        return JSONResponse(error_body(exc.code, str(exc), getattr(exc, "field", None)), status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")) or None
        return JSONResponse(error_body("invalid_input", first.get("msg", "invalid request"), field), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)
