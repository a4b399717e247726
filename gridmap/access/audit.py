"""The append-only audit log: every write records who, when, what, the versions before and after, and
the request id, in the writer's own transaction (so a rolled-back write leaves no entry, and a
committed one always has one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from gridmap.access.rules import Principal
from gridmap.errors import InvalidInput

MAX_PAGE = 1000


@dataclass(frozen=True)
class Change:
    """One write to record. ``area_path`` is the area (identity ids) and its ancestors."""

    action: str
    object_type: str
    object_id: int | None = None
    object_code: str | None = None
    area_path: tuple[int, ...] = ()
    before_version: int | None = None
    after_version: int | None = None
    detail: dict | None = None


def record(conn: psycopg.Connection, who: Principal, change: Change, request_id: str | None = None) -> None:
    """Append ``change`` to the audit log in the current transaction."""
    conn.execute(
        "INSERT INTO audit_log (actor, actor_kind, role, action, object_type, object_id, object_code, area_path,"
        " before_version, after_version, request_id, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            who.name, who.kind, who.role, change.action, change.object_type, change.object_id, change.object_code,
            list(change.area_path), change.before_version, change.after_version, request_id,
            Jsonb(change.detail or {}),
        ),
    )  # fmt: skip


def entries(
    conn: psycopg.Connection,
    area_id: int | None = None,
    user: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    jurisdiction: list[int] | None = None,
) -> list[dict]:
    """Audit entries, newest first, filtered by an area (itself or anything below it), actor and time, and
    limited to entries about objects inside ``jurisdiction`` (``access.jurisdiction_ids`` of the reader;
    None: all). Entries about no area (accounts, keys, categories) lie inside an unlimited one only."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}; got {limit}", "limit")
    rows = conn.execute(
        "SELECT id, at, actor, actor_kind, role, action, object_type, object_id, object_code, area_path,"
        " before_version, after_version, request_id, detail FROM audit_log"
        " WHERE (%(area)s::bigint IS NULL OR area_path @> ARRAY[%(area)s::bigint])"
        " AND (%(user)s::text IS NULL OR actor = %(user)s)"
        " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
        " AND (%(jurisdiction)s::bigint[] IS NULL OR area_path && %(jurisdiction)s::bigint[])"
        " ORDER BY at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
        {
            "area": area_id,
            "user": user,
            "since": since,
            "jurisdiction": jurisdiction,
            "limit": limit,
            "offset": max(offset, 0),
        },  # fmt: skip
    ).fetchall()
    names = (
        "id", "at", "actor", "actor_kind", "role", "action", "object_type", "object_id", "object_code", "area_path",
        "before_version", "after_version", "request_id", "detail",
    )  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]


def to_json(entry: dict) -> dict:
    """An entry with its timestamp as ISO-8601 text (for JSON output)."""
    return entry | {"at": entry["at"].isoformat()}
