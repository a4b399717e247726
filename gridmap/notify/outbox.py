"""The outbox (table ``notification``, migration 0012): ``enqueue`` writes a message in the caller's
transaction, so it exists exactly when the event that caused it committed; ``deliver_due`` hands the
messages that are due to a sender, one row lock each (``SKIP LOCKED``: several servers deliver side by
side, never the same message at once), and marks each sent, or due again after a doubling wait, or dead
after the last attempt. Delivery is at least once: a crash between a confirmed send and its commit sends
that message again with the same id, which the receiver sees in ``X-Gridmap-Delivery``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from gridmap.notify.senders import Message, Sender, SendFailed

log = logging.getLogger(__name__)
# At most this many messages per run, so one run never holds a connection for long.
RUN_LIMIT = 500


@dataclass(frozen=True)
class Retry:
    """How hard delivery tries: ``max_attempts``, waiting ``backoff_s`` after the first failure, doubling."""

    max_attempts: int = 8
    backoff_s: float = 30.0

    def wait(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (capped at a day)."""
        return timedelta(seconds=min(self.backoff_s * 2 ** (attempts - 1), 86_400))


def retry_from_settings(notify) -> Retry:
    """The Retry the settings describe (NotifySettings)."""
    return Retry(max_attempts=notify.notify_max_attempts, backoff_s=notify.notify_backoff_s)


def enqueue(
    conn: psycopg.Connection,
    incident_id: int,
    event: str,
    audience: str,
    recipient_name: str | None,
    recipient_phone: str,
    body: str,
    now: datetime,
) -> int:
    """Write one message, due at once, in the current transaction; its id."""
    return conn.execute(
        "INSERT INTO notification (incident_id, event, audience, recipient_name, recipient_phone, body, created_at,"
        " next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (incident_id, event, audience, recipient_name, recipient_phone, body, now, now),
    ).fetchone()[0]


@dataclass
class Delivered:
    """What one run did."""

    sent: int = 0
    retried: int = 0
    dead: int = 0


def _claim(conn: psycopg.Connection, now: datetime) -> tuple[Message, int] | None:
    row = conn.execute(
        "SELECT id, incident_id, event, audience, recipient_name, recipient_phone, body, created_at, attempts"
        " FROM notification WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= %s"
        " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        (now,),
    ).fetchone()
    if row is None:
        return None
    return Message(*row[:7], created_at=row[7].isoformat()), row[8]


def deliver_due(conn: psycopg.Connection, sender: Sender, retry: Retry, clock) -> Delivered:
    """Deliver every message due at ``clock()`` (at most RUN_LIMIT), each in its own transaction."""
    done = Delivered()
    for _ in range(RUN_LIMIT):
        with conn.transaction():
            now = clock()
            claimed = _claim(conn, now)
            if claimed is None:
                break
            message, attempts = claimed
            attempts += 1
            try:
                sender.send(message)
            except SendFailed as e:
                dead = attempts >= retry.max_attempts
                conn.execute(
                    "UPDATE notification SET attempts = %s, last_error = %s, next_attempt_at = %s,"
                    " dead_at = CASE WHEN %s THEN %s END WHERE id = %s",
                    (attempts, str(e)[:1000], now + retry.wait(attempts), dead, now, message.id),
                )
                if dead:
                    done.dead += 1
                    log.warning("notification %d dead after %d attempts: %s", message.id, attempts, e)
                else:
                    done.retried += 1
                continue
            conn.execute("UPDATE notification SET attempts = %s, sent_at = %s, last_error = NULL WHERE id = %s",
                         (attempts, now, message.id))  # fmt: skip
            done.sent += 1
    return done


def outbox_status(conn: psycopg.Connection) -> dict:
    """How many messages wait, were sent, and are dead (given up)."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL), count(sent_at), count(dead_at)"
        " FROM notification"
    ).fetchone()
    return {"waiting": row[0], "sent": row[1], "dead": row[2]}


def messages_of(conn: psycopg.Connection, incident_id: int) -> list[dict]:
    """The messages of one case, oldest first, with where each stands (waiting, sent, dead)."""
    rows = conn.execute(
        "SELECT id, event, audience, recipient_name, recipient_phone, created_at, attempts, sent_at, dead_at,"
        " last_error FROM notification WHERE incident_id = %s ORDER BY id",
        (incident_id,),
    ).fetchall()
    keys = ("id", "event", "audience", "recipient_name", "recipient_phone", "created_at", "attempts", "sent_at",
            "dead_at", "last_error")  # fmt: skip
    docs = [dict(zip(keys, r, strict=True)) for r in rows]
    for d in docs:
        d["state"] = "sent" if d["sent_at"] else "dead" if d["dead_at"] else "waiting"
    return docs


async def deliver_periodically(pool, sender: Sender, retry: Retry, every_s: float, clock) -> None:
    """Run ``deliver_due`` every ``every_s`` seconds until cancelled; a failed run (database down) is
    logged and retried at the next tick, and the messages it did not mark are still there."""

    def once() -> Delivered:
        with pool.connection() as conn:
            return deliver_due(conn, sender, retry, clock)

    while True:
        await asyncio.sleep(every_s)
        try:
            done = await asyncio.to_thread(once)
            if done.sent or done.dead:
                log.info("outbox: %d sent, %d to retry, %d dead", done.sent, done.retried, done.dead)
        except Exception:  # the loop must outlive a database outage
            log.exception("outbox run failed; retrying in %s s", every_s)
