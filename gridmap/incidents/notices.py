"""Who is told what when a case moves: the citizen when their report is filed or joins a case, the person
a case is dispatched to, and the next level's people when it is escalated or overdue. Each message is
written to the outbox (``gridmap.notify.outbox``) in the transaction of the event, rendered then, so it
says what was true when it happened."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg

from gridmap.incidents.assignment import Assignment
from gridmap.notify.outbox import enqueue
from gridmap.notify.templates import render


def _facts(conn: psycopg.Connection, incident_id: int) -> dict:
    row = conn.execute(
        "SELECT i.id, c.name_zh, coalesce(i.address, nullif(concat_ws(' ', b.compound, b.name), ''),"
        "   i.route -> 'microgrid' ->> 'name', i.route -> 'grid' ->> 'name'),"
        " i.description, i.due_at, i.deadline_at, i.missed_at, i.level"
        " FROM incident i JOIN incident_category c ON c.code = i.category LEFT JOIN building b ON b.id = i.building_id"
        " WHERE i.id = %s",
        (incident_id,),
    ).fetchone()
    keys = ("id", "category_zh", "place", "description", "due_at", "deadline_at", "missed_at", "level")
    return dict(zip(keys, row, strict=True))


def tell(
    conn: psycopg.Connection,
    incident_id: int,
    event: str,
    audience: str,
    recipients: Iterable[tuple[str | None, str | None]],
    tz: ZoneInfo,
    sign: str,
    now: datetime,
) -> list[int]:
    """Write ``event``'s message about the case as it stands now to each (name, phone) of ``recipients``
    that has a phone, once per phone, in the current transaction; the outbox ids."""
    seen: set[str] = set()
    targets = [(n, p) for n, p in recipients if p and not (p in seen or seen.add(p))]
    if not targets:
        return []
    body = render(event, _facts(conn, incident_id), tz, sign)
    return [enqueue(conn, incident_id, event, audience, name, phone, body, now) for name, phone in targets]


def people_of(found: Assignment) -> list[tuple[str, str]]:
    """The (name, phone) of everyone an assignment rule offers, first first."""
    return [(c["name"], c["phone"]) for c in found.candidates]
