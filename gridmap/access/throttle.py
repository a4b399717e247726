"""Login throttling, and the bound on password checks running at once.

Failed logins are counted per account name (as typed, whether or not such a user exists, so the answer
reveals nothing) and per client address, in the table ``login_throttle``: every server worker sees the
same counts. After ``free`` failures in a row, each further attempt must wait ``base · 2^(n − free)``
seconds (at most ``max``) after the n-th; an attempt during the wait is refused before any password is
checked, the right one too (else the wait would not hold back a guesser). An attempt is counted *before*
its password is checked and forgiven when it succeeds, so a burst of parallel attempts cannot all slip
in before the first failure is written. A success resets its account's count; an address's count only
loses that attempt again, so logging in to an account of one's own does not buy more guesses.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from gridmap.errors import Busy, RateLimited
from gridmap.settings import Settings

# Counts idle this long start again from zero (and their rows are deleted).
FORGET_AFTER = timedelta(days=1)
# How long a login waits for a password-check slot before it is told to retry (Busy).
HASH_WAIT_S = 1.0


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed logins are free per account and per address, and how the waits after them grow."""

    account_free: int
    address_free: int
    base_s: float
    max_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        """The policy of GRIDMAP_LOGIN_*."""
        return cls(
            settings.security.login_free_failures,
            settings.security.login_address_free_failures,
            settings.security.login_delay_base_s,
            settings.security.login_delay_max_s,
        )

    def delay_s(self, failures: int, free: int) -> float:
        """Seconds the next attempt must wait after the ``failures``-th failure in a row."""
        if failures < free:
            return 0.0
        # Capping the exponent keeps 2.0 ** n finite however long an attack goes on.
        return min(self.max_s, self.base_s * 2.0 ** min(failures - free, 64))


class PasswordSlots:
    """At most ``slots`` password checks at once in this process, at most ``slots`` more waiting for one
    (each for up to ``wait_s``); anyone beyond gets Busy at once. argon2 takes ~50 ms of CPU and 64 MiB
    per check, and a waiting login holds a worker thread and a pooled connection, so a login flood may
    take only this much of the process; lookups and everything else keep the rest."""

    def __init__(self, slots: int, wait_s: float = HASH_WAIT_S):
        self._running = threading.BoundedSemaphore(slots)
        self._admitted = threading.BoundedSemaphore(2 * slots)  # running and waiting
        self.wait_s = wait_s

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block; raise Busy (retry after 1 s) when none is to be had soon."""
        if not self._admitted.acquire(blocking=False):
            raise _busy()
        try:
            if not self._running.acquire(timeout=self.wait_s):
                raise _busy()
            try:
                yield
            finally:
                self._running.release()
        finally:
            self._admitted.release()


def _busy() -> Busy:
    return Busy("too many logins are being checked at this moment; retry in a second", 1)


@dataclass(frozen=True)
class LoginGuard:
    """What every login through the API goes through: the throttle policy and this process's slots."""

    policy: LoginPolicy
    slots: PasswordSlots

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginGuard:
        """A guard with the policy of GRIDMAP_LOGIN_* and GRIDMAP_LOGIN_HASH_CONCURRENCY slots."""
        return cls(LoginPolicy.from_settings(settings), PasswordSlots(settings.security.login_hash_concurrency))


def _subjects(policy: LoginPolicy, name: str, address: str) -> dict[str, int]:
    """The counters an attempt touches, each with its number of free failures."""
    subjects = {f"account:{name}": policy.account_free}
    if address:
        subjects[f"address:{address}"] = policy.address_free
    return subjects


def claim(conn: psycopg.Connection, policy: LoginPolicy, name: str, address: str) -> None:
    """Count one login attempt against the account ``name`` and the client ``address`` (empty: none), or
    raise RateLimited, counting nothing, while either must still wait. Call it before checking the
    password, and forgive() after a success."""
    subjects = _subjects(policy, name, address)
    with conn.transaction():
        conn.execute(
            "INSERT INTO login_throttle (subject) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (list(subjects),)
        )
        # Locked in one order, so two attempts never wait for each other's rows crosswise.
        rows = conn.execute(
            "SELECT subject, failures, last_attempt_at > now() - %s,"
            " CASE WHEN wait_until > now() THEN extract(epoch FROM wait_until - now()) ELSE 0 END"
            " FROM login_throttle WHERE subject = ANY(%s) ORDER BY subject FOR UPDATE",
            (FORGET_AFTER, list(subjects)),
        ).fetchall()
        wait = max(float(left) for *_, left in rows)
        if wait > 0:
            raise RateLimited(
                f"too many failed logins for this account or from this address: wait {math.ceil(wait)} s before "
                "the next attempt; until then every attempt is refused, even with the right password",
                math.ceil(wait),
            )
        for subject, failures, recent, _ in rows:
            count = (failures if recent else 0) + 1
            conn.execute(
                "UPDATE login_throttle SET failures = %s, last_attempt_at = now(), wait_until = now() + %s"
                " WHERE subject = %s",
                (count, timedelta(seconds=policy.delay_s(count, subjects[subject])), subject),
            )
    # Attackers make up names and addresses; rows idle past FORGET_AFTER go, a few at a time. Rows
    # another attempt holds are skipped rather than waited for.
    conn.execute(
        "DELETE FROM login_throttle WHERE subject IN (SELECT subject FROM login_throttle"
        " WHERE last_attempt_at < now() - %s LIMIT 100 FOR UPDATE SKIP LOCKED)",
        (FORGET_AFTER,),
    )


def forgive(conn: psycopg.Connection, policy: LoginPolicy, name: str, address: str) -> None:
    """After a successful login: the account's count starts again from zero, and the address's count no
    longer holds this attempt; the wait the attempt set shrinks to what the remaining count gives."""
    account, *by_address = _subjects(policy, name, address).items()
    with conn.transaction():
        conn.execute("DELETE FROM login_throttle WHERE subject = %s", (account[0],))
        for subject, free in by_address:
            row = conn.execute(
                "SELECT failures FROM login_throttle WHERE subject = %s FOR UPDATE", (subject,)
            ).fetchone()
            if row is None:
                continue
            count = max(row[0] - 1, 0)
            conn.execute(
                "UPDATE login_throttle SET failures = %s, wait_until = least(wait_until, last_attempt_at + %s)"
                " WHERE subject = %s",
                (count, timedelta(seconds=policy.delay_s(count, free)), subject),
            )
