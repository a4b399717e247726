"""The current state a lookup of *now* needs, held in memory, and the lookup rules answered from it.

PostGIS stays the only source of truth: a ``LookupIndex`` is built from one snapshot of it and patched
from the change notices the database sends (``gridmap.lookup.live``). It holds

* the pieces (``area_piece``) of every current micro-grid, of every layer, in one STRtree, and those of
  the current grids, communities and subdistricts (the fallback owners) in another;
* every building, in a third, with the columns an answer shows;
* the memberships of buildings split between micro-grids (by unit or floor): only they change an answer;
* every current area's JSON (``area_json``: households included), party cells, which micro-grid each
  cell owns, and the people to call.

``locate`` applies the rules of ``gridmap.lookup`` (lowest code on a shared edge, split buildings,
fallback owners) to many points at once with vectorised tree queries; ``owner`` builds who answers for
an owner key (``sql/lookup_owners.sql`` in Python) once and keeps it until the next change. A point the
index cannot settle alone (a micro-grid piece lies within ``nearest_m`` of it, but none covers it) is
left to the SQL path, so "nearest" and its distance always come from PostGIS.

Text is ordered by code point, as the embedded cluster's C.UTF-8 collation orders it.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import psycopg
import shapely

from gridmap.access.rules import ANONYMOUS, redact
from gridmap.areas.levels import DEFAULT_LAYER, PERSON_ROLES

# Order of the people to call (sql/lookup_owners.sql); other roles come after these.
ROLE_ORDER = {role: i for i, role in enumerate(PERSON_ROLES)}
FALLBACK_ORDER = {"grid": 0, "community": 1, "subdistrict": 2}
# A batch job (a file to route or locate) builds its own index only when that costs less than the SQL
# path would: a build takes about 20 µs per building (scale 1: 20 s for a million), SQL about 400 µs per
# point, so from one point per BUILDINGS_PER_POINT buildings on, and never under INDEX_FROM_ROWS points.
INDEX_FROM_ROWS = 2000
BUILDINGS_PER_POINT = 20
# Most finished answers kept (one per owner, building and option set); past this the cache starts over.
RECORDS_KEPT = 200_000
# Additions are kept in a small second tree; past this many the main tree is rebuilt with them.
COMPACT_AFTER = 2000


class Spot(NamedTuple):
    """Where one point falls: the fields of a row of ``sql/lookup_points.sql``."""

    layer: str
    match: str
    distance_m: float | None
    base_row: int | None
    microgrid_row: int | None
    owner_ids: tuple[int, ...]
    building: dict | None
    units: list[dict] | None


@dataclass(frozen=True, eq=False)
class Area:
    """One current area version."""

    row_id: int
    id: int
    level: str
    layer: str
    code: str
    parent_id: int | None
    doc: dict  # area_json(a)


class Shapes:
    """Geometries keyed by an id, in an STRtree. Removing marks entries dead; additions go to a small
    second tree, merged into the main one once there are many: a patch never rebuilds a city's tree."""

    def __init__(self, keys: np.ndarray, geoms: np.ndarray):
        self._set(np.asarray(keys, dtype=np.int64), np.asarray(geoms, dtype=object))

    def _set(self, keys: np.ndarray, geoms: np.ndarray) -> None:
        self.keys, self.geoms = keys, geoms
        self.alive = np.ones(len(keys), dtype=bool)
        self.tree = shapely.STRtree(geoms)
        self.extra_keys: list[int] = []
        self.extra_geoms: list = []
        self.extra_tree: shapely.STRtree | None = None

    def __len__(self) -> int:
        return int(self.alive.sum()) + len(self.extra_keys)

    def remove(self, keys) -> None:
        """Drop every geometry held under any of ``keys``."""
        keys = set(keys)
        if not keys:
            return
        self.alive &= ~np.isin(self.keys, np.fromiter(keys, dtype=np.int64, count=len(keys)))
        if self.extra_keys:
            kept = [(k, g) for k, g in zip(self.extra_keys, self.extra_geoms, strict=True) if k not in keys]
            self.extra_keys = [k for k, _ in kept]
            self.extra_geoms = [g for _, g in kept]
            self._extra_changed()

    def add(self, keys: list[int], geoms: list) -> None:
        """Hold ``geoms`` under ``keys`` (one key per geometry)."""
        if not keys:
            return
        self.extra_keys += keys
        self.extra_geoms += geoms
        if len(self.extra_keys) > COMPACT_AFTER:
            live = self.alive
            self._set(
                np.concatenate([self.keys[live], np.asarray(self.extra_keys, dtype=np.int64)]),
                np.concatenate([self.geoms[live], np.asarray(self.extra_geoms, dtype=object)]),
            )
        else:
            self._extra_changed()

    def _extra_changed(self) -> None:
        self.extra_tree = shapely.STRtree(np.asarray(self.extra_geoms, dtype=object)) if self.extra_keys else None

    def query(self, geoms: np.ndarray, predicate: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(input positions, keys) of every live geometry meeting each input geometry by ``predicate``
        (evaluated as ``predicate(input, held)``; None: bounding boxes intersect)."""
        pos, hit = self.tree.query(geoms, predicate=predicate)
        keep = self.alive[hit]
        pos, keys = pos[keep], self.keys[hit[keep]]
        if self.extra_tree is not None:
            epos, ehit = self.extra_tree.query(geoms, predicate=predicate)
            pos = np.concatenate([pos, epos])
            keys = np.concatenate([keys, np.asarray(self.extra_keys, dtype=np.int64)[ehit]])
        return pos, keys


def _shapes(rows: list[tuple]) -> Shapes:
    """A Shapes from (key, WKB) rows."""
    keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return Shapes(keys, shapely.from_wkb([r[1] for r in rows]) if rows else np.empty(0, dtype=object))


_AREAS = """SELECT a.row_id, a.id, a.level, a.layer, a.code, a.parent_id, area_json(a)
            FROM area a WHERE valid_at(a.valid_from, a.valid_to, now())"""
_PIECES = """SELECT p.row_id, ST_AsBinary(p.geom), p.level = 'microgrid'
             FROM area_piece p WHERE valid_at(p.valid_from, p.valid_to, now())"""
_BUILDINGS = """SELECT id, code, name, compound, building_type, households, floors, units, ST_AsBinary(geom)
                FROM building"""
# Only memberships of buildings held by more than one micro-grid can change an answer (split buildings).
_MEMBERS = """SELECT building_id, microgrid_id, unit_from, unit_to, floor_from, floor_to, households
              FROM microgrid_member
              WHERE building_id IN (SELECT building_id FROM microgrid_member
                                    WHERE (%(ids)s::bigint[] IS NULL OR building_id = ANY(%(ids)s::bigint[]))
                                    GROUP BY building_id HAVING count(DISTINCT microgrid_id) > 1)"""
_CELLS = "SELECT id, code, name, branch FROM party_cell"
_CELL_MAP = "SELECT microgrid_id, party_cell_id FROM party_cell_microgrid"
_PEOPLE = "SELECT id, name, role, phone, area_id, party_cell_id FROM person"


def _building_doc(row: tuple) -> tuple:
    # (code, name, compound, type, households, floors, units): the JSON is made when an answer needs it
    return tuple(row[1:8])


class LookupIndex:
    """Everything a lookup of now reads, in memory. Not thread-safe: its owner serialises patches and reads."""

    def __init__(self, conn: psycopg.Connection):
        """Build from one consistent snapshot of ``conn``'s database (a read-only REPEATABLE READ transaction;
        inside a transaction already open on ``conn``, from that transaction, as a subtransaction)."""
        started = time.perf_counter()
        idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with conn.transaction():
            if idle:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur = conn.cursor(binary=True)
            self.rows: dict[int, Area] = {}
            self.current: dict[int, int] = {}
            for row in cur.execute(_AREAS):
                self._put_area(Area(*row))
            pieces = cur.execute(_PIECES).fetchall()
            self.microgrids = _shapes([p for p in pieces if p[2]])
            self.fallbacks = _shapes([p for p in pieces if not p[2]])
            del pieces
            buildings = cur.execute(_BUILDINGS).fetchall()
            self.building_docs = {row[0]: _building_doc(row) for row in buildings}
            self.buildings = _shapes([(row[0], row[8]) for row in buildings])
            del buildings
            self.members: dict[int, list[tuple]] = defaultdict(list)
            for row in cur.execute(_MEMBERS, {"ids": None}):
                self.members[row[0]].append(row[1:])
            self.cells = {row[0]: row[1:] for row in cur.execute(_CELLS)}
            self.cell_of = dict(cur.execute(_CELL_MAP).fetchall())
            self.people: dict[int, tuple] = {}
            self.people_by_area: dict[int, set[int]] = defaultdict(set)
            self.people_by_cell: dict[int, set[int]] = defaultdict(set)
            for row in cur.execute(_PEOPLE):
                self._put_person(row)
        self._owners: dict[tuple, tuple] = {}
        self.records: dict[tuple, dict] = {}  # finished answers by where and for whom: ``gridmap.lookup``
        self._layers: frozenset[str] | None = None
        # Millions of long-lived objects: left to the cyclic collector, every full pass walks them all
        # (seconds in the middle of a request). They are freed by reference counting when replaced.
        gc.freeze()
        self.build_seconds = time.perf_counter() - started

    # -- holding areas and people ------------------------------------------------------------------

    def _put_area(self, area: Area) -> None:
        self.rows[area.row_id] = area
        self.current[area.id] = area.row_id

    def _put_person(self, row: tuple) -> None:
        pid, _name, _role, _phone, area_id, cell_id = row
        self.people[pid] = row[1:]
        if area_id is not None:
            self.people_by_area[area_id].add(pid)
        if cell_id is not None:
            self.people_by_cell[cell_id].add(pid)

    def _drop_person(self, pid: int) -> None:
        row = self.people.pop(pid, None)
        if row is not None:
            self.people_by_area.get(row[3], set()).discard(pid)
            self.people_by_cell.get(row[4], set()).discard(pid)

    @property
    def layers(self) -> frozenset[str]:
        """The grid layers with a current micro-grid or grid (worked out again after each patch)."""
        if self._layers is None:
            grids = (a.layer for a in self.rows.values() if a.level in ("grid", "microgrid"))
            self._layers = frozenset(grids) | {DEFAULT_LAYER}
        return self._layers

    def _ancestors(self, area_id: int | None) -> list[int]:
        out = []
        while area_id is not None and area_id in self.current:
            out.append(area_id)
            area_id = self.rows[self.current[area_id]].parent_id
        return out

    # -- patches -----------------------------------------------------------------------------------

    def patch(self, conn: psycopg.Connection, changes: dict[str, set[int]]) -> None:
        """Re-read the rows named by ``changes`` (kind → ids, as ``gridmap.lookup.live`` collects them
        from the change notices) and replace what the index held for them. Idempotent: re-reading a
        row that did not change leaves the index as it was."""
        cur = conn.cursor(binary=True)
        if changes.get("area"):
            self._patch_areas(cur, changes["area"])
        if changes.get("building"):
            self._patch_buildings(cur, changes["building"])
        self._layers = None
        if changes.get("cell"):
            ids = list(changes["cell"])
            for cid in ids:
                self.cells.pop(cid, None)
            self.cells.update({r[0]: r[1:] for r in cur.execute(_CELLS + " WHERE id = ANY(%s)", (ids,))})
        if changes.get("cellmap"):
            ids = list(changes["cellmap"])
            for mid in ids:
                self.cell_of.pop(mid, None)
            self.cell_of.update(dict(cur.execute(_CELL_MAP + " WHERE microgrid_id = ANY(%s)", (ids,)).fetchall()))
        if changes.get("person"):
            ids = list(changes["person"])
            for pid in ids:
                self._drop_person(pid)
            for row in cur.execute(_PEOPLE + " WHERE id = ANY(%s)", (ids,)):
                self._put_person(row)
        self._owners.clear()
        self.records.clear()

    def _patch_areas(self, cur, ids: set[int]) -> None:
        # Household totals roll up: the ancestors before and after the change get their JSON re-read too.
        before = {a for i in ids for a in self._ancestors(i)}
        gone = [self.current.pop(i) for i in ids if i in self.current]
        for row_id in gone:
            del self.rows[row_id]
        self.microgrids.remove(gone)
        self.fallbacks.remove(gone)
        fresh = [Area(*row) for row in cur.execute(_AREAS + " AND a.id = ANY(%s)", (list(ids),))]
        for area in fresh:
            self._put_area(area)
        rows = [a.row_id for a in fresh]
        pieces = cur.execute(_PIECES + " AND p.row_id = ANY(%s)", (rows,)).fetchall()
        for shapes, wanted in ((self.microgrids, True), (self.fallbacks, False)):
            chosen = [p for p in pieces if p[2] == wanted]
            shapes.add([p[0] for p in chosen], list(shapely.from_wkb([p[1] for p in chosen])))
        after = {a for i in ids for a in self._ancestors(i)}
        others = list((before | after) - ids)
        if others:
            for area in (Area(*row) for row in cur.execute(_AREAS + " AND a.id = ANY(%s)", (others,))):
                self.rows.pop(self.current.get(area.id, -1), None)
                self._put_area(area)  # same version (its pieces stay), new households

    def _patch_buildings(self, cur, ids: set[int]) -> None:
        listed = list(ids)
        for bid in listed:
            self.building_docs.pop(bid, None)
            self.members.pop(bid, None)
        self.buildings.remove(listed)
        rows = cur.execute(_BUILDINGS + " WHERE id = ANY(%s)", (listed,)).fetchall()
        self.building_docs.update({row[0]: _building_doc(row) for row in rows})
        self.buildings.add([row[0] for row in rows], list(shapely.from_wkb([row[8] for row in rows])))
        for row in cur.execute(_MEMBERS, {"ids": listed}):
            self.members[row[0]].append(row[1:])

    # -- answers -----------------------------------------------------------------------------------

    def locate(
        self,
        points: list[tuple[float, float]],
        layer: str,
        unit: int | None,
        floor: int | None,
        nearest_m: float,
    ) -> list[Spot | None]:
        """Where each WGS-84 point falls in ``layer``, by the rules of ``gridmap.lookup``; None for a
        point only the SQL path settles (a micro-grid lies within ``nearest_m`` but none covers it)."""
        n = len(points)
        xy = np.asarray(points, dtype=float).reshape(n, 2)
        geoms = shapely.points(xy)
        cover: list[dict[int, Area]] = [{} for _ in range(n)]  # per point: row id → area (pieces repeat)
        for i, row_id in zip(*self.microgrids.query(geoms, "covered_by"), strict=True):
            area = self.rows.get(int(row_id))
            if area is not None and area.layer == layer:
                cover[i][area.row_id] = area
        building: list[int | None] = [None] * n
        for i, bid in zip(*self.buildings.query(geoms, "covered_by"), strict=True):
            bid = int(bid)
            if building[i] is None or self.building_docs[bid][0] < self.building_docs[building[i]][0]:
                building[i] = bid
        bare = [i for i in range(n) if not cover[i]]
        undecided = self._near_candidates(xy, geoms, bare, layer, nearest_m)
        fallback = self._fallbacks(geoms, [i for i in bare if i not in undecided], layer)
        out: list[Spot | None] = []
        for i in range(n):
            if i in undecided:
                out.append(None)
                continue
            areas = sorted(cover[i].values(), key=lambda a: a.code)
            out.append(self._spot(layer, areas, building[i], fallback.get(i), unit, floor))
        return out

    def _near_candidates(self, xy, geoms, bare: list[int], layer: str, nearest_m: float) -> set[int]:
        """Points in no micro-grid with a micro-grid piece's box within ``nearest_m``: the SQL path
        decides those (the same box as ``sql/lookup_points.sql``'s index prefilter)."""
        if not bare:
            return set()
        sub = xy[bare]
        deg = nearest_m / (111320.0 * np.maximum(np.cos(np.radians(sub[:, 1])), 0.01))
        boxes = shapely.box(sub[:, 0] - deg, sub[:, 1] - deg, sub[:, 0] + deg, sub[:, 1] + deg)
        found = set()
        for j, row_id in zip(*self.microgrids.query(boxes, None), strict=True):
            area = self.rows.get(int(row_id))
            if area is not None and area.layer == layer:
                found.add(bare[int(j)])
        return found

    def _fallbacks(self, geoms, wanted: list[int], layer: str) -> dict[int, int]:
        """For each wanted point, the row of the smallest enclosing grid (of ``layer``), community or
        subdistrict (属地兜底): lowest level first, then lowest code."""
        if not wanted:
            return {}
        best: dict[int, Area] = {}
        for j, row_id in zip(*self.fallbacks.query(geoms[wanted], "covered_by"), strict=True):
            area = self.rows.get(int(row_id))
            if area is None or (area.level == "grid" and area.layer != layer):
                continue
            i = wanted[int(j)]
            rank = (FALLBACK_ORDER[area.level], area.code)
            if i not in best or rank < (FALLBACK_ORDER[best[i].level], best[i].code):
                best[i] = area
        return {i: a.row_id for i, a in best.items()}

    def _spot(self, layer, cover: list[Area], building_id, fallback_row, unit, floor) -> Spot:
        building = self._building_json(building_id)
        split = None
        if cover and building_id is not None and building_id in self.members:
            ids = {a.id for a in cover}
            held = sorted({m[0] for m in self.members[building_id] if m[0] in ids})
            split = held if len(held) > 1 else None
        if split is None:
            if cover:
                return Spot(layer, "inside", None, cover[0].row_id, cover[0].row_id, (cover[0].id,), building, None)
            return Spot(layer, "unassigned", None, fallback_row, None, (), building, None)
        by_id = {a.id: a for a in cover}
        picked = None
        if unit is not None or floor is not None:
            chosen = {m[0] for m in self.members[building_id] if m[0] in split and _holds(m, unit, floor)}
            picked = chosen.pop() if len(chosen) == 1 else None
        microgrid_row = by_id[picked].row_id if picked is not None else None
        owners = (picked,) if picked is not None else tuple(split)
        base = microgrid_row if microgrid_row is not None else cover[0].row_id
        return Spot(
            layer, "inside", None, base, microgrid_row, owners, building, self._units(building_id, split, by_id)
        )

    def _building_json(self, building_id: int | None) -> dict | None:
        if building_id is None:
            return None
        code, name, compound, kind, households, floors, units = self.building_docs[building_id]
        return {"id": building_id, "code": code, "name": name, "compound": compound, "type": kind,
                "households": households, "floors": floors, "units": units}  # fmt: skip

    def _units(self, building_id: int, split: list[int], by_id: dict[int, Area]) -> list[dict]:
        rows = [m for m in self.members[building_id] if m[0] in split]
        rows.sort(key=lambda m: (by_id[m[0]].code, _nulls_last(m[1]), _nulls_last(m[3])))
        out = []
        for mid, unit_from, unit_to, floor_from, floor_to, households in rows:
            cell = self.cells.get(self.cell_of.get(mid))
            out.append({"microgrid": by_id[mid].doc, "unit_from": unit_from, "unit_to": unit_to,
                        "floor_from": floor_from, "floor_to": floor_to, "households": households,
                        "party_cell": cell[0] if cell else None})  # fmt: skip
        return out

    def owner(self, key: tuple, masked: bool = False) -> tuple:
        """(chain, party cell, people) for an owner key (base row, micro-grid row, owning micro-grid
        ids), as ``sql/lookup_owners.sql`` builds it, with phones masked when ``masked`` (the answer for
        callers not signed in, ``gridmap.access.rules.redact``); each kept ready until the next patch."""
        found = self._owners.get((key, masked))
        if found is None:
            if masked:
                chain, party_cell, people = self.owner(key)
                found = (chain, party_cell, redact(ANONYMOUS, people))
            else:
                found = self._build_owner(*key)
            self._owners[(key, masked)] = found
        return found

    def _build_owner(self, base_row: int | None, microgrid_row: int | None, owner_ids: tuple[int, ...]) -> tuple:
        chain: dict = {}
        upper: list[int] = []
        area = self.rows.get(base_row) if base_row is not None else None
        while area is not None:
            if area.level != "microgrid":
                upper.append(area.id)
            if area.level != "microgrid" or microgrid_row is not None:
                chain[area.level] = area.doc
            parent = self.current.get(area.parent_id) if area.parent_id is not None else None
            area = self.rows.get(parent) if parent is not None else None
        callee: set[int] = set()
        for area_id in (*upper, *owner_ids):
            callee |= self.people_by_area.get(area_id, set())
        for mid in owner_ids:
            if mid in self.cell_of:
                callee |= self.people_by_cell.get(self.cell_of[mid], set())
        people = [self._person_json(pid) for pid in callee]
        # ORDER BY role position, area code DESC (NULLs first), name: stable sorts, last key first
        people.sort(key=lambda p: p["name"])
        people.sort(key=lambda p: p["area"] or "", reverse=True)
        people.sort(key=lambda p: p["area"] is not None)
        people.sort(key=lambda p: ROLE_ORDER.get(p["role"], len(ROLE_ORDER)))
        party_cell = None
        mg = self.rows.get(microgrid_row) if microgrid_row is not None else None
        if mg is not None and mg.id in self.cell_of and self.cell_of[mg.id] in self.cells:
            cid = self.cell_of[mg.id]
            code, name, branch = self.cells[cid]
            party_cell = {"id": cid, "code": code, "name": name, "branch": branch}
        return chain or None, party_cell, people or None

    def _person_json(self, pid: int) -> dict:
        name, role, phone, area_id, cell_id = self.people[pid]
        area_row = self.current.get(area_id) if area_id is not None else None
        cell = self.cells.get(cell_id) if cell_id is not None else None
        return {"name": name, "role": role, "phone": phone,
                "area": self.rows[area_row].code if area_row is not None else None,
                "party_cell": cell[0] if cell else None}  # fmt: skip


def worth_building(conn: psycopg.Connection, points: int) -> bool:
    """Should a batch job of ``points`` lookups build its own index rather than ask SQL for each?"""
    if points < INDEX_FROM_ROWS:
        return False
    estimate = conn.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'building'::regclass").fetchone()
    return points >= (estimate[0] if estimate else 0) / BUILDINGS_PER_POINT


def _nulls_last(value: int | None) -> tuple:
    return (value is None, value or 0)


def _holds(member: tuple, unit: int | None, floor: int | None) -> bool:
    """Does a membership (microgrid, unit_from, unit_to, floor_from, floor_to, …) hold ``unit``/``floor``?
    NULL bounds are open, as ``int4range(lo, hi, '[]')`` reads them."""

    def within(value, lo, hi):
        return value is None or ((lo is None or lo <= value) and (hi is None or value <= hi))

    return within(unit, member[1], member[2]) and within(floor, member[3], member[4])
