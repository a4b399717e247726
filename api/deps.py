"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from psycopg_pool import PoolTimeout

from gridmap.errors import DatabaseUnavailable, InvalidInput
from gridmap.settings import Settings


def _connection(request: Request) -> Iterator[psycopg.Connection]:
    try:
        with request.app.state.pool.connection() as conn:
            yield conn
    except PoolTimeout:
        raise DatabaseUnavailable("the database is not answering; retry shortly") from None


def _settings(request: Request) -> Settings:
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


def reject_unknown_query(request: Request) -> None:
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


Conn = Annotated[psycopg.Connection, Depends(_connection)]
SettingsDep = Annotated[Settings, Depends(_settings)]
