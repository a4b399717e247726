"""Users, API keys and login sessions.

Passwords are hashed with argon2id (argon2-cffi). Sessions and API keys are opaque random bearer
tokens (``gms_…`` and ``gmk_…``); the database keeps only an HMAC-SHA256 of each under the secret
key, so a copy of the database lets nobody in, logout and revocation take effect at once, and
rotating the secret key ends every session and key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridmap.access import audit, throttle
from gridmap.access.rules import ACCOUNT_ROLES, Principal
from gridmap.errors import InvalidInput, NotFound, Unauthenticated

MIN_PASSWORD = 10
SESSION_PREFIX = "gms_"
KEY_PREFIX = "gmk_"
SCOPE_LEVELS = ("subdistrict", "community")

_hasher = PasswordHasher()
# Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def token_digest(secret: str, token: str) -> str:
    """The stored form of a token: HMAC-SHA256 under the secret key, hex."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def _new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def _check_role(role: str) -> None:
    if role not in ACCOUNT_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ACCOUNT_ROLES)}; got {role!r}", "role")


def resolve_scope(conn: psycopg.Connection, role: str, codes: list[str]) -> list[int]:
    """Turn subdistrict/community codes into area identity ids; a planner needs at least one."""
    if role == "planner" and not codes:
        raise InvalidInput("a planner needs a jurisdiction: --scope CODE (subdistrict or community)", "scope")
    rows = dict(
        conn.execute(
            "SELECT code, id FROM area WHERE valid_to IS NULL AND code = ANY(%s) AND level = ANY(%s)",
            (codes, list(SCOPE_LEVELS)),
        ).fetchall()
    )
    missing = [c for c in codes if c not in rows]
    if missing:
        raise InvalidInput(f"{missing[0]} is not a current subdistrict or community code", "scope")
    return [rows[c] for c in codes]


def add_user(
    conn: psycopg.Connection,
    who: Principal,
    name: str,
    password: str,
    role: str,
    scope: list[str],
    person: int | None = None,
) -> None:
    """Create a user with an argon2id-hashed password; planners need a jurisdiction. ``person`` ties the login
    to the person (网格员 …) it is on the ground, whose cases are "mine" (a person id of the register)."""
    _check_role(role)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password needs at least {MIN_PASSWORD} characters", "password")
    with conn.transaction():
        ids = resolve_scope(conn, role, scope)
        if person is not None and conn.execute("SELECT 1 FROM person WHERE id = %s", (person,)).fetchone() is None:
            raise InvalidInput(f"no person with id {person} in the register", "person")
        try:
            user_id = conn.execute(
                "INSERT INTO app_user (name, password_hash, role, scope, person_id) VALUES (%s, %s, %s, %s, %s)"
                " RETURNING id",
                (name, _hasher.hash(password), role, ids, person),
            ).fetchone()[0]
        except psycopg.errors.UniqueViolation:
            raise InvalidInput(f"user {name!r} exists already", "name") from None
        except psycopg.errors.CheckViolation:
            raise InvalidInput(f"{name!r} is not a valid user name (letters, digits, _.@-)", "name") from None
        audit.record(
            conn,
            who,
            audit.Change("add", "user", user_id, name, detail={"role": role, "scope": scope, "person": person}),
        )


def list_users(conn: psycopg.Connection) -> list[dict]:
    """Every user with role, jurisdiction codes and state; never the password hash."""
    rows = conn.execute(
        "SELECT u.name, u.role, coalesce(array_agg(a.code ORDER BY a.code) FILTER (WHERE a.code IS NOT NULL), '{}'),"
        " u.created_at, u.disabled_at FROM app_user u"
        " LEFT JOIN area a ON a.id = ANY(u.scope) AND a.valid_to IS NULL"
        " GROUP BY u.id ORDER BY u.name"
    ).fetchall()
    return [dict(name=n, role=r, scope=list(s), created_at=c, disabled_at=d) for n, r, s, c, d in rows]


