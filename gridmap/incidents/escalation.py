"""Automatic escalation: an overdue case climbs one level (micro-grid → grid → community → subdistrict,
小事不出网格、大事不出社区) and its dispatch deadline starts again; at the top, or overdue in
verification, it is flagged ``overdue`` once. The next level's people are texted the case it climbed to;
the person holding a case flagged overdue (else its level's people) is texted that it is overdue. The
deadline it missed first stays on the case (``missed_at``), so a new deadline never hides that it failed.
Only cases taken in live climb: history brought in by ``gridmap import incidents`` (channel ``import``)
is a record of the past, never escalated. Run by ``gridmap escalate`` and periodically by the server."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import psycopg

from gridmap.access.rules import Principal
from gridmap.incidents.assignment import assignment
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.categories import list_categories
from gridmap.incidents.history import record_event
from gridmap.incidents.notices import people_of, tell
from gridmap.incidents.workflow import OPEN_STATES, next_level
from gridmap.notify.templates import DEFAULT_SIGN

log = logging.getLogger(__name__)
SYSTEM = Principal(name="system:escalation", kind="system", role="admin")
BATCH = 500


def escalate_overdue(
    conn: psycopg.Connection, calendar: Calendar, now: datetime, sign: str = DEFAULT_SIGN
) -> list[dict]:
    """Escalate or flag every case overdue at ``now``; return what was done, one entry per case. Cases
    locked by someone else right now are skipped (the next run takes them), so runs never block writers
    and two servers never escalate one case twice."""
    categories = {c.code: c for c in list_categories(conn)}
    done: list[dict] = []
    while True:
        with conn.transaction():
            rows = conn.execute(
                # The holder's contact by subquery: a join would put the person row under the lock too.
                "SELECT i.id, i.state, i.level, i.category, i.route,"
                " (SELECT name FROM person WHERE id = i.assignee_person_id),"
                " (SELECT phone FROM person WHERE id = i.assignee_person_id) FROM incident i"
                " WHERE i.state = ANY(%s) AND i.due_at < %s AND i.channel <> 'import'"
                " AND NOT ('overdue' = ANY(i.flags)"
                "   AND (i.level = 'subdistrict' OR i.level IS NULL OR i.state = 'replied'))"
                " ORDER BY i.due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (sorted(OPEN_STATES), now, BATCH),
            ).fetchall()
            batch = [_escalate_one(conn, row, categories, calendar, now, sign) for row in rows]
        done.extend(b for b in batch if b)
        if len(rows) < BATCH:
            return done


def _escalate_one(conn, row, categories, calendar: Calendar, now: datetime, sign: str) -> dict | None:
    incident_id, state, level, category, route, holder, holder_phone = row
    higher = next_level(level) if state != "replied" else None
    if higher is None:
        changed = conn.execute(
            "UPDATE incident SET flags = flags || 'overdue'::text, missed_at = coalesce(missed_at, due_at),"
            " updated_at = %s, version = version + 1"
            " WHERE id = %s AND NOT 'overdue' = ANY(flags) RETURNING id",
            (now, incident_id),
        ).fetchone()
        if changed is None:
            return None
        record_event(conn, incident_id, SYSTEM, "overdue", state, state, now, detail={"level": level})
        told = [(holder, holder_phone)] if holder_phone else people_of(assignment(conn, route, level))
        tell(conn, incident_id, "overdue", "next_level", told, calendar.tz, sign, now)
        return {"incident": incident_id, "action": "overdue", "level": level}
    due = categories[category].due(calendar, "dispatch", now)
    conn.execute(
        "UPDATE incident SET state = 'escalated', level = %s, assignee = NULL, assignee_person_id = NULL,"
        " stage = 'dispatch',"
        " missed_at = coalesce(missed_at, due_at), stage_started_at = %s, due_at = %s, updated_at = %s,"
        " version = version + 1 WHERE id = %s",
        (higher, now, due, now, incident_id),
    )
    record_event(conn, incident_id, SYSTEM, "escalate", state, "escalated", now,
                 "overdue: escalated automatically", {"from_level": level, "to_level": higher})  # fmt: skip
    told = people_of(assignment(conn, route, higher))
    tell(conn, incident_id, "escalated", "next_level", told, calendar.tz, sign, now)
    return {"incident": incident_id, "action": "escalate", "from_level": level, "to_level": higher}


async def escalate_periodically(pool, calendar: Calendar, every_s: float, sign: str = DEFAULT_SIGN) -> None:
    """Run ``escalate_overdue`` every ``every_s`` seconds on a pooled connection until cancelled; a failed
    run (database down) is logged and retried at the next tick. Several server processes may run this at
    once: locked cases are skipped, never escalated twice."""

    def once() -> int:
        with pool.connection() as conn:
            return len(escalate_overdue(conn, calendar, datetime.now(UTC), sign))

    while True:
        await asyncio.sleep(every_s)
        try:
            done = await asyncio.to_thread(once)
            if done:
                log.info("escalation: %d overdue incidents escalated or flagged", done)
        except Exception:  # the loop must outlive a database outage
            log.exception("escalation run failed; retrying in %s s", every_s)
