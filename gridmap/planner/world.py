"""A planner draft's world: the grids, micro-grids and buildings of one community as stored, with the
draft's changes laid over them. Edits (``gridmap.planner.edits``) change pieces of it; tallies and
coverage findings are read from it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

import psycopg
import shapely

from gridmap import sql
from gridmap.areas.geometry import as_multipolygon
from gridmap.areas.levels import DEFAULT_LAYER
from gridmap.partition.algorithm import Band

# A member row: building id, unit_from, unit_to, floor_from, floor_to, households (microgrid_member).
Member = list


@dataclass
class Piece:
    """A grid or micro-grid in a draft. ``key`` is the area id as text, or ``n<k>`` for one the draft
    made; ``base`` is the digest of the stored version it started from (None when new); ``removed``
    marks a stored area the draft retires."""

    key: str
    id: int | None
    version: int | None
    level: str
    code: str
    parent_id: int
    name: str
    kind: str
    layer: str
    geom: shapely.MultiPolygon
    members: list[Member] = field(default_factory=list)
    party_cell: int | None = None
    base: str | None = None
    removed: bool = False
    people: list[dict] = field(default_factory=list)

    @property
    def households(self) -> int:
        """Households the piece's member rows count."""
        return sum(m[5] for m in self.members)

    @property
    def comprehensive_microgrid(self) -> bool:
        """A micro-grid of the comprehensive layer (the one that must tile its grid)."""
        return self.level == "microgrid" and self.layer == DEFAULT_LAYER

    def to_json(self) -> dict:
        """The piece as kept in a draft step (geometry as WKB hex, exact)."""
        return {
            "key": self.key, "id": self.id, "version": self.version, "level": self.level, "code": self.code,
            "parent_id": self.parent_id, "name": self.name, "kind": self.kind, "layer": self.layer,
            "wkb": shapely.to_wkb(self.geom, hex=True), "members": self.members, "party_cell": self.party_cell,
            "base": self.base, "removed": self.removed,
        }  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict) -> Piece:
        """The piece a draft step kept."""
        values = {k: v for k, v in doc.items() if k != "wkb"}
        return cls(**values, geom=shapely.from_wkb(bytes.fromhex(doc["wkb"])))


@dataclass(frozen=True)
class BuildingInfo:
    """A building of the community: what the partitioner and the checks need."""

    id: int
    code: str
    name: str
    households: int
    units: int | None
    floors: int | None
    geom: shapely.Geometry


@dataclass
class World:
    """The community (id, code, name, geometry, parent), its pieces by key (draft changes applied, retired
    ones kept with ``removed``), its buildings by id, party cells (id → code, name, people), and the
    keys the draft changed."""

    scope: dict
    pieces: dict[str, Piece]
    buildings: dict[int, BuildingInfo]
    party_cells: dict[int, dict]
    changed: set[str] = field(default_factory=set)

    def live(self) -> list[Piece]:
        """Pieces in force (not retired), in code order."""
        return sorted((p for p in self.pieces.values() if not p.removed), key=lambda p: p.code)

    def holders(self) -> dict[int, list[str]]:
        """Building id → keys of the live micro-grids holding (part of) it."""
        out: dict[int, list[str]] = {}
        for p in self.live():
            for m in p.members:
                keys = out.setdefault(m[0], [])
                if p.key not in keys:
                    keys.append(p.key)
        return out


def stored_digest(version: int, members: list[Member]) -> str:
    """What a stored area's version and memberships were when a draft copied it: a save compares it
    with the area as it is then (memberships have no version of their own)."""
    rows = sorted(json.dumps(m) for m in members)
    return f"{version}:" + hashlib.md5("|".join(rows).encode()).hexdigest()


