"""Automatic escalation: an overdue case climbs one level (micro-grid → grid → community → subdistrict,
小事不出网格、大事不出社区) and its dispatch deadline starts again; at the top, or overdue in
verification, it is flagged ``overdue`` once. The deadline it missed first stays on the case
(``missed_at``), so a new deadline never hides that it failed. Only cases taken in live climb: history
brought in by ``gridmap import incidents`` (channel ``import``) is a record of the past, never escalated.
Run by ``gridmap escalate`` and periodically by the server."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import psycopg

from gridmap.access.rules import Principal
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.categories import list_categories
from gridmap.incidents.history import record_event
from gridmap.incidents.workflow import OPEN_STATES, next_level

log = logging.getLogger(__name__)
SYSTEM = Principal(name="system:escalation", kind="system", role="admin")
BATCH = 500


def escalate_overdue(conn: psycopg.Connection, calendar: Calendar, now: datetime) -> list[dict]:
    """Escalate or flag every case overdue at ``now``; return what was done, one entry per case. Cases
    locked by someone else right now are skipped (the next run takes them), so runs never block writers
    and two servers never escalate one case twice."""
    categories = {c.code: c for c in list_categories(conn)}
    done: list[dict] = []
    while True:
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, state, level, category FROM incident"
                " WHERE state = ANY(%s) AND due_at < %s AND channel <> 'import' AND NOT ('overdue' = ANY(flags)"
                "   AND (level = 'subdistrict' OR level IS NULL OR state = 'replied'))"
                " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (sorted(OPEN_STATES), now, BATCH),
            ).fetchall()
            batch = [_escalate_one(conn, row, categories, calendar, now) for row in rows]
        done.extend(b for b in batch if b)
        if len(rows) < BATCH:
            return done


def _escalate_one(conn, row, categories, calendar: Calendar, now: datetime) -> dict | None:
    incident_id, state, level, category = row
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
        return {"incident": incident_id, "action": "overdue", "level": level}
    due = categories[category].due(calendar, "dispatch", now)
    conn.execute(
        "UPDATE incident SET state = 'escalated', level = %s, assignee = NULL, stage = 'dispatch',"
        " missed_at = coalesce(missed_at, due_at), stage_started_at = %s, due_at = %s, updated_at = %s,"
        " version = version + 1 WHERE id = %s",
        (higher, now, due, now, incident_id),
    )
    record_event(conn, incident_id, SYSTEM, "escalate", state, "escalated", now,
                 "overdue: escalated automatically", {"from_level": level, "to_level": higher})  # fmt: skip
    return {"incident": incident_id, "action": "escalate", "from_level": level, "to_level": higher}


async def escalate_periodically(pool, calendar: Calendar, every_s: float) -> None:
    """Run ``escalate_overdue`` every ``every_s`` seconds on a pooled connection until cancelled; a failed
    run (database down) is logged and retried at the next tick. Several server processes may run this at
    once: locked cases are skipped, never escalated twice."""

    def once() -> int:
        with pool.connection() as conn:
            return len(escalate_overdue(conn, calendar, datetime.now(UTC)))

    while True:
        await asyncio.sleep(every_s)
        try:
            done = await asyncio.to_thread(once)
            if done:
                log.info("escalation: %d overdue incidents escalated or flagged", done)
        except Exception:  # the loop must outlive a database outage
            log.exception("escalation run failed; retrying in %s s", every_s)
