"""Reading cases: one case with its reports, events and photos; queues with filters; what a caller may see
(reporters' contacts only for staff; people's phones masked for the others; foreign cases are 404; a
caller that may report but not read cases gets an acknowledgement of its report, not the case)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql as pgsql

from gridmap.access.rules import Principal, check_jurisdiction, jurisdiction_ids, mask_phone, require
from gridmap.coords import from_wgs84
from gridmap.errors import InvalidInput, NotFound
from gridmap.incidents.assignment import assignment
from gridmap.incidents.phones import phone_key
from gridmap.incidents.workflow import ACTIONS, OPEN_STATES, STATES
from gridmap.notify.outbox import messages_of

MAX_PAGE = 500

_COLUMNS = """
    i.id, i.category, c.name, c.name_zh, i.description, i.channel, i.state, ST_X(i.geom), ST_Y(i.geom), i.address,
    b.code, i.location_source, i.location_confidence, i.flags, i.route, i.level, i.assignee, i.reports,
    i.received_at, i.stage, i.stage_started_at, i.due_at, i.deadline_at, i.closed_at, i.satisfaction, i.reason,
    i.external_id, i.updated_at, i.version, i.missed_at, i.assignee_person_id, i.area_path
"""
_FROM = """
    FROM incident i JOIN incident_category c ON c.code = i.category LEFT JOIN building b ON b.id = i.building_id
"""
_NAMES = (
    "id", "category", "category_name", "category_name_zh", "description", "channel", "state", "lon", "lat",
    "address", "building", "location_source", "location_confidence", "flags", "route", "level", "assignee",
    "reports", "received_at", "stage", "stage_started_at", "due_at", "deadline_at", "closed_at", "satisfaction",
    "reason", "external_id", "updated_at", "version", "missed_at", "assignee_person_id", "area_path",
)  # fmt: skip
# What a report's sender that may not read cases (an intake channel) learns of the case its report opened
# or joined: which case, its state and version, and who answers it; not its history, other reports,
# descriptions, notes or photos.
ACKNOWLEDGEMENT = ("id", "version", "state", "category", "category_name", "category_name_zh", "level", "owner")


def _json_ready(value):
    """Instants as ISO-8601 text, recursively: answers go out as JSON and into idempotency records."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def owner_as_seen(route: dict | None, who: Principal) -> dict:
    """A stored route (a case's owners) as ``who`` may see it: people's phones masked unless ``who`` may
    see contacts."""
    route = route or {}
    if who.can("incident.contact"):
        return route
    people = route.get("people") or []
    return route | {"people": [p | {"phone": mask_phone(p["phone"])} if isinstance(p.get("phone"), str) else p
                               for p in people]}  # fmt: skip


def is_overdue(state: str, due_at: datetime | None, missed_at: datetime | None, now: datetime) -> bool:
    """An open case is overdue while its deadline has passed, and after escalation gave it a new one once it
    has missed any (``missed_at``): a missed deadline stays visible until the case is closed."""
    return state in OPEN_STATES and (missed_at is not None or (due_at is not None and due_at < now))


def public(case: dict, who: Principal, crs: str, now: datetime) -> dict:
    """A stored case as the API shows it to ``who``, coordinates in ``crs``, instants as ISO-8601 text."""
    doc = dict(case)
    lon, lat = doc.pop("lon"), doc.pop("lat")
    if lon is not None:
        lon, lat = from_wgs84(lon, lat, crs)
    route = owner_as_seen(doc.pop("route"), who)
    doc.pop("area_path")
    doc["location"] = {
        "lon": lon, "lat": lat, "crs": crs, "address": doc.pop("address"), "building": doc.pop("building"),
        "source": doc.pop("location_source"), "confidence": doc.pop("location_confidence"),
    }  # fmt: skip
    doc["owner"] = route
    doc["overdue"] = is_overdue(doc["state"], doc["due_at"], doc["missed_at"], now)
    doc["allowed_actions"] = [a for a, t in ACTIONS.items() if doc["state"] in t.sources and who.can(t.permission)]
    return _json_ready(doc)


def visible_case(conn: psycopg.Connection, who: Principal, incident_id: int, lock: bool = False) -> dict:
    """A stored case by column name (locked for update when ``lock``). One that is missing, or outside the
    caller's jurisdiction, is NotFound alike."""
    query = pgsql.SQL("SELECT {} {} WHERE i.id = %s {}").format(
        pgsql.SQL(_COLUMNS), pgsql.SQL(_FROM), pgsql.SQL("FOR UPDATE OF i" if lock else "")
    )
    row = conn.execute(query, (incident_id,)).fetchone()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    case = dict(zip(_NAMES, row, strict=True))
    check_jurisdiction(who, case["area_path"], f"incident {incident_id}")
    return case


