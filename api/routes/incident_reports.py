"""GET /api/v1/reports/incidents: closure, on-time, stage times, repeats, satisfaction per area; JSON, CSV, XLSX."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from api.deps import Conn, Now, Who, instant_query, permission, reject_unknown_query
from gridmap.areas.hierarchy import resolve_area
from gridmap.incidents.metrics import incident_metrics, to_csv, to_xlsx

router = APIRouter(prefix="/api/v1", tags=["incidents"], dependencies=[Depends(reject_unknown_query)])

From = instant_query("from_", "Received at or after (default 30 days ago).", alias="from")
To = instant_query("to", "Received before (default now).")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/reports/incidents", summary="Incident figures per area", dependencies=[permission("incident.report")])
def report(
    conn: Conn,
    who: Who,
    now: Now,
    from_: From,
    to: To,
    level: Annotated[Literal["microgrid", "grid", "community", "subdistrict"], Query()] = "community",
    area: Annotated[str | None, Query(description="Area id or code: only cases routed to it or below.")] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
):
    """One row per area of `level` with cases received in [from, to), then a TOTAL row: received, closed,
    closure rate (办结率), on-time closure rate (按期结案率), median hours per stage, repeat rate,
    satisfaction, overdue open cases, unassigned."""
    until = to or now
    since = from_ or until - timedelta(days=30)
    rows = incident_metrics(conn, who, level, resolve_area(conn, area, field="area"), since, until, now)
    name = f"incidents-{level}-{since:%Y%m%d}-{until:%Y%m%d}"
    if format == "csv":
        # A BOM so that Excel reads the Chinese names as UTF-8.
        return Response("\ufeff" + to_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
    if format == "xlsx":
        return Response(to_xlsx(rows), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})  # fmt: skip
    return {"level": level, "from": since, "to": until, "rows": rows}
