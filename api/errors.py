"""One table from domain errors to HTTP statuses, and the single JSON error shape
``{"error": {"code", "message", "field"?}}`` for every 4xx/5xx."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridmap.db.errors import TRANSLATED, translate
from gridmap.errors import (
    Busy,
    DatabaseUnavailable,
    Forbidden,
    GridmapError,
    InvalidInput,
    NotFound,
    PreconditionRequired,
    QueryTimeout,
    RateLimited,
    RetryLater,
    StateConflict,
    Unauthenticated,
    UnsafeDatabase,
    UnsupportedMedia,
    VersionConflict,
)
from gridmap.incidents.open311 import error_document

STATUS: dict[type[GridmapError], int] = {
    InvalidInput: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    VersionConflict: 409,
    StateConflict: 409,
    UnsupportedMedia: 415,
    PreconditionRequired: 428,
    RateLimited: 429,
    DatabaseUnavailable: 503,
    QueryTimeout: 503,
    Busy: 503,
    UnsafeDatabase: 503,
}
RETRY_AFTER_S = "5"


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    """The JSON error body; ``extra`` adds members (e.g. the versions of a conflict)."""
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    return {"error": body | extra}


def _headers(status: int) -> dict | None:
    if status == 503:
        return {"Retry-After": RETRY_AFTER_S}
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    return None


OPEN311_PREFIX = "/open311/"
# OGC API – Features requires 400 for an unknown or invalid query parameter.
OGC_PREFIX = "/ogc"


def _respond(request: Request, body: dict, status: int, headers: dict | None = None) -> Response:
    """The common JSON error, or under /open311/ the spec's error list (JSON or XML by the extension), where
    a bad parameter is 400 as the spec's examples show; under /ogc the common error with 400 for a bad
    parameter, as OGC API – Features requires."""
    path = request.url.path
    if path == OGC_PREFIX or path.startswith(OGC_PREFIX + "/"):
        return JSONResponse(body, 400 if status == 422 else status, headers=headers)
    if not path.startswith(OPEN311_PREFIX):
        return JSONResponse(body, status, headers=headers)
    fmt = "xml" if path.endswith(".xml") else "json"
    status = 400 if status == 422 else status
    content, media_type = error_document(status, body["error"]["message"], fmt)
    return Response(content, status, media_type=media_type, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the common JSON shape."""

    @app.exception_handler(GridmapError)
    async def domain_error(request: Request, exc: GridmapError) -> Response:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
        extra = {"provided": exc.provided, "current": exc.current} if isinstance(exc, VersionConflict) else {}
        if getattr(exc, "findings", None):
            extra["findings"] = exc.findings
        body = error_body(exc.code, str(exc), getattr(exc, "field", None), **extra)
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RetryLater) else _headers(status)
        return _respond(request, body, status, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        field = _field_name(first.get("loc", ()))
        message = first.get("msg", "invalid request")
        if first.get("type") == "extra_forbidden" and field and field.endswith("version"):
            message = "the version cannot be set; send the version an edit is based on as If-Match"
        elif first.get("type") == "extra_forbidden":
            message = "unknown field; remove it (see the schema in /docs)"
        elif first.get("type") == "json_invalid":
            at = first.get("loc", ("body", "?"))[-1]
            message = f"the body is not valid JSON (at character {at}): {first.get('ctx', {}).get('error', message)}"
            field = "body"
        return _respond(request, error_body("invalid_input", f"{field}: {message}" if field else message, field), 422)

    async def database_error(request: Request, exc: Exception) -> Response:
        # The core says which domain error a database exception stands for (a query past the statement
        # timeout, a value the database cannot hold, a lost connection); the others are internal errors.
        error = translate(exc)
        if error is None:
            return await server_error(request, exc)
        return await domain_error(request, error)

    for database_exception in TRANSLATED:
        app.add_exception_handler(database_exception, database_error)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Still logged by the server; the caller gets the common shape, never a stack trace.
        return _respond(request, error_body("internal", "internal error; it has been logged"), 500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _respond(request, error_body(code, str(exc.detail)), exc.status_code, exc.headers)


def _field_name(loc) -> str | None:
    """``("body", 3, "lon")`` → ``points[3].lon`` style names callers can find in their request."""
    parts = [p for p in loc if p not in ("body", "query", "path")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or ("body" if tuple(loc) == ("body",) else None)