def disable_user(conn: psycopg.Connection, who: Principal, name: str) -> None:
    """Disable a user and end their sessions at once (the row stays: the audit log names them)."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE app_user SET disabled_at = coalesce(disabled_at, now()) WHERE name = %s RETURNING id", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no user named {name!r}")
        conn.execute("DELETE FROM user_session WHERE user_id = %s", (row[0],))
        audit.record(conn, who, audit.Change("disable", "user", row[0], name))


def login(
    conn: psycopg.Connection,
    secret: str,
    name: str,
    password: str,
    hours: float,
    *,
    guard: throttle.LoginGuard | None = None,
    address: str = "",
) -> tuple[str, datetime, Principal]:
    """Check a password and open a session; return its bearer token, expiry and the user. One vague
    error for a wrong name, a wrong password or a disabled user, so the answer does not reveal which.

    With ``guard`` (every login through the API has one) failed logins are throttled per account and per
    client ``address`` (gridmap.access.throttle): while a wait lasts, RateLimited, even for the right password;
    and the password check waits for one of the process's slots: Busy when none frees up soon."""
    with guard.slots.slot() if guard else nullcontext():
        if guard:
            throttle.claim(conn, guard.policy, name, address)
        row = conn.execute(
            "SELECT id, password_hash, role, scope FROM app_user WHERE name = %s AND disabled_at IS NULL", (name,)
        ).fetchone()
        try:
            _hasher.verify(row[1] if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            row = None
    if row is None:
        raise Unauthenticated("wrong user name or password")
    if guard:
        throttle.forgive(conn, guard.policy, name, address)
    token = _new_token(SESSION_PREFIX)
    expires = datetime.now(UTC) + timedelta(hours=hours)
    with conn.transaction():
        conn.execute("DELETE FROM user_session WHERE user_id = %s AND expires_at < now()", (row[0],))
        conn.execute(
            "INSERT INTO user_session (digest, user_id, expires_at) VALUES (%s, %s, %s)",
            (token_digest(secret, token), row[0], expires),
        )
    return token, expires, Principal(name=name, kind="user", role=row[2], scope=frozenset(row[3]))


def logout(conn: psycopg.Connection, secret: str, token: str) -> None:
    """End the session of ``token`` (nothing happens for an unknown token)."""
    with conn.transaction():
        conn.execute("DELETE FROM user_session WHERE digest = %s", (token_digest(secret, token),))


def add_key(conn: psycopg.Connection, who: Principal, secret: str, name: str, role: str, scope: list[str]) -> str:
    """Create an API key; return its token, which is shown only this once."""
    _check_role(role)
    token = _new_token(KEY_PREFIX)
    with conn.transaction():
        ids = resolve_scope(conn, role, scope)
        try:
            key_id = conn.execute(
                "INSERT INTO api_key (name, digest, role, scope) VALUES (%s, %s, %s, %s) RETURNING id",
                (name, token_digest(secret, token), role, ids),
            ).fetchone()[0]
        except psycopg.errors.UniqueViolation:
            raise InvalidInput(f"an API key named {name!r} exists already", "name") from None
        except psycopg.errors.CheckViolation:
            raise InvalidInput(f"{name!r} is not a valid key name (letters, digits, _.@-)", "name") from None
        audit.record(
            conn,
            who,
            audit.Change("add", "api_key", key_id, name, detail={"role": role, "scope": scope}),
        )
    return token


def revoke_key(conn: psycopg.Connection, who: Principal, name: str) -> None:
    """Revoke an API key at once."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE api_key SET revoked_at = coalesce(revoked_at, now()) WHERE name = %s RETURNING id", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no API key named {name!r}")
        audit.record(conn, who, audit.Change("revoke", "api_key", row[0], name))


def principal_for_token(conn: psycopg.Connection, secret: str, token: str) -> Principal:
    """The user or key behind a bearer token; Unauthenticated when it is unknown, expired or revoked."""
    digest = token_digest(secret, token)
    if token.startswith(SESSION_PREFIX):
        row = conn.execute(
            "SELECT u.name, 'user', u.role, u.scope FROM user_session s JOIN app_user u ON u.id = s.user_id"
            " WHERE s.digest = %s AND s.expires_at > now() AND u.disabled_at IS NULL",
            (digest,),
        ).fetchone()
    elif token.startswith(KEY_PREFIX):
        row = conn.execute(
            "SELECT name, 'key', role, scope FROM api_key WHERE digest = %s AND revoked_at IS NULL", (digest,)
        ).fetchone()
    else:
        row = None
    if row is None:
        raise Unauthenticated("the token is unknown, expired or revoked; log in again")
    name, kind, role, scope = row
    return Principal(name=name, kind=kind, role=role, scope=frozenset(scope))


class PrincipalCache:
    """Callers resolved from their token digests, kept for ``ttl_s`` (under a second) and only while
    ``generation()`` (the machine's write epoch) is unchanged, so that a burst of requests with one token
    costs one query. A logout, a disabled user or a revoked key takes effect at once on every process of
    this machine (it is a write: the epoch changes), and within ``ttl_s`` when written from elsewhere."""

    def __init__(self, secret: str, generation=lambda: None, ttl_s: float = 0.5, size: int = 10_000):
        self._secret = secret
        self._generation = generation
        self._ttl = ttl_s
        self._size = size
        self._entries: dict[str, tuple[float, object, Principal]] = {}

    def cached(self, token: str) -> Principal | None:
        """The principal behind ``token`` if resolved less than ``ttl_s`` ago and no write since, else None."""
        entry = self._entries.get(token_digest(self._secret, token))
        if entry is None or time.monotonic() >= entry[0] or entry[1] != self._generation():
            return None
        return entry[2]

    def resolve(self, conn: psycopg.Connection, token: str) -> Principal:
        """``principal_for_token``, remembered for ``ttl_s``."""
        generation = self._generation()  # before the query: a write meanwhile makes the entry stale
        who = principal_for_token(conn, self._secret, token)
        if len(self._entries) >= self._size:  # expired ones first; then start over rather than grow
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._size:
                self._entries.clear()
        self._entries[token_digest(self._secret, token)] = (time.monotonic() + self._ttl, generation, who)
        return who


def describe(conn: psycopg.Connection, who: Principal) -> dict:
    """Name, kind, role, jurisdiction (area codes; empty = everywhere) and, for a user tied to a person of the
    register, that ``person`` (id, name, role, phone) of a principal."""
    codes = [
        code
        for (code,) in conn.execute(
            "SELECT code FROM area WHERE valid_to IS NULL AND id = ANY(%s) ORDER BY code", (list(who.scope),)
        )
    ]
    person = None
    if who.kind == "user":
        row = conn.execute(
            "SELECT p.id, p.name, p.role, p.phone FROM app_user u JOIN person p ON p.id = u.person_id"
            " WHERE u.name = %s",
            (who.name,),
        ).fetchone()
        person = dict(zip(("id", "name", "role", "phone"), row, strict=True)) if row else None
    return {"name": who.name, "kind": who.kind, "role": who.role, "scope": codes, "person": person}
