"""Principals and targets for the access-control tests on a copy of the demo city: two communities (A is
the planner's jurisdiction, B is foreign), and in each a grid, a micro-grid and a building."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from gridmap.settings import Settings

PASSWORD = "a long enough password"
# principal name → (role, needs the jurisdiction, is an API key)
PRINCIPALS = {
    "admin": ("admin", False, False),
    "planner": ("planner", True, False),
    "planner_key": ("planner", True, True),
    "dispatcher": ("dispatcher", False, False),
    "viewer": ("viewer", False, False),
}


@dataclass(frozen=True)
class Side:
    """One community's objects: ids of a grid, a micro-grid and a building inside it."""

    community: str
    grid_id: int
    grid_code: str
    microgrid_id: int
    building_id: int
    spot: tuple[float, float]  # a point well inside the grid


def _side(conn: psycopg.Connection, community: str) -> Side:
    # The grid with the roomiest interior, and the centre of its largest inscribed circle.
    grid_id, grid_code, x, y = conn.execute(
        "SELECT id, code, ST_X(c.center), ST_Y(c.center) FROM area, ST_MaximumInscribedCircle(geom) c"
        " WHERE valid_to IS NULL AND level = 'grid' AND layer = 'comprehensive' AND code LIKE %s || '%%'"
        " ORDER BY c.radius DESC LIMIT 1",
        (community,),
    ).fetchone()
    microgrid_id = conn.execute(
        "SELECT id FROM area WHERE valid_to IS NULL AND parent_id = %s ORDER BY code LIMIT 1", (grid_id,)
    ).fetchone()[0]
    building_id = conn.execute(
        "SELECT m.building_id FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL"
        " WHERE a.code LIKE %s || '%%' AND m.unit_from IS NULL AND m.floor_from IS NULL"
        " AND (SELECT count(*) FROM microgrid_member o WHERE o.building_id = m.building_id) = 1"
        " ORDER BY m.building_id LIMIT 1",
        (community,),
    ).fetchone()[0]
    return Side(community, grid_id, grid_code, microgrid_id, building_id, (x, y))


def communities(url: str) -> tuple[Side, Side]:
    """Two communities of the demo city: (own, foreign)."""
    with psycopg.connect(url) as conn:
        a, b = [c for (c,) in conn.execute(
            "SELECT code FROM area WHERE valid_to IS NULL AND level = 'community' ORDER BY code LIMIT 2"
        )]  # fmt: skip
        return _side(conn, a), _side(conn, b)


def add_principal(conn: psycopg.Connection, settings: Settings, name: str, role: str, scope: list[str],
                  is_key: bool = False) -> str:  # fmt: skip
    """Create an API key, or a user and log it in, with ``role`` and jurisdiction ``scope`` (community or
    subdistrict codes, empty = everywhere); return its bearer token."""
    secret = settings.security.secret_key.get_secret_value()
    if is_key:
        return accounts.add_key(conn, cli_principal(), secret, name, role, scope)
    accounts.add_user(conn, cli_principal(), name, PASSWORD, role, scope)
    return accounts.login(conn, secret, name, PASSWORD, 1)[0]


def make_principals(url: str, jurisdiction: str, settings: Settings) -> dict[str, str]:
    """Create each principal of PRINCIPALS (planners scoped to ``jurisdiction``); return name → bearer token."""
    with psycopg.connect(url) as conn:
        return {
            name: add_principal(conn, settings, name, role, [jurisdiction] if scoped else [], is_key)
            for name, (role, scoped, is_key) in PRINCIPALS.items()
        }


def box(x: float, y: float, half: float = 0.00005) -> dict:
    """A small closed GeoJSON square around (x, y)."""
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    return {"type": "Polygon", "coordinates": [[[x + dx * half, y + dy * half] for dx, dy in corners]]}


def table_digest(url: str) -> tuple:
    """A fingerprint of everything a write could change: area identities and versions, buildings, memberships,
    party cells and their micro-grids, people, audit log, idempotency keys."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM area), (SELECT md5(string_agg(row_id || ':' || coalesce(valid_to::text, ''),"
            " ',' ORDER BY row_id)) FROM area),"
            " (SELECT md5(string_agg(b::text, ',' ORDER BY id)) FROM building b),"
            " (SELECT md5(string_agg(m::text, ',' ORDER BY id)) FROM microgrid_member m),"
            " (SELECT count(*) FROM audit_log), (SELECT count(*) FROM idempotency_key),"
            " (SELECT md5(coalesce(string_agg(i::text, ',' ORDER BY id), '')) FROM area_identity i),"
            " (SELECT md5(coalesce(string_agg(p::text, ',' ORDER BY id), '')) FROM person p),"
            " (SELECT md5(coalesce(string_agg(c::text, ',' ORDER BY id), '')) FROM party_cell c),"
            " (SELECT md5(coalesce(string_agg(pm::text, ',' ORDER BY microgrid_id), '')) FROM party_cell_microgrid pm)"
        ).fetchone()
