"""GET /api/v1/audit: the audit log for admins, filtered by area, user and time; an admin with a
jurisdiction reads only the entries about objects inside it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import Conn, Who, instant_query, paging_query, permission, reject_unknown_query
from gridmap.access import audit
from gridmap.access.rules import jurisdiction_ids
from gridmap.areas.hierarchy import resolve_area

Since = instant_query("since", "ISO-8601 instant; entries at or after it.")
Paged = paging_query(100, 1000)

router = APIRouter(prefix="/api/v1", tags=["audit"], dependencies=[Depends(reject_unknown_query)])


@router.get("/audit", summary="Audit log (admins)", dependencies=[permission("audit.read")])
def audit_log(
    conn: Conn,
    who: Who,
    since: Since,
    paging: Paged,
    area: Annotated[str | None, Query(description="Area id or code: changes to it and anything below it.")] = None,
    user: Annotated[str | None, Query(max_length=100, description="Actor name (user, key or cli:<os user>).")] = None,
) -> dict:
    """Newest first: who, when, what, versions before and after, request id. A scoped admin sees the entries
    about areas and objects inside its jurisdiction only (as every other read limits itself)."""
    entries = audit.entries(
        conn, resolve_area(conn, area, field="area"), user, since, paging.limit, paging.offset, jurisdiction_ids(who),
    )  # fmt: skip
    return {"entries": [audit.to_json(e) for e in entries], "limit": paging.limit, "offset": paging.offset}
