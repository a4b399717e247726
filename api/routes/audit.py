"""GET /api/v1/audit: the audit log for admins, filtered by area, user and time; an admin with a
jurisdiction reads only the entries about objects inside it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import Conn, SettingsDep, Who, permission, reject_unknown_query
from gridmap.access import audit
from gridmap.access.rules import jurisdiction_ids
from gridmap.areas.hierarchy import resolve_area
from gridmap.points import parse_at

router = APIRouter(prefix="/api/v1", tags=["audit"], dependencies=[Depends(reject_unknown_query)])


@router.get("/audit", summary="Audit log (admins)", dependencies=[permission("audit.read")])
def audit_log(
    conn: Conn,
    who: Who,
    settings: SettingsDep,
    area: Annotated[str | None, Query(description="Area id or code: changes to it and anything below it.")] = None,
    user: Annotated[str | None, Query(max_length=100, description="Actor name (user, key or cli:<os user>).")] = None,
    since: Annotated[str | None, Query(description="ISO-8601 instant; entries at or after it.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict:
    """Newest first: who, when, what, versions before and after, request id. A scoped admin sees the entries
    about areas and objects inside its jurisdiction only (as every other read limits itself)."""
    entries = audit.entries(
        conn, resolve_area(conn, area, field="area"), user, parse_at(since, settings.timezone, "since"), limit, offset,
        jurisdiction_ids(who),
    )  # fmt: skip
    return {"entries": [audit.to_json(e) for e in entries], "limit": limit, "offset": offset}
