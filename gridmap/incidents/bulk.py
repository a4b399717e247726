"""``gridmap import incidents FILE``: past cases in bulk (CSV or any table with points), routed in batches
by the same lookup as live intake. A dry run unless told to commit; all rows are checked first and
nothing is written when any is bad. History is taken as it was: no repeat merging, no escalation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

import geopandas as gpd
import psycopg
import shapely
from psycopg.types.json import Jsonb

from gridmap import fields
from gridmap.access import audit
from gridmap.access.rules import Principal, cli_principal
from gridmap.db.bulk import insert_rows, reserve_ids
from gridmap.errors import InvalidInput
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.categories import list_categories
from gridmap.incidents.routing import Policy, route_from_record
from gridmap.incidents.workflow import STAGE_OF_STATE
from gridmap.io.report import ImportReport
from gridmap.lookup import STATEMENT_POINTS, LookupOptions, lookup
from gridmap.lookup.index import LookupIndex, worth_building
from gridmap.points import parse_at, spatial_order

COLUMNS = ("external_id", "category", "description", "reported_at", "closed_at", "address", "channel", "lon", "lat")
# The state a past case was in, by the words 12345 systems and Open311 exports use for it; a case with a
# closed_at is closed whatever it says. A word not listed keeps the case received, with a warning naming it.
_STATE_OF_STATUS = {
    **dict.fromkeys(("", "received", "open", "new", "受理", "已受理", "待受理", "待处理", "未处理"), "received"),
    **dict.fromkeys(("dispatched", "assigned", "派遣", "已派遣", "已派单", "已分派", "已转派"), "dispatched"),
    **dict.fromkeys(("in_progress", "in progress", "started", "pending", "处理中", "办理中", "正在处理"),
                    "in_progress"),
    **dict.fromkeys(("replied", "已反馈", "已答复", "已回复", "待核查", "待评价"), "replied"),
    **dict.fromkeys(("closed", "resolved", "done", "已办结", "办结", "已关闭", "结案", "已结案"), "closed"),
    **dict.fromkeys(("rejected", "不予受理", "退回", "已退回"), "rejected"),
}  # fmt: skip


def _checked_rows(frame, categories, timezone: str, report: ImportReport) -> list[dict]:
    rows = []
    geoms = frame.geometry.array
    for n, rec in enumerate(frame.drop(columns=["geometry"]).to_dict("records"), start=1):
        geom = geoms[n - 1]
        ext = None
        try:
            ext = fields.text(rec.get("external_id") or rec.get("incident_id"), "external_id", max_len=100)
            category = fields.text(rec.get("category"), "category", required=True, max_len=40)
            if category not in categories:
                raise fields.BadValue(f"unknown category {category!r}")
            description = fields.text(rec.get("description"), "description", max_len=4000) or category
            reported = parse_at(fields.text(rec.get("reported_at") or rec.get("created_at"), "reported_at"), timezone)
            if reported is None:
                raise fields.BadValue("reported_at (or created_at) is missing")
            closed = parse_at(fields.text(rec.get("closed_at"), "closed_at"), timezone)
            status = (fields.text(rec.get("status"), "status") or "").strip().lower()
            if geom is None or geom.is_empty or not shapely.is_valid(geom) or geom.geom_type != "Point":
                raise fields.BadValue("lon/lat are missing or not numbers")
        except (fields.BadValue, InvalidInput) as exc:
            report.error(n, ext, str(exc))
            continue
        rows.append(dict(
            n=n, external_id=ext, category=category, description=description, reported=reported,
            closed=closed, state="closed" if closed else _STATE_OF_STATUS.get(status, "received"), status=status,
            address=fields.text(rec.get("address"), "address", max_len=500), lon=geom.x, lat=geom.y,
        ))  # fmt: skip
    unknown = sorted({r["status"] for r in rows if r["status"] not in _STATE_OF_STATUS and not r["closed"]})
    if unknown:
        report.warnings.append(f"status(es) taken as received: {', '.join(unknown)}")
    return rows


def import_incidents(
    conn: psycopg.Connection,
    frame: gpd.GeoDataFrame,
    calendar: Calendar,
    policy: Policy,
    timezone: str,
    *,
    commit: bool = False,
    progress: Callable[[int], None] | None = None,
    who: Principal | None = None,
) -> tuple[ImportReport, Counter]:
    """Check, route and (with ``commit``) insert every row of ``frame`` (points in WGS-84, as ``read_table``
    gives them); return the report and how the rows were routed (inside, nearest, unassigned). A row
    already imported (same external_id) is left alone. A file big enough for it (``worth_building``) is routed
    through an in-process ``LookupIndex`` built for it (the same answers as SQL, far faster per point)."""
    report = ImportReport("incidents", rows=len(frame))
    unknown = sorted(set(frame.columns) - set(COLUMNS) - {"geometry", "status", "created_at", "incident_id"})
    if unknown:
        report.warnings.append(f"ignored column(s): {', '.join(unknown)}")
    categories = {c.code: c for c in list_categories(conn)}
    rows = _checked_rows(frame, categories, timezone, report)
    routed: Counter = Counter()
    progress = progress or (lambda n: None)
    who = who or cli_principal()
    if not report.ok:
        return report, routed
    with conn.transaction() as tx:
        known = {r[0] for r in conn.execute(
            "SELECT external_id FROM incident WHERE channel = 'import' AND external_id = ANY(%s)",
            ([r["external_id"] for r in rows if r["external_id"]],),
        )}  # fmt: skip
        # Ids follow the file; routing and writing follow the ground (Z-order), so that neighbours, which
        # share owners, fall in one batch and each owner is built once per batch.
        fresh_rows = [r for r in rows if r["external_id"] not in known]
        for row, incident_id in zip(fresh_rows, reserve_ids(conn, "incident", len(fresh_rows)), strict=True):
            row["id"] = incident_id
        rows = [rows[i] for i in spatial_order([(r["lon"], r["lat"]) for r in rows])]
        index = LookupIndex(conn) if worth_building(conn, len(rows)) else None
        for start in range(0, len(rows), STATEMENT_POINTS):
            chunk = rows[start : start + STATEMENT_POINTS]
            points = [(r["lon"], r["lat"]) for r in chunk]
            records = lookup(conn, points, LookupOptions(nearest_m=policy.nearest_m), index=index)
            fresh = []
            for row, record in zip(chunk, records, strict=True):
                routed[record["match"]] += 1
                if row["external_id"] in known:
                    report.unchanged += 1
                else:
                    fresh.append((row, record))
            _insert(conn, who, fresh, categories, calendar)
            report.created += len(fresh)
            progress(len(chunk))
        report.committed = commit
        if not commit:
            raise psycopg.Rollback(tx)
        audit.record(conn, who, audit.Change("import", "incidents", detail={
            "rows": report.rows, "created": report.created, "unchanged": report.unchanged}))  # fmt: skip
    return report, routed


_INCIDENT = {"id": "int8", "category": "text", "description": "text", "channel": "text", "state": "text",
             "geom": "text", "address": "text", "location_source": "text", "location_confidence": "float4",
             "flags": "jsonb", "route": "jsonb", "microgrid_id": "int8", "grid_id": "int8", "community_id": "int8",
             "subdistrict_id": "int8", "area_path": "jsonb", "level": "text", "received_at": "timestamptz",
             "stage": "text", "stage_started_at": "timestamptz", "due_at": "timestamptz", "deadline_at": "timestamptz",
             "closed_at": "timestamptz", "external_id": "text", "updated_at": "timestamptz"}  # fmt: skip
# unnest() flattens arrays of arrays, so the array columns travel as JSON and the point as WKT.
_INCIDENT_SQL = {"geom": "ST_GeomFromText(u.geom, 4326)",
                 "flags": "ARRAY(SELECT jsonb_array_elements_text(u.flags))",
                 "area_path": "ARRAY(SELECT jsonb_array_elements_text(u.area_path)::bigint)"}  # fmt: skip
_REPORT = {"incident_id": "int8", "is_repeat": "bool", "channel": "text", "description": "text", "geom": "text",
           "address": "text", "location_source": "text", "location_confidence": "float4", "reported_at": "timestamptz",
           "received_at": "timestamptz", "external_id": "text"}  # fmt: skip
_EVENT = {"incident_id": "int8", "at": "timestamptz", "action": "text", "from_state": "text", "to_state": "text",
          "actor": "text", "actor_kind": "text", "role": "text", "detail": "jsonb"}  # fmt: skip


def _insert(conn: psycopg.Connection, who: Principal, fresh: list[tuple[dict, dict]], categories, calendar) -> None:
    """Write each (row with its reserved id, lookup record) as a case with its one report and its import
    event: three statements for the whole batch. The live report's extra checks (nearest subdistrict, grid
    boundary) cost a query each: not for history."""
    incidents, reports, events = [], [], []
    for row, record in fresh:
        incident_id = row["id"]
        route, category = route_from_record(record), categories[row["category"]]
        received: datetime = row["reported"]
        state = row["state"]  # history keeps its state (and is never escalated: gridmap.incidents.escalation)
        closed_at = (row["closed"] or received) if state == "closed" else None
        stage = STAGE_OF_STATE.get(state)
        point = f"POINT({row['lon']!r} {row['lat']!r})"
        incidents.append((
            incident_id, category.code, row["description"], "import", state, point, row["address"], "point", 1,
            Jsonb(route.flags), Jsonb(route.snapshot), route.ids["microgrid"], route.ids["grid"],
            route.ids["community"], route.ids["subdistrict"], Jsonb(route.area_path), route.level, received,
            stage, received, category.due(calendar, stage, received) if stage else None,
            category.deadline(calendar, received), closed_at, row["external_id"], received,
        ))  # fmt: skip
        reports.append((incident_id, False, "import", row["description"], point, row["address"], "point", 1,
                         received, received, row["external_id"]))  # fmt: skip
        events.append((incident_id, received, "import", None, state, who.name, who.kind, who.role, Jsonb({})))
    insert_rows(conn, "incident", _INCIDENT, incidents, expressions=_INCIDENT_SQL, given_ids=True)
    insert_rows(conn, "incident_report", _REPORT, reports, expressions={"geom": "ST_GeomFromText(u.geom, 4326)"})
    insert_rows(conn, "incident_event", _EVENT, events)