def member_rows(conn: psycopg.Connection, area_ids: list[int]) -> dict[int, list[Member]]:
    """Membership rows of the given micro-grids, by micro-grid id."""
    out: dict[int, list[Member]] = {i: [] for i in area_ids}
    for row in conn.execute(
        "SELECT microgrid_id, building_id, unit_from, unit_to, floor_from, floor_to, households"
        " FROM microgrid_member WHERE microgrid_id = ANY(%s) ORDER BY id",
        (area_ids,),
    ):
        out[row[0]].append(list(row[1:]))
    return out


def load(conn: psycopg.Connection, scope: dict, overlay: dict[str, dict]) -> World:
    """The community ``scope`` (its id, code and name) as stored now, with ``overlay`` (key → piece
    document) laid over it."""
    geom_wkb, parent_id = conn.execute(
        "SELECT ST_AsBinary(geom), parent_id FROM area WHERE id = %s AND valid_to IS NULL", (scope["id"],)
    ).fetchone()
    scope = scope | {"geom": shapely.from_wkb(geom_wkb), "parent_id": parent_id}
    rows = conn.execute(sql.load("planner_areas"), {"prefix": scope["code"]}).fetchall()
    members = member_rows(conn, [r[0] for r in rows if r[2] == "microgrid"])
    pieces: dict[str, Piece] = {}
    for area_id, version, level, code, parent, name, kind, layer, wkb, cell, people in rows:
        mine = members.get(area_id, [])
        pieces[str(area_id)] = Piece(
            str(area_id), area_id, version, level, code, parent, name, kind, layer,
            as_multipolygon(shapely.from_wkb(wkb)), mine, cell, stored_digest(version, mine), people=people,
        )  # fmt: skip
    stored_people = {k: p.people for k, p in pieces.items()}
    for key, doc in overlay.items():
        pieces[key] = replace(Piece.from_json(doc), people=stored_people.get(key, []))
    held = sorted({m[0] for p in pieces.values() for m in p.members})
    building_rows = conn.execute(
        sql.load("planner_buildings"),
        {"scope": scope["id"], "microgrids": [p.id for p in pieces.values() if p.id is not None]},
    ).fetchall()
    buildings = {r[0]: BuildingInfo(r[0], r[1], r[2], r[3], r[4], r[5], shapely.from_wkb(r[6])) for r in building_rows}
    missing = [b for b in held if b not in buildings]  # held by a draft piece, lying outside the community
    if missing:
        for r in conn.execute(
            "SELECT id, code, coalesce(name, ''), households, units, floors, ST_AsBinary(geom) FROM building"
            " WHERE id = ANY(%s)",
            (missing,),
        ):
            buildings[r[0]] = BuildingInfo(r[0], r[1], r[2], r[3], r[4], r[5], shapely.from_wkb(r[6]))
    cells = sorted({p.party_cell for p in pieces.values() if p.party_cell is not None})
    party_cells = {
        r[0]: {"code": r[1], "name": r[2], "people": r[3]}
        for r in conn.execute(sql.load("planner_party_cells"), {"ids": cells})
    }
    return World(scope, pieces, buildings, party_cells, set(overlay))


def badge(households: int, band: Band) -> str:
    """``empty``, ``under``, ``within`` or ``over`` the household band."""
    if households == 0:
        return "empty"
    if households < band.lo:
        return "under"
    return "over" if households > band.hi else "within"


def tallies(world: World, band: Band) -> dict:
    """Counts for the side panel: micro-grids and households, how many are under, within and over the
    band, and how many pieces the draft changed."""
    mgs = [p for p in world.live() if p.comprehensive_microgrid]
    badges = [badge(p.households, band) for p in mgs]
    return {
        "microgrids": len(mgs),
        "households": sum(p.households for p in mgs),
        "band": [band.lo, band.hi],
        **{b: badges.count(b) for b in ("empty", "under", "within", "over")},
        "changed": len(world.changed),
    }


def people_of(world: World, piece: Piece) -> list[dict]:
    """The people to call for a piece: its own (stored) workers, then its party cell's."""
    cell = world.party_cells.get(piece.party_cell) if piece.party_cell is not None else None
    return piece.people + (cell["people"] if cell else [])
