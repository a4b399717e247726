"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
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


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the route does not declare: a typo (``lng=``) must not be ignored silently."""
    route = request.scope.get("route")
    if route is None:
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidInput(
            f"unknown query parameter {unknown[0]!r}; this endpoint takes: {', '.join(sorted(known)) or 'none'}",
            unknown[0],
        )


Conn = Annotated[psycopg.Connection, Depends(_connection)]
SettingsDep = Annotated[Settings, Depends(_settings)]
