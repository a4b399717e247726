"""Who may do what: principals, roles, permissions and jurisdictions (object-level checks).

A jurisdiction is a set of area identities (subdistricts or communities). An object is inside it when
its area path (the area and its ancestors) meets that set; an empty set means everywhere. Objects
outside a caller's jurisdiction are reported exactly like objects that do not exist (404), so the
write API never confirms what a caller may not touch; a write that would put an object outside it (a new
case, a reroute, a moved footprint) is refused (422) before anything is written. Lists, maps, figures and
the audit log apply the same rule in SQL through ``jurisdiction_ids``."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

from gridmap.errors import Forbidden, InvalidInput, NotFound, Unauthenticated

# worker: a grid worker (网格员) who accepts and answers cases; intake: a channel system (a WeChat
# mini-program's back end, the 12345 hotline bridge) that may only report incidents.
ACCOUNT_ROLES = ("admin", "planner", "dispatcher", "worker", "intake", "viewer")
STAFF = frozenset({"admin", "dispatcher", "worker"})

# permission → roles holding it. Anonymous callers hold none (lookups are opened by a setting instead).
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ACCOUNT_ROLES) - {"intake"},
    "area.write": frozenset({"admin", "planner"}),
    "building.write": frozenset({"admin", "planner"}),
    "area.set_code": frozenset({"admin"}),
    "area.set_parent": frozenset({"admin"}),
    "area.create_subdistrict": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    "incident.create": STAFF | {"intake"},
    "incident.read": frozenset(ACCOUNT_ROLES) - {"intake"},
    "incident.contact": STAFF,  # reporters' names and phone numbers
    "incident.handle": STAFF,  # accept, reply, escalate
    "incident.dispatch": frozenset({"admin", "dispatcher"}),  # every other action
    "incident.configure": frozenset({"admin"}),  # categories and deadlines
    "incident.report": frozenset(ACCOUNT_ROLES) - {"intake"},
}


@dataclass(frozen=True)
class Principal:
    """The caller: a user (session token), an API key, the command line, or nobody."""

    name: str
    kind: str  # user | key | cli | anonymous
    role: str | None = None
    scope: frozenset[int] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        """True when no credentials were given."""
        return self.kind == "anonymous"

    def can(self, permission: str) -> bool:
        """True when the principal's role holds ``permission``."""
        return self.role is not None and self.role in PERMISSIONS[permission]


ANONYMOUS = Principal(name="anonymous", kind="anonymous")


def cli_principal() -> Principal:
    """Whoever runs the command line: an admin, since they hold the database URL anyway."""
    return Principal(name=f"cli:{getpass.getuser()}", kind="cli", role="admin")


def require(principal: Principal, permission: str) -> None:
    """Raise Unauthenticated (no credentials) or Forbidden (wrong role) unless ``principal`` may."""
    if principal.anonymous:
        raise Unauthenticated("log in or send an API key (Authorization: Bearer …)")
    if not principal.can(permission):
        raise Forbidden(f"role {principal.role} may not do this ({permission})")


def refuse_fields(principal: Principal, given: dict[str, object], field_permissions: dict[str, str]) -> None:
    """Mass-assignment guard: 422 naming the first given field whose permission the role lacks."""
    for name, permission in field_permissions.items():
        if given.get(name) is not None and not principal.can(permission):
            raise InvalidInput(f"{name} may not be set by role {principal.role}", name)


def in_jurisdiction(principal: Principal, area_path: list[int] | tuple[int, ...]) -> bool:
    """True when an object whose area path is ``area_path`` lies inside the principal's jurisdiction."""
    if not principal.scope:
        return principal.role != "planner"  # a planner without a jurisdiction may edit nothing
    return not principal.scope.isdisjoint(area_path)


def jurisdiction_ids(principal: Principal) -> list[int] | None:
    """``in_jurisdiction`` for SQL: the area identities an object's area path must meet, or None for
    everywhere. A query applies it as ``(%(jurisdiction)s::bigint[] IS NULL OR area_path &&
    %(jurisdiction)s::bigint[])``; an empty list (a planner without a scope) matches nothing."""
    if principal.scope:
        return sorted(principal.scope)
    return None if in_jurisdiction(principal, ()) else []


def case_jurisdiction(principal: Principal) -> list[int] | None:
    """``jurisdiction_ids`` for incidents: the areas whose cases ``principal`` may see or count, in the same
    SQL form. A caller who may not read incidents (anonymous, intake) gets [], so counts on public maps,
    tiles and collections are zero rather than another community's figures."""
    return jurisdiction_ids(principal) if principal.can("incident.read") else []


def check_jurisdiction(principal: Principal, area_path, what: str) -> None:
    """NotFound (indistinguishable from a missing object) unless the object is inside the jurisdiction."""
    if not in_jurisdiction(principal, area_path):
        raise NotFound(f"{what} does not exist")


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``: enough to recognise a number, not enough to call it."""
    digits = [i for i, c in enumerate(phone) if c.isdigit()]
    hidden = set(digits[3:-4]) if len(digits) > 7 else set(digits[:-2])
    return "".join("*" if i in hidden else c for i, c in enumerate(phone))


def redact(principal: Principal, value):
    """Anonymous callers see people's phone numbers masked (personal data, PIPL); anyone signed in sees
    them whole. Walks dicts and lists and returns a redacted copy (or ``value`` itself when signed in)."""
    if not principal.anonymous:
        return value
    if isinstance(value, list):
        return [redact(principal, v) for v in value]
    if isinstance(value, dict):
        return {
            k: mask_phone(v) if k == "phone" and isinstance(v, str) else redact(principal, v) for k, v in value.items()
        }
    return value
