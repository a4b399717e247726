"""Open311 GeoReport v2 at /open311/v2: services, service requests (read and create), tokens; JSON or XML
by the path's extension. Reads follow GRIDMAP_PUBLIC_LOOKUP and show each request's public view, or the
whole request to a caller that may read the case (``gridmap.incidents.open311``); creating needs an API key
(``api_key`` in the form, as the spec says, or a Bearer header) of a role that may report. Extension:
``crs`` for lat/long."""

from __future__ import annotations

import json
from datetime import timedelta
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
from gridmap.access.accounts import principal_for_token
from gridmap.access.rules import ANONYMOUS, require
from gridmap.errors import InvalidInput, NotFound
from gridmap.incidents.cases import MAX_PAGE, Queue
from gridmap.incidents.categories import get_category, list_categories, require_category
from gridmap.incidents.intake import NewReport, intake
from gridmap.incidents.open311 import FORMATS, render, service, service_definition, service_requests
from gridmap.incidents.workflow import FINAL_STATES, OPEN_STATES
from gridmap.points import check_crs, optional_point_to_wgs84, parse_at

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"], dependencies=[Depends(reject_unknown_query)])

Fmt = Annotated[Literal["json", "xml"], Path(description="json or xml")]
# The POST parameters of the spec (attribute[…] is unused: no service defines attributes), plus crs.
_POST_FIELDS = {
    "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email", "device_id",
    "account_id", "first_name", "last_name", "phone", "description", "media_url", "crs",
}  # fmt: skip


def _doc(items: list[dict], root: str, item: str, fmt: str, status: int = 200) -> Response:
    body, media_type = render(items, root, item, fmt)
    return Response(body, status, media_type=media_type)


@router.get("/services.{fmt}", summary="Open311: service list", dependencies=[Depends(require_reader)])
def services(conn: Conn, fmt: Fmt, jurisdiction_id: str | None = None) -> Response:
    """Every active incident category as a service."""
    return _doc([service(c) for c in list_categories(conn, active_only=True)], "services", "service", fmt)


@router.get("/services/{code}.{fmt}", summary="Open311: service definition", dependencies=[Depends(require_reader)])
def definition(conn: Conn, code: Annotated[str, Path(max_length=40)], fmt: Fmt, jurisdiction_id: str | None = None):
    """The service's extra attributes (none)."""
    body = service_definition(require_category(conn, code))
    if fmt == "xml":
        xml = f'<?xml version="1.0" encoding="utf-8"?><service_definition><service_code>{body["service_code"]}'
        return Response(xml + "</service_code><attributes/></service_definition>", media_type=FORMATS["xml"])
    return Response(json.dumps(body), media_type=FORMATS["json"])


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
    if service_request_id:
        ids = {p.strip() for p in service_request_id.split(",") if p.strip()}
        if not all(i.isdigit() and len(i) < 19 for i in ids):
            raise InvalidInput("service_request_id must be comma-separated numbers", "service_request_id")
        if len(ids) > MAX_PAGE:
            raise InvalidInput(f"at most {MAX_PAGE} service_request_id values at once", "service_request_id")
        q = Queue(ids=tuple(sorted(int(i) for i in ids)))
        items = service_requests(conn, who, q, now, len(ids), 0) if ids else []
        return _doc(items, "service_requests", "request", fmt)
    until = parse_at(end_date, settings.timezone, "end_date") or now
    since = parse_at(start_date, settings.timezone, "start_date") or until - timedelta(days=90)
    states = {"open": tuple(sorted(OPEN_STATES)), "closed": tuple(sorted(FINAL_STATES))}.get(status or "", ())
    if service_code:
        get_category(conn, service_code)
    q = Queue(state=states, category=service_code, since=since, until=until)
    items = service_requests(conn, who, q, now, page_size, (page - 1) * page_size)
    return _doc(items, "service_requests", "request", fmt)


@router.get(
    "/requests/{request_id}.{fmt}", summary="Open311: one service request", dependencies=[Depends(require_reader)]
)
def one_request(conn: Conn, who: Who, now: Now, request_id: Annotated[int, Path(ge=1, le=2**63 - 1)], fmt: Fmt,
                jurisdiction_id: str | None = None) -> Response:  # fmt: skip
    """A list of one request, as the spec shows: its public view unless you may read the case."""
    items = service_requests(conn, who, Queue(ids=(request_id,)), now, 1, 0)
    if not items:
        raise NotFound(f"request {request_id} does not exist")
    return _doc(items, "service_requests", "request", fmt)


@router.get("/tokens/{token}.{fmt}", summary="Open311: request id from a token", dependencies=[Depends(require_reader)])
def token(conn: Conn, token: Annotated[str, Path(max_length=100)], fmt: Fmt, jurisdiction_id: str | None = None):
    """The request a POST's token became (requests are routed at once, so the id is known immediately)."""
    row = conn.execute("SELECT incident_id FROM incident_report WHERE token = %s", (token,)).fetchone()
    if row is None:
        raise NotFound(f"no request has token {token!r}")
    return _doc([{"service_request_id": str(row[0]), "token": token}], "service_requests", "request", fmt)


def _form(raw: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the body must be application/x-www-form-urlencoded UTF-8", "body") from None
    unknown = sorted(set(parsed) - _POST_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r}", unknown[0])
    return {k: v[-1].strip() for k, v in parsed.items()}


@router.post(
    "/requests.{fmt}",
    status_code=201,
    summary="Open311: create a service request",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {k: {"type": "string"} for k in sorted(_POST_FIELDS)}}
                }
            }
        }
    },
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
    form = _form(raw)
    if who is ANONYMOUS and form.get("api_key"):
        who = principal_for_token(conn, settings.security.secret_key.get_secret_value(), form["api_key"])
    require(who, "incident.create")
    if not form.get("service_code"):
        raise InvalidInput("service_code is required", "service_code")
    crs = check_crs(form.get("crs"))
    lon, lat = optional_point_to_wgs84(form.get("long") or None, form.get("lat") or None, crs)
    name = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p) or None
    report = NewReport(
        category=form["service_code"], description=form.get("description") or "", channel="open311",
        lon=lon, lat=lat, address=form.get("address_string") or None,
        building=form.get("address_id") or None, reporter_name=name, reporter_phone=form.get("phone") or None,
        photo_urls=(form["media_url"],) if form.get("media_url") else (),
    )  # fmt: skip
    outcome = intake(conn, who, report, calendar, policy, now, request_id, lookups)
    notice = "joined an open request for the same problem nearby" if outcome.repeat else ""
    item = {"service_request_id": str(outcome.incident_id), "token": outcome.token, "service_notice": notice,
            "account_id": None}  # fmt: skip
    return _doc([item], "service_requests", "request", fmt, 201)