def get_incident(conn: psycopg.Connection, who: Principal, incident_id: int, crs: str, now: datetime) -> dict:
    """One case with its reports (contacts for staff only), its event history, its photos (id, the
    reporter's ``url`` or None for an upload, content type, bytes), whom a dispatch at its level goes to
    (``assignment``) and the messages sent about it (``notifications``; phones masked but for staff)."""
    case = visible_case(conn, who, incident_id)
    doc = public(case, who, crs, now)
    reports = conn.execute(
        "SELECT id, is_repeat, channel, description, reporter_name, reporter_phone, address, reported_at,"
        " received_at, ST_X(geom), ST_Y(geom) FROM incident_report WHERE incident_id = %s ORDER BY id",
        (incident_id,),
    ).fetchall()
    staff = who.can("incident.contact")
    doc["report_list"] = [
        {"id": r[0], "repeat": r[1], "channel": r[2], "description": r[3],
         "reporter": {"name": r[4], "phone": r[5]} if staff else None, "address": r[6],
         "reported_at": r[7], "received_at": r[8],
         "location": dict(zip(("lon", "lat"), from_wgs84(r[9], r[10], crs), strict=True)) if r[9] is not None else None}
        for r in reports
    ]  # fmt: skip
    doc["report_list"] = _json_ready(doc["report_list"])
    doc["assignment"] = assignment(conn, case["route"], case["level"]).public(staff, mask_phone)
    doc["notifications"] = _json_ready(
        [
            m if staff else m | {"recipient_phone": mask_phone(m["recipient_phone"])}
            for m in messages_of(conn, incident_id)
        ]
    )
    doc["events"] = _json_ready(events(conn, incident_id))
    # An uploaded photo (no ``url``) is served by the API, which adds its link.
    doc["photos"] = [
        {"id": p[0], "url": p[1], "content_type": p[2], "bytes": p[3]}
        for p in conn.execute(
            "SELECT id, url, content_type, bytes FROM incident_photo WHERE incident_id = %s ORDER BY id", (incident_id,)
        )
    ]  # fmt: skip
    return doc


def report_answer(conn: psycopg.Connection, who: Principal, incident_id: int, crs: str, now: datetime) -> dict:
    """The answer to ``who`` for a report it sent to case ``incident_id``: the whole case
    (``get_incident``) for a caller that may read cases, else only the ACKNOWLEDGEMENT fields."""
    if who.can("incident.read"):
        return get_incident(conn, who, incident_id, crs, now)
    doc = public(visible_case(conn, who, incident_id), who, crs, now)
    return {k: doc[k] for k in ACKNOWLEDGEMENT}


def events(conn: psycopg.Connection, incident_id: int) -> list[dict]:
    """The case history, oldest first."""
    rows = conn.execute(
        "SELECT at, action, from_state, to_state, actor, role, note, detail FROM incident_event"
        " WHERE incident_id = %s ORDER BY at, id",
        (incident_id,),
    ).fetchall()
    keys = ("at", "action", "from_state", "to_state", "actor", "role", "note", "detail")
    return [dict(zip(keys, r, strict=True)) for r in rows]


@dataclass(frozen=True)
class Queue:
    """Filters of a case list. ``area`` is an area identity: cases routed to it or below; ``ids``: only
    these cases; ``text``: a case number ("123", "#123"), an external id, or words of the address or
    description; ``phone``: a caller's number, whole or its last digits (staff only); ``building``: a
    building code; ``person``: cases given to this person of the register (a worker's "mine")."""

    ids: tuple[int, ...] = ()
    state: tuple[str, ...] = ()
    category: str | None = None
    overdue: bool | None = None
    flag: str | None = None
    area: int | None = None
    level: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    phone: str | None = None
    building: str | None = None
    person: int | None = None


# The text a queue search looks in; migration 0012 indexes exactly this expression (trigrams).
_SEARCHED = "(coalesce(i.address, '') || ' ' || i.description)"
_FLAGS = ("needs_location", "unassigned", "nearest", "near_boundary", "overdue", "reported_after_close")


