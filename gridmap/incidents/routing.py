"""Where a case goes: the lookup chain of its point (micro-grid, grid, community, subdistrict, party
cell, people), kept with the area versions it used, plus the flags a dispatcher must see."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from gridmap.access.rules import Principal, in_jurisdiction
from gridmap.errors import InvalidInput
from gridmap.lookup import AREA_KEYS, LookupOptions, lookup
from gridmap.notify.templates import DEFAULT_SIGN


@dataclass(frozen=True)
class Policy:
    """The knobs of intake and routing (from the settings)."""

    nearest_m: float = 5.0
    boundary_confirm_m: float = 15.0
    region_margin_m: float = 5000.0
    repeat_m: float = 50.0
    repeat_days: float = 7.0
    address_min_confidence: float = 0.8
    sign: str = DEFAULT_SIGN  # the 【signature】 of the messages events send (notify_sign)


def policy_from_settings(settings) -> Policy:
    """The Policy the settings describe."""
    return Policy(
        nearest_m=settings.lookup.nearest_m,
        boundary_confirm_m=settings.incidents.boundary_confirm_m,
        region_margin_m=settings.incidents.region_margin_m,
        repeat_m=settings.incidents.repeat_m,
        repeat_days=settings.incidents.repeat_days,
        address_min_confidence=settings.incidents.address_min_confidence,
        sign=settings.notify.notify_sign,
    )


@dataclass
class Route:
    """A routing decision: the stored snapshot (area versions included), the level that answers first, and
    flags (unassigned, nearest, near_boundary)."""

    snapshot: dict
    level: str | None
    flags: list[str] = field(default_factory=list)

    @property
    def ids(self) -> dict[str, int | None]:
        """The area identity per level, from the snapshot."""
        return {k: (self.snapshot.get(k) or {}).get("id") for k in AREA_KEYS}

    @property
    def area_path(self) -> list[int]:
        """The identity ids of the chain, for jurisdiction checks."""
        return [i for i in self.ids.values() if i is not None]


# What a case keeps of the lookup answer it was routed by.
SNAPSHOT_KEYS = ("match", "distance_m", *AREA_KEYS, "party_cell", "building", "people", "note")
ROUTING_FLAGS = ("needs_location", "unassigned", "nearest", "near_boundary")


def unrouted(snapshot: dict | None = None) -> Route:
    """The route of a case with no location yet: nobody answers, the needs-location queue holds it."""
    return Route(snapshot=snapshot or {}, level=None, flags=["needs_location"])


def check_in_region(conn: psycopg.Connection, lon: float, lat: float, margin_m: float) -> None:
    """InvalidInput unless the point lies within ``margin_m`` of a current subdistrict (the region served)."""
    inside = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM area WHERE level = 'subdistrict' AND valid_to IS NULL"
        # the box test first (index, cheap); the geodesic distance only for the few left
        " AND geom && ST_Expand(ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s)"
        " AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s))",
        (lon, lat, margin_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01)), lon, lat, margin_m),
    ).fetchone()[0]
    if not inside:
        raise InvalidInput(
            f"({lon:.6f}, {lat:.6f}) is outside the region served (farther than {margin_m:g} m from every"
            " subdistrict); check the coordinates and their crs",
            "lon",
        )


def _nearest_subdistrict(conn: psycopg.Connection, lon: float, lat: float) -> dict | None:
    row = conn.execute(
        "SELECT area_json(a) FROM area a WHERE a.level = 'subdistrict' AND a.valid_to IS NULL"
        " ORDER BY a.geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326), a.code LIMIT 1",
        (lon, lat),
    ).fetchone()
    return row[0] if row else None


def _near_grid_boundary(conn: psycopg.Connection, grid_id: int, lon: float, lat: float, within_m: float) -> bool:
    row = conn.execute(
        "SELECT ST_DWithin(ST_Boundary(geom)::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s)"
        " FROM area WHERE id = %s AND valid_to IS NULL",
        (lon, lat, within_m, grid_id),
    ).fetchone()
    return bool(row and row[0])


def route_from_record(record: dict) -> Route:
    """The route a lookup answer gives: the micro-grid answers first (also a nearest one, flagged
    ``nearest``); in no micro-grid the subdistrict's queue takes it at once, flagged ``unassigned``."""
    snapshot = {k: record[k] for k in SNAPSHOT_KEYS}
    flags = [record["match"]] if record["match"] in ("nearest", "unassigned") else []
    if record["match"] != "unassigned":
        level = "microgrid"
    else:
        level = "subdistrict" if snapshot["subdistrict"] else None
    return Route(snapshot=snapshot, level=level, flags=flags)


def route_point(
    conn: psycopg.Connection,
    lon: float,
    lat: float,
    policy: Policy,
    lookups=None,
    unit: int | None = None,
    floor: int | None = None,
) -> Route:
    """Route a WGS-84 point inside the region (``route_from_record``), with the checks a single live report
    gets: an unassigned point outside every subdistrict goes to the nearest one (the bridge-culvert lamp no
    unit owned still has an owner), and one close to a grid boundary is flagged ``near_boundary`` for a
    dispatcher to confirm. ``unit``/``floor`` (1–200) pick the micro-grid of a building split by unit or floor.
    With ``lookups`` (a ``LookupService``) the owner comes from its in-process index."""
    find = lookups.lookup if lookups is not None else lookup
    options = LookupOptions(unit=unit, floor=floor, nearest_m=policy.nearest_m)
    route = route_from_record(find(conn, [(lon, lat)], options)[0])
    if route.level is None:
        route.snapshot["subdistrict"] = _nearest_subdistrict(conn, lon, lat)
        route.level = "subdistrict" if route.snapshot["subdistrict"] else None
    grid = route.ids["grid"]
    if grid and policy.boundary_confirm_m > 0 and _near_grid_boundary(conn, grid, lon, lat, policy.boundary_confirm_m):
        route.flags.append("near_boundary")
    return route


def check_within(who: Principal, route: Route, field: str) -> None:
    """InvalidInput (naming ``field``) unless a case routed by ``route`` lies inside ``who``'s jurisdiction.
    Called before a case is stored or moved, so a caller never leaves behind a case it could then not see;
    a case with no route yet (no location) lies inside an unlimited jurisdiction only."""
    if in_jurisdiction(who, route.area_path):
        return
    if not route.area_path:
        raise InvalidInput("without a location the case would lie outside your jurisdiction; send lon/lat or a"
                           " building code", field)  # fmt: skip
    raise InvalidInput("this location lies outside your jurisdiction", field)


def save_route(conn: psycopg.Connection, incident_id: int, route: Route, extra_flags: tuple[str, ...] = ()) -> None:
    """Store ``route`` on the case: snapshot, identities, path and answering level. Routing flags are
    replaced; other flags (overdue, reported_after_close) stay."""
    conn.execute(
        "UPDATE incident SET route = %s, microgrid_id = %s, grid_id = %s, community_id = %s, subdistrict_id = %s,"
        " area_path = %s, level = %s,"
        " flags = ARRAY(SELECT DISTINCT f FROM unnest(array_cat("
        "   ARRAY(SELECT f FROM unnest(flags) f WHERE f <> ALL(%s)), %s)) f ORDER BY f)"
        " WHERE id = %s",
        (Jsonb(route.snapshot), *(route.ids[k] for k in AREA_KEYS), route.area_path, route.level, list(ROUTING_FLAGS),
         [*route.flags, *extra_flags], incident_id),
    )  # fmt: skip
