"""The case history: one append-only event per action, with actor, time, states and note."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from gridmap.access.rules import Principal


def record_event(
    conn: psycopg.Connection,
    incident_id: int,
    who: Principal,
    action: str,
    from_state: str | None,
    to_state: str | None,
    at: datetime,
    note: str | None = None,
    detail: dict | None = None,
    request_id: str | None = None,
) -> None:
    """Append one event to the case's history in the current transaction."""
    conn.execute(
        "INSERT INTO incident_event (incident_id, at, action, from_state, to_state, actor, actor_kind, role, note,"
        " detail, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (incident_id, at, action, from_state, to_state, who.name, who.kind, who.role, note, Jsonb(detail or {}),
         request_id),
    )  # fmt: skip
