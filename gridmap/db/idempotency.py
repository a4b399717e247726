"""Idempotency keys for creates: a request sent again with the same key (a client retrying after a lost
answer, e.g. during a database restart) gets the stored answer instead of creating a second object."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Protocol

import psycopg
from psycopg.types.json import Jsonb

from gridmap.errors import InvalidInput

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class Caller(Protocol):
    """Who asks (an ``access.rules.Principal``): its keys are its own."""

    kind: str
    name: str


def fingerprint(*parts: object) -> str:
    """A digest of what was asked, so a key reused for a different request is caught."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def run_once(
    conn: psycopg.Connection, principal: str, key: str, request: str, create: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """Run ``create`` (returning status and body) once per (principal, key); return status, body and
    whether the answer is a replay. The claim, the create and the stored answer commit together: a
    failed create leaves no claim, and a concurrent duplicate waits for the first and replays it."""
    if not _KEY.fullmatch(key):
        raise InvalidInput("Idempotency-Key must be 1–200 visible ASCII characters", "Idempotency-Key")
    with conn.transaction():
        claimed = conn.execute(
            "INSERT INTO idempotency_key (principal, key, fingerprint) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (principal, key, request),
        ).fetchone()
        if claimed is None:
            stored, status, body = conn.execute(
                "SELECT fingerprint, status, body FROM idempotency_key WHERE principal = %s AND key = %s",
                (principal, key),
            ).fetchone()
            if stored != request:
                raise InvalidInput("this Idempotency-Key was already used for a different request", "Idempotency-Key")
            return status, body, True
        status, body = create()
        conn.execute(
            "UPDATE idempotency_key SET status = %s, body = %s WHERE principal = %s AND key = %s",
            (status, Jsonb(body), principal, key),
        )
        return status, body, False


def once(
    conn: psycopg.Connection, who: Caller, key: str | None, create: Callable[[], tuple[int, dict]], *asked: object
) -> tuple[int, dict, bool]:
    """``create`` run for ``who`` under an optional Idempotency-Key: without one it just runs (no replay);
    with one, as ``run_once`` does, keyed per caller, ``asked`` (what was asked: operation, body, options)
    being fingerprinted. Returns status, body and whether the answer is a replay."""
    if key is None:
        status, body = create()
        return status, body, False
    return run_once(conn, f"{who.kind}:{who.name}", key, fingerprint(*asked), create)