def _where(queue: Queue, jurisdiction: list[int] | None, now: datetime) -> tuple[pgsql.Composable, list]:
    bad = sorted(set(queue.state) - set(STATES))
    if bad:
        raise InvalidInput(f"unknown state {bad[0]!r}; use one of {', '.join(STATES)}", "state")
    if queue.flag and queue.flag not in _FLAGS:
        raise InvalidInput(f"unknown flag {queue.flag!r}; use one of {', '.join(_FLAGS)}", "flag")
    number = (queue.text or "").strip().lstrip("#＃")
    pattern = "%" + (queue.text or "").strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # (applies, condition, its parameters)
    filters = [
        (bool(queue.ids), "i.id = ANY(%s)", [list(queue.ids)]),
        (bool(queue.state), "i.state = ANY(%s)", [list(queue.state)]),
        (bool(queue.category), "i.category = %s", [queue.category]),
        (queue.overdue is not None, "incident_overdue(i.state, i.due_at, i.missed_at, %s) = %s", [now, queue.overdue]),
        (bool(queue.flag), "%s = ANY(i.flags)", [queue.flag]),
        (queue.area is not None, "i.area_path @> ARRAY[%s]::bigint[]", [queue.area]),
        (bool(queue.level), "i.level = %s", [queue.level]),
        (queue.since is not None, "i.received_at >= %s", [queue.since]),
        (queue.until is not None, "i.received_at < %s", [queue.until]),
        (jurisdiction is not None, "i.area_path && %s::bigint[]", [jurisdiction]),
        (bool(queue.text), f"(i.id = %s OR i.external_id = %s OR {_SEARCHED} ILIKE %s)",
         [int(number) if number.isdigit() and len(number) < 19 else None, queue.text, pattern]),
        (bool(queue.phone), "EXISTS (SELECT 1 FROM incident_report r WHERE r.incident_id = i.id"
         " AND r.phone_key LIKE %s || '%%')", [phone_key(queue.phone) if queue.phone else None]),
        (bool(queue.building), "b.code = %s", [queue.building]),
        (queue.person is not None, "i.assignee_person_id = %s", [queue.person]),
    ]  # fmt: skip
    used = [(condition, values) for applies, condition, values in filters if applies]
    where = pgsql.SQL(" AND ").join([pgsql.SQL("true"), *(pgsql.SQL(condition) for condition, _ in used)])
    return where, [v for _, values in used for v in values]


def stored_cases(
    conn: psycopg.Connection, queue: Queue, jurisdiction: list[int] | None, now: datetime, limit: int, offset: int
) -> tuple[list[dict], int]:
    """A page of stored cases (by column name) inside ``jurisdiction`` (``access.jurisdiction_ids``; None:
    all), the most urgent first (overdue, then earliest deadline, then newest), and how many match."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}; got {limit}", "limit")
    where, params = _where(queue, jurisdiction, now)
    total = conn.execute(pgsql.SQL("SELECT count(*) {} WHERE {}").format(pgsql.SQL(_FROM), where), params).fetchone()[0]
    query = pgsql.SQL(
        "SELECT {} {} WHERE {} ORDER BY (i.state = ANY(%s)) DESC, i.due_at NULLS LAST, i.id DESC LIMIT %s OFFSET %s"
    ).format(pgsql.SQL(_COLUMNS), pgsql.SQL(_FROM), where)
    rows = conn.execute(query, [*params, sorted(OPEN_STATES), limit, offset]).fetchall()
    return [dict(zip(_NAMES, r, strict=True)) for r in rows], total


def my_person(conn: psycopg.Connection, who: Principal) -> int:
    """The register's person a user's login is tied to (``gridmap users add --person``); InvalidInput for a
    caller that is none (an API key, or a login not tied to anyone), so "my cases" never means all."""
    row = None
    if who.kind == "user":
        row = conn.execute("SELECT person_id FROM app_user WHERE name = %s", (who.name,)).fetchone()
    if row is None or row[0] is None:
        raise InvalidInput("mine=true needs a login tied to a person of the register (users add --person)", "mine")
    return row[0]


def list_incidents(
    conn: psycopg.Connection, who: Principal, queue: Queue, crs: str, now: datetime, limit: int = 50, offset: int = 0
) -> dict:
    """A page of the cases inside the caller's jurisdiction as ``who`` may see them (``stored_cases``),
    with the total. Searching by phone needs the right to see callers' contacts (403 otherwise)."""
    if queue.phone:
        require(who, "incident.contact")
    cases, total = stored_cases(conn, queue, jurisdiction_ids(who), now, limit, offset)
    items = [public(case, who, crs, now) for case in cases]
    return {"items": items, "total": total, "limit": limit, "offset": offset}
