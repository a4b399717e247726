"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.sessions import credentials
from gridmap.access.rules import ANONYMOUS, Principal, require
from gridmap.db.connect import pooled
from gridmap.db.idempotency import once
from gridmap.db.types import Connection
from gridmap.errors import InvalidInput
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.routing import Policy
from gridmap.lookup.service import LookupService
from gridmap.partition.algorithm import Band
from gridmap.points import check_crs, parse_at
from gridmap.settings import Settings

MAX_OFFSET = 10_000_000


def _connection(request: Request) -> Iterator[Connection]:
    with pooled(request.app.state.pool) as conn:
        yield conn


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


def _route_query_names(route: APIRoute) -> frozenset[str]:
    """A route's declared query parameters; they never change, so they are computed once and kept on the
    route (APIRoute is unhashable, and ids of routes of discarded apps get reused, so no cache by key)."""
    names = route.__dict__.get("_gridmap_query_names")
    if names is None:
        names = route._gridmap_query_names = _query_names(route.dependant)
    return names


async def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the route does not declare: a typo (``lng=``) must not be ignored silently."""
    route = request.scope.get("route")
    if route is None:
        return
    known = _route_query_names(route)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidInput(
            f"unknown query parameter {unknown[0]!r}; this endpoint takes: {', '.join(sorted(known)) or 'none'}",
            unknown[0],
        )


async def _calendar(request: Request) -> Calendar:
    return request.app.state.calendar


async def _policy(request: Request) -> Policy:
    return request.app.state.policy


async def _now() -> datetime:
    return datetime.now(UTC)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


async def _lookups(request: Request) -> LookupService:
    return request.app.state.lookups


Conn = Annotated[Connection, Depends(_connection)]
Lookups = Annotated[LookupService, Depends(_lookups)]
RawBody = Annotated[bytes, Depends(_raw_body)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CalendarDep = Annotated[Calendar, Depends(_calendar)]
PolicyDep = Annotated[Policy, Depends(_policy)]
Now = Annotated[datetime, Depends(_now)]


async def _principal(request: Request, settings: SettingsDep) -> Principal:
    """The caller behind ``Authorization: Bearer <token>`` (a session or an API key) or behind the staff
    pages' session cookie (a write must then carry the CSRF header: ``api.sessions``), else anonymous.
    Anonymous callers and tokens seen within the last half second cost no database round trip."""
    token = credentials(request, settings.security.secret_key.get_secret_value())
    if token is None:
        return ANONYMOUS
    principals = request.app.state.principals
    who = principals.cached(token)
    if who is None:
        who = await run_in_threadpool(_resolve, request.app.state.pool, principals, token)
    return who


def _resolve(pool, principals, token: str) -> Principal:
    with pooled(pool) as conn:
        return principals.resolve(conn, token)


Who = Annotated[Principal, Depends(_principal)]


async def require_reader(who: Who, settings: SettingsDep) -> None:
    """Lookups and area reads: open to anyone when GRIDMAP_PUBLIC_LOOKUP is on, else any signed-in caller."""
    if not settings.security.public_lookup:
        require(who, "read")


async def _request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


async def _if_match(
    if_match: Annotated[str | None, Header(description='The version the edit is based on: "3"')] = None,
):
    """``If-Match: "3"`` (or ``W/"3"``, or ``3``) → 3; absent → None (the core answers 428)."""
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise InvalidInput(f'If-Match must be a version like "3"; got {if_match!r}', "If-Match")
    return int(text)


RequestId = Annotated[str, Depends(_request_id)]
IfMatch = Annotated[int | None, Depends(_if_match)]


def permission(name: str):
    """A route dependency refusing callers without ``name`` (401/403) before the body is even read."""

    async def check(who: Who) -> None:
        require(who, name)

    return Depends(check)


def etag(version: int) -> dict[str, str]:
    """The ETag header of one version of an object (what If-Match sends back)."""
    return {"ETag": f'"{version}"'}


IfNoneMatch = Annotated[str | None, Header(description="An ETag seen before: 304 when nothing changed.")]


def conditional(data: bytes, if_none_match: str | None, headers: dict, media_type: str) -> Response:
    """``data`` with a strong ETag of its bytes, or an empty 304 when ``If-None-Match`` names that tag
    already: a client that revalidates (a tile, a polled queue) pays for the answer only when it changed."""
    tag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers = headers | {"ETag": tag}
    if if_none_match and (if_none_match.strip() == "*" or tag in {t.strip() for t in if_none_match.split(",")}):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


def written(version: int, location: str | None = None, replayed: bool = False) -> dict[str, str]:
    """Headers of a write's answer: its ETag, the new object's Location, and whether an Idempotency-Key
    replayed a stored answer."""
    headers = etag(version)
    if location:
        headers["Location"] = location
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


async def _band(
    min: Annotated[int, Query(ge=1, le=10_000, description="Fewest households in a micro-grid.")] = 30,
    max: Annotated[int, Query(ge=1, le=10_000, description="Most households in a micro-grid.")] = 50,
) -> Band:
    """The household band of the ``min`` and ``max`` query parameters."""
    if min > max:
        raise InvalidInput(f"min ({min}) must not exceed max ({max})", "min")
    return Band(min, max)


BandDep = Annotated[Band, Depends(_band)]


def _dependency(convert: Callable[..., Any], *params: inspect.Parameter) -> Callable[..., Any]:
    """A dependency taking exactly ``params`` (so the OpenAPI document and the validation errors name
    them as if the route declared them) and answering ``convert(**values)``."""

    async def dependency(**values: Any) -> Any:
        return convert(**values)

    dependency.__signature__ = inspect.Signature(list(params))
    return dependency


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def crs_query(description: str) -> Any:
    """The ``crs`` query parameter (default wgs84; ``description`` says what it applies to), checked once:
    the route gets the CRS name in lower case, and an unknown CRS is 422 naming the accepted ones."""
    crs = _param("crs", Annotated[str, Query(description=description)], "wgs84")
    return Annotated[str, Depends(_dependency(check_crs, crs))]


def instant_query(name: str, description: str | None = None, alias: str | None = None) -> Any:
    """An optional query parameter holding an ISO-8601 date or date-time, read in GRIDMAP_TIMEZONE when it
    has no offset: the route gets the instant, or None when it is absent (meaning now or no bound); a bad
    value is 422 naming the parameter (``alias`` when given: ``from``)."""
    text = _param(name, Annotated[str | None, Query(alias=alias, description=description)], None)
    settings = _param("settings", SettingsDep)

    def convert(settings: Settings, **values: str | None) -> datetime | None:
        return parse_at(values[name], settings.timezone, alias or name)

    return Annotated[datetime | None, Depends(_dependency(convert, text, settings))]


@dataclass(frozen=True)
class Paging:
    """One page of a list: ``limit`` items after skipping ``offset``."""

    limit: int
    offset: int


def paging_query(
    default: int, maximum: int, limit_description: str | None = None, offset_description: str | None = None
) -> Any:
    """The ``limit`` (1…``maximum``, default ``default``) and ``offset`` (0…MAX_OFFSET) query parameters."""
    limit = _param("limit", Annotated[int, Query(ge=1, le=maximum, description=limit_description)], default)
    offset = _param("offset", Annotated[int, Query(ge=0, le=MAX_OFFSET, description=offset_description)], 0)
    return Annotated[Paging, Depends(_dependency(Paging, limit, offset))]


@dataclass(frozen=True)
class Idempotency:
    """A create made retry-safe by the request's ``Idempotency-Key`` (``key``, None without one)."""

    conn: Connection
    who: Principal
    key: str | None

    def run(self, create: Callable[[], tuple[int, dict]], *asked: object) -> tuple[int, dict, bool]:
        """``create`` (returning status and body) run once per caller and key; ``asked`` (operation, body,
        options) tells a key reused for a different request. Returns status, body and whether the answer
        is a replay of the first one."""
        return once(self.conn, self.who, self.key, create, *asked)


def idempotency_key(description: str) -> Any:
    """The ``Idempotency-Key`` header (``description`` says what it guards) of the caller's create."""
    conn = _param("conn", Conn)
    who = _param("who", Who)
    key = _param("idempotency_key", Annotated[str | None, Header(description=description)], None)

    def bind(conn: Connection, who: Principal, idempotency_key: str | None) -> Idempotency:
        return Idempotency(conn, who, idempotency_key)

    return Annotated[Idempotency, Depends(_dependency(bind, conn, who, key))]
