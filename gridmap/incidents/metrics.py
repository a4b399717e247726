"""The figures leaders read (per area of one level, plus a total): received, closed, closure rate (办结率),
on-time closure rate (按期结案率), median hours per stage, repeat rate, satisfaction, overdue open cases.
Exported as JSON rows, CSV or XLSX."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import psycopg
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from gridmap.access.rules import Principal, jurisdiction_ids, require
from gridmap.errors import InvalidInput
from gridmap.incidents.workflow import CLOSED_STATES, ESCALATION_ORDER
from gridmap.text import csv_cell, looks_like_formula, spreadsheet_text

COLUMNS = (
    "area_id", "code", "name", "received", "closed", "closure_rate", "closed_on_time", "on_time_rate",
    "median_hours_dispatch", "median_hours_accept", "median_hours_handle", "median_hours_verify",
    "reports", "repeats", "repeat_rate", "rated", "satisfaction", "overdue_open", "unassigned",
)  # fmt: skip

_QUERY = """
WITH scope AS (
    SELECT i.*, CASE %(level)s WHEN 'microgrid' THEN i.microgrid_id WHEN 'grid' THEN i.grid_id
                               WHEN 'community' THEN i.community_id ELSE i.subdistrict_id END AS unit
    FROM incident i
    WHERE i.received_at >= %(since)s AND i.received_at < %(until)s
      AND (%(area)s::bigint IS NULL OR i.area_path @> ARRAY[%(area)s::bigint])
      AND (%(jurisdiction)s::bigint[] IS NULL OR i.area_path && %(jurisdiction)s::bigint[])
),
firsts AS (   -- when each stage ended the first time
    SELECT e.incident_id,
           min(e.at) FILTER (WHERE e.action = 'dispatch') AS dispatched,
           min(e.at) FILTER (WHERE e.action = 'accept') AS accepted,
           min(e.at) FILTER (WHERE e.action = 'reply') AS replied,
           min(e.at) FILTER (WHERE e.action IN ('verify', 'close')) AS closed
    FROM incident_event e WHERE e.incident_id IN (SELECT id FROM scope) GROUP BY e.incident_id
),
reps AS (
    SELECT r.incident_id, count(*) AS n, count(*) FILTER (WHERE r.is_repeat) AS repeats
    FROM incident_report r WHERE r.incident_id IN (SELECT id FROM scope) GROUP BY r.incident_id
)
SELECT s.unit, grouping(s.unit) AS total,
       count(*) AS received,
       count(*) FILTER (WHERE s.state = ANY(%(closed)s)) AS closed,
       count(*) FILTER (WHERE s.state = ANY(%(closed)s) AND s.closed_at <= s.deadline_at) AS closed_on_time,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.dispatched - s.received_at)) / 3600,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.accepted - f.dispatched)) / 3600,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.replied - f.accepted)) / 3600,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.closed - f.replied)) / 3600,
       coalesce(sum(r.n), 0), coalesce(sum(r.repeats), 0),
       count(s.satisfaction), avg(s.satisfaction),
       count(*) FILTER (WHERE incident_overdue(s.state, s.due_at, s.missed_at, %(now)s)),
       count(*) FILTER (WHERE 'unassigned' = ANY(s.flags))
FROM scope s LEFT JOIN firsts f ON f.incident_id = s.id LEFT JOIN reps r ON r.incident_id = s.id
GROUP BY GROUPING SETS ((s.unit), ())
ORDER BY grouping(s.unit), s.unit
"""


def _ratio(a, b) -> float | None:
    return round(a / b, 4) if b else None


def incident_metrics(
    conn: psycopg.Connection,
    who: Principal,
    level: str,
    area: int | None,
    since: datetime,
    until: datetime,
    now: datetime,
) -> list[dict]:
    """One row per area of ``level`` that received cases in [since, until) (below ``area`` when given, inside
    the caller's jurisdiction), then a total row (``area_id`` None, code "TOTAL"). Cases with no area at that
    level (waiting for a location) count in the total only; rates are None when undefined."""
    require(who, "incident.report")
    if level not in ESCALATION_ORDER:
        raise InvalidInput(f"level must be one of {', '.join(ESCALATION_ORDER)}", "level")
    if until <= since:
        raise InvalidInput("to must be later than from", "to")
    params = dict(level=level, since=since, until=until, area=area, jurisdiction=jurisdiction_ids(who), now=now,
                  closed=sorted(CLOSED_STATES))  # fmt: skip
    rows = conn.execute(_QUERY, params).fetchall()
    units = [r[0] for r in rows if r[0] is not None]
    names = dict(
        (i, (c, n))
        for i, c, n in conn.execute(
            "SELECT DISTINCT ON (id) id, code, name FROM area WHERE id = ANY(%s) ORDER BY id, version DESC", (units,)
        )
    )
    out = []
    for (
        unit,
        total,
        received,
        closed,
        on_time,
        h1,
        h2,
        h3,
        h4,
        reports,
        repeats,
        rated,
        sat,
        overdue,
        unassigned,
    ) in rows:
        if unit is None and not total:
            continue  # cases with no area at this level: in the total row only
        code, name = ("TOTAL", "total") if total else names.get(unit, (None, None))
        hours = [round(h, 2) if h is not None else None for h in (h1, h2, h3, h4)]
        out.append(dict(zip(COLUMNS, (
            None if total else unit, code, name, received, closed, _ratio(closed, received), on_time,
            _ratio(on_time, closed), *hours, reports, repeats, _ratio(repeats, reports), rated,
            round(float(sat), 2) if sat is not None else None, overdue, unassigned,
        ), strict=True)))  # fmt: skip
    return out


def to_csv(rows: list[dict]) -> str:
    """The rows as CSV with a header line (UTF-8 text; Excel opens it when written with a BOM)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: csv_cell(row[c]) for c in COLUMNS} for row in rows)
    return buffer.getvalue()


def _xlsx_cell(sheet, value):
    """Text as a typed string cell: openpyxl would otherwise write text starting with ``=`` as a live
    formula; formula-like text also gets Excel's quote prefix, so it reads as text when edited."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, spreadsheet_text(value))
    cell.data_type = "s"
    cell.quotePrefix = looks_like_formula(cell.value)
    return cell


def to_xlsx(rows: list[dict]) -> bytes:
    """The rows as one XLSX sheet with a header row."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("incidents")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([_xlsx_cell(sheet, row[c]) for c in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
