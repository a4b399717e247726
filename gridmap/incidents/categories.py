"""Incident categories and their deadlines per stage (seeded by the migration, editable by admins)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import psycopg

from gridmap.access import audit
from gridmap.access.rules import Principal, require
from gridmap.errors import InvalidInput, NotFound
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.workflow import STAGES

CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CALENDARS = ("working", "continuous")


@dataclass(frozen=True)
class Category:
    """A category with its calendar kind and minutes per stage."""

    code: str
    name: str
    name_zh: str
    calendar: str
    active: bool
    minutes: dict[str, int]

    def due(self, calendar: Calendar, stage: str | None, start: datetime) -> datetime | None:
        """When ``stage``, begun at ``start``, is overdue (None for no stage)."""
        if stage is None:
            return None
        return calendar.add(start, self.minutes[stage], self.calendar == "continuous")

    def deadline(self, calendar: Calendar, received: datetime) -> datetime:
        """The whole case's deadline: every stage's allowance from receipt."""
        return calendar.add(received, sum(self.minutes.values()), self.calendar == "continuous")

    def public(self) -> dict:
        """The category as the API shows it."""
        return {"code": self.code, "name": self.name, "name_zh": self.name_zh, "calendar": self.calendar,
                "active": self.active, "deadline_minutes": self.minutes}  # fmt: skip


def list_categories(conn: psycopg.Connection, active_only: bool = False) -> list[Category]:
    """Every category in code order, with its deadlines."""
    rows = conn.execute(
        "SELECT c.code, c.name, c.name_zh, c.calendar, c.active, jsonb_object_agg(d.stage, d.minutes)"
        " FROM incident_category c JOIN incident_deadline d ON d.category = c.code"
        " WHERE c.active OR NOT %s GROUP BY c.code ORDER BY c.code",
        (active_only,),
    ).fetchall()
    return [Category(*row) for row in rows]


def get_category(conn: psycopg.Connection, code: str, for_intake: bool = False) -> Category:
    """One category; an unknown (or, for intake, inactive) code is InvalidInput naming the known ones."""
    known = {c.code: c for c in list_categories(conn)}
    found = known.get(code)
    if found is None or (for_intake and not found.active):
        usable = sorted(c for c, cat in known.items() if cat.active or not for_intake)
        raise InvalidInput(f"unknown category {code!r}; use one of {', '.join(usable)}", "category")
    return found


def put_category(
    conn: psycopg.Connection,
    who: Principal,
    code: str,
    name: str,
    name_zh: str,
    calendar: str,
    active: bool,
    minutes: dict[str, int],
    request_id: str | None = None,
) -> Category:
    """Create or replace a category and all its stage deadlines (admins), recorded in the audit log."""
    require(who, "incident.configure")
    if not CODE.fullmatch(code):
        raise InvalidInput("a category code is lower-case letters, digits and _ (at most 40)", "code")
    if calendar not in CALENDARS:
        raise InvalidInput(f"calendar must be one of {', '.join(CALENDARS)}", "calendar")
    if set(minutes) != set(STAGES):
        raise InvalidInput(f"deadline_minutes needs exactly the stages {', '.join(STAGES)}", "deadline_minutes")
    if any(not 1 <= m <= 525_600 for m in minutes.values()):
        raise InvalidInput("each stage's deadline is 1 … 525,600 minutes", "deadline_minutes")
    with conn.transaction():
        existed = conn.execute(
            "INSERT INTO incident_category (code, name, name_zh, calendar, active) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, name_zh = EXCLUDED.name_zh,"
            " calendar = EXCLUDED.calendar, active = EXCLUDED.active RETURNING (xmax <> 0)",
            (code, name, name_zh, calendar, active),
        ).fetchone()[0]
        conn.execute("DELETE FROM incident_deadline WHERE category = %s", (code,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO incident_deadline (category, stage, minutes) VALUES (%s, %s, %s)",
                [(code, stage, minutes[stage]) for stage in STAGES],
            )
        detail = {"name": name, "calendar": calendar, "active": active, "deadline_minutes": minutes}
        audit.record(conn, who, audit.Change("edit" if existed else "add", "incident_category", None, code,
                                             detail=detail), request_id)  # fmt: skip
    return get_category(conn, code)


def require_category(conn: psycopg.Connection, code: str) -> Category:
    """One category or NotFound (for reads by code)."""
    try:
        return get_category(conn, code)
    except InvalidInput:
        raise NotFound(f"no category {code!r}") from None
