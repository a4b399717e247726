"""Open311 GeoReport v2 at /open311/v2: services, service requests (read and create), tokens; JSON or XML
by the path's extension. Reads follow GRIDMAP_PUBLIC_LOOKUP and show each request's public view, or the
whole request to a caller that may read the case (``gridmap.incidents.open311``); creating needs an API key
(``api_key`` in the form, as the spec says, or a Bearer header) of a role that may report. Extension:
``crs`` for lat/long."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Query, Response

from api.deps import (
    CalendarDep,
    Conn,
    Lookups,
    Now,
    PolicyDep,
    RawBody,
    RequestId,
    SettingsDep,
    Who,
    reject_unknown_query,
    require_reader,
)
from api.links import photo_href
from gridmap.errors import InvalidInput
from gridmap.incidents import open311
from gridmap.incidents.categories import list_categories, require_category

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"], dependencies=[Depends(reject_unknown_query)])

Fmt = Annotated[Literal["json", "xml"], Path(description="json or xml")]
_FORM = {"type": "object", "properties": {k: {"type": "string"} for k in sorted(open311.POST_FIELDS)}}


def _doc(items: list[dict], root: str, item: str, fmt: str, status: int = 200) -> Response:
    body, media_type = open311.render(items, root, item, fmt)
    return Response(body, status, media_type=media_type)


@router.get("/services.{fmt}", summary="Open311: service list", dependencies=[Depends(require_reader)])
def services(conn: Conn, fmt: Fmt, jurisdiction_id: str | None = None) -> Response:
    """Every active incident category as a service."""
    return _doc([open311.service(c) for c in list_categories(conn, active_only=True)], "services", "service", fmt)


@router.get("/services/{code}.{fmt}", summary="Open311: service definition", dependencies=[Depends(require_reader)])
def definition(conn: Conn, code: Annotated[str, Path(max_length=40)], fmt: Fmt, jurisdiction_id: str | None = None):
    """The service's extra attributes (none)."""
    body, media_type = open311.definition_document(require_category(conn, code), fmt)
    return Response(body, media_type=media_type)


@router.get("/requests.{fmt}", summary="Open311: service requests", dependencies=[Depends(require_reader)])
def requests(
    conn: Conn,
    who: Who,
    settings: SettingsDep,
    now: Now,
    fmt: Fmt,
    service_request_id: Annotated[str | None, Query(max_length=2000, description="Comma-separated ids.")] = None,
    service_code: Annotated[str | None, Query(max_length=40)] = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    jurisdiction_id: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Requests received between start_date and end_date (default: the last 90 days), open ones first, then
    by deadline; `service_request_id` picks given ids and ignores the other filters, as the spec says.
    Each shows its public view (rounded point, public reply only) unless you may read the case."""
    search = open311.RequestSearch(service_request_id, service_code, start_date, end_date, status, page, page_size)
    items = open311.find_requests(conn, who, search, now, settings.timezone, photo_href)
    return _doc(items, "service_requests", "request", fmt)


@router.get(
    "/requests/{request_id}.{fmt}", summary="Open311: one service request", dependencies=[Depends(require_reader)]
)
def one_request(conn: Conn, who: Who, now: Now, request_id: Annotated[int, Path(ge=1, le=2**63 - 1)], fmt: Fmt,
                jurisdiction_id: str | None = None) -> Response:  # fmt: skip
    """A list of one request, as the spec shows: its public view unless you may read the case."""
    return _doc(open311.one_request(conn, who, request_id, now, photo_href), "service_requests", "request", fmt)


@router.get("/tokens/{token}.{fmt}", summary="Open311: request id from a token", dependencies=[Depends(require_reader)])
def token(conn: Conn, token: Annotated[str, Path(max_length=100)], fmt: Fmt, jurisdiction_id: str | None = None):
    """The request a POST's token became (requests are routed at once, so the id is known immediately)."""
    return _doc([open311.token_request(conn, token)], "service_requests", "request", fmt)


def _form(raw: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the body must be application/x-www-form-urlencoded UTF-8", "body") from None
    unknown = sorted(set(parsed) - open311.POST_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r}", unknown[0])
    return {k: v[-1].strip() for k, v in parsed.items()}


@router.post(
    "/requests.{fmt}",
    status_code=201,
    summary="Open311: create a service request",
    openapi_extra={"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": _FORM}}}},
)
def create_request(
    conn: Conn,
    lookups: Lookups,
    who: Who,
    settings: SettingsDep,
    request_id: RequestId,
    calendar: CalendarDep,
    policy: PolicyDep,
    now: Now,
    fmt: Fmt,
    raw: RawBody,
) -> Response:  # fmt: skip
    """Form fields per the spec: `api_key`, `service_code`, `lat`/`long` or `address_string` or
    `address_id` (a building code), `description`, `first_name`, `last_name`, `phone`, `media_url`."""
    secret = settings.security.secret_key.get_secret_value()
    item = open311.create_request(conn, who, _form(raw), secret, calendar, policy, now, request_id, lookups)
    return _doc([item], "service_requests", "request", fmt, 201)
