"""The planner's edits on a draft's world: split a micro-grid by a line, merge neighbours, move
buildings (with their land), reshape an area, draw a specialised grid, and propose a grid's
micro-grids with the partitioner. Geometry work is shapely's; nothing here touches the database.

Land and households stay together: a building follows the land it stands on when a split or a
reshape moves a boundary, and a moved building takes its share of land (its territory, as the
partitioner draws them) from the micro-grid it leaves."""

from __future__ import annotations

from collections.abc import Callable

import shapely
import shapely.ops

from gridmap import fields
from gridmap.areas.codes import child_code
from gridmap.areas.geometry import as_multipolygon
from gridmap.areas.levels import DEFAULT_LAYER, LAYER_PATTERN
from gridmap.areas.territory import Projection, share_land
from gridmap.errors import InvalidInput, NotFound
from gridmap.partition.algorithm import Building, propose_grid
from gridmap.partition.drafts import Params
from gridmap.planner.world import Piece, World

# Pieces smaller than this (m²) are slivers a line or a reshape cut off by accident.
MIN_PART_M2 = 1.0
# Areas closer than this (degrees, ≈0.1 m) border each other: shared edges stored as doubles differ
# in the last digits.
TOUCH_DEG = 1e-6
# A building follows the land when less than this share of its footprint stays with its holder.
FOLLOW_SHARE = 0.5
MAX_MOVE = 500
# Drawn vertices this close (degrees, ≈5 cm) to an existing outline are put on it.
SNAP_DEG = 5e-7


def _polygons(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygonal part of a shapely result (differences can leave lines and points behind)."""
    parts = [p for p in shapely.get_parts(shapely.get_parts(geom)) if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.MultiPolygon(parts)


class Editor:
    """Applies edits to ``world``, remembering which pieces changed (``touched``).

    ``last_sequence(parent_id, level)`` is the highest child code number ever stored under a parent
    (codes are never reused); ``new_key()`` hands out keys for pieces the draft makes."""

    def __init__(self, world: World, last_sequence: Callable[[int, str], int], new_key: Callable[[], str]):
        self.world = world
        self.last_sequence = last_sequence
        self.new_key = new_key
        self.touched: list[str] = []
        self.projection = Projection(world.scope["geom"])

    # -- helpers ---------------------------------------------------------------------------------------

    def m2(self, geom: shapely.Geometry) -> float:
        """Area in square metres."""
        return float(self.projection.metric([geom])[0].area)

    def touch(self, piece: Piece) -> None:
        """Record ``piece`` as changed by this edit."""
        if piece.key not in self.touched:
            self.touched.append(piece.key)
        self.world.changed.add(piece.key)

    def piece(self, key: str, level: str | None = None) -> Piece:
        """The live piece ``key`` (of ``level`` when given), or NotFound / InvalidInput."""
        p = self.world.pieces.get(str(key))
        if p is None or p.removed:
            raise NotFound(f"{key} is not a current grid or micro-grid of community {self.world.scope['code']}")
        if level and p.level != level:
            raise InvalidInput(f"{p.code} is a {p.level}, not a {level}", "key")
        return p

    def _next_code(self, parent_id: int, parent_code: str, level: str) -> str:
        used = [int(p.code[-3:]) for p in self.world.pieces.values() if p.parent_id == parent_id and p.level == level]
        sequence = max([self.last_sequence(parent_id, level), *used]) + 1
        try:
            return child_code(parent_code, sequence)
        except ValueError:
            raise InvalidInput(f"{parent_code} has no free {level} code left (999 used)", "key") from None

    def _new_microgrid(self, grid: Piece, geom: shapely.Geometry, members: list, party_cell: int | None) -> Piece:
        code = self._next_code(grid.id, grid.code, "microgrid")
        piece = Piece(
            self.new_key(), None, None, "microgrid", code, grid.id, f"{grid.name}{int(code[-3:])}号微网格",
            "comprehensive", DEFAULT_LAYER, as_multipolygon(geom), members, party_cell,
        )  # fmt: skip
        self.world.pieces[piece.key] = piece
        self.touch(piece)
        return piece

    def _retire(self, piece: Piece) -> None:
        piece.removed = True
        self.touch(piece)

    def _grid_of(self, piece: Piece) -> Piece:
        grid = self.world.pieces.get(str(piece.parent_id))
        if grid is None:
            raise InvalidInput(f"the grid of {piece.code} is not in community {self.world.scope['code']}", "key")
        return grid

    def _follow_land(self, pieces: list[Piece]) -> None:
        """Give each building held by one of ``pieces`` to the one of them holding most of its footprint,
        when its holder keeps less than FOLLOW_SHARE of it."""
        live = [p for p in pieces if not p.removed]
        for holder in live:
            for building_id in sorted({m[0] for m in holder.members}):
                b = self.world.buildings.get(building_id)
                if b is None:
                    continue
                shares = {p.key: shapely.area(shapely.intersection(b.geom, p.geom)) for p in live}
                best = max(shares, key=lambda k: (shares[k], k == holder.key))
                if best == holder.key or shares[holder.key] >= FOLLOW_SHARE * b.geom.area:
                    continue
                rows = [m for m in holder.members if m[0] == building_id]
                holder.members = [m for m in holder.members if m[0] != building_id]
                self.world.pieces[best].members += rows
                self.touch(holder)
                self.touch(self.world.pieces[best])

    def _snapped(self, geom: shapely.MultiPolygon, piece: Piece | None = None) -> shapely.MultiPolygon:
        """``geom`` with vertices within SNAP_DEG of the area's old outline or its neighbours' moved onto
        them: a browser sends rounded coordinates, and an edge off by a centimetre is a sliver of gap."""
        near = [q.geom for q in self.world.live() if q.level in ("grid", "microgrid") and
                shapely.intersects(q.geom, shapely.buffer(geom, SNAP_DEG))]  # fmt: skip
        if piece is not None:
            near.append(piece.geom)
        if not near:
            return geom
        snapped = shapely.snap(geom, shapely.union_all([shapely.boundary(g) for g in near]), SNAP_DEG)
        snapped = _polygons(shapely.make_valid(snapped))
        return as_multipolygon(snapped) if not snapped.is_empty else geom

    # -- edits -----------------------------------------------------------------------------------------

    def split(self, key: str, line: shapely.LineString) -> str:
        """Split micro-grid ``key`` along ``line`` (which must cross it); the largest part keeps its code,
        the others become new micro-grids; buildings go with the land they stand on."""
        p = self.piece(key, "microgrid")
        parts, uncut = [], []
        for polygon in p.geom.geoms:
            pieces = list(shapely.ops.split(polygon, line).geoms)
            (parts if len(pieces) > 1 else uncut).extend(pieces)
        if not parts:
            raise InvalidInput(
                f"the line does not cut {p.code} in two: draw it across, from outside to outside", "line"
            )
        sizes = [self.m2(g) for g in parts]
        if min(sizes) < MIN_PART_M2:
            raise InvalidInput(f"the line cuts a sliver of {min(sizes):.2f} m² off {p.code}; draw it again", "line")
        order = sorted(range(len(parts)), key=lambda i: -sizes[i])
        grid = self._grid_of(p)
        # The largest piece keeps the code, with any separate polygon of the micro-grid the line missed.
        p.geom = as_multipolygon(_polygons(shapely.union_all([parts[order[0]], *uncut])))
        self.touch(p)
        new = [self._new_microgrid(grid, parts[i], [], p.party_cell) for i in order[1:]]
        self._follow_land([p, *new])
        return f"split {p.code} into {', '.join([p.code, *(n.code for n in new)])}"

    def merge(self, keys: list[str]) -> str:
        """Merge two or more bordering micro-grids of one grid into the one with the lowest stored code."""
        keys = list(dict.fromkeys(str(k) for k in keys))
        if len(keys) < 2:
            raise InvalidInput("merge needs two or more micro-grids", "keys")
        pieces = [self.piece(k, "microgrid") for k in keys]
        if len({(p.parent_id, p.layer) for p in pieces}) > 1:
            raise InvalidInput("only micro-grids of one grid and layer can be merged", "keys")
        reached, frontier = {0}, [0]
        while frontier:
            i = frontier.pop()
            for j, q in enumerate(pieces):
                if j not in reached and shapely.distance(pieces[i].geom, q.geom) <= TOUCH_DEG:
                    reached.add(j)
                    frontier.append(j)
        apart = [pieces[j].code for j in range(len(pieces)) if j not in reached]
        if apart:
            raise InvalidInput(f"{', '.join(apart)} do(es) not border the others: merge neighbours only", "keys")
        survivor = min(pieces, key=lambda p: (p.id is None, p.code))
        others = [p for p in pieces if p is not survivor]
        survivor.geom = as_multipolygon(_polygons(shapely.union_all([p.geom for p in pieces])))
        for o in others:
            survivor.members = survivor.members + o.members
            if survivor.party_cell is None:
                survivor.party_cell = o.party_cell
            self._retire(o)
        self.touch(survivor)
        return f"merged {', '.join(o.code for o in others)} into {survivor.code}"

    def move(self, building_ids: list[int], to_key: str) -> str:
        """Give buildings (all their households) to micro-grid ``to_key``, each with its share of land
        from the micro-grid it leaves; the nearest building moves first, so a lasso of a row of
        buildings reaches the far ones through the near ones."""
        target = self.piece(to_key, "microgrid")
        ids = list(dict.fromkeys(int(b) for b in building_ids))
        if not ids or len(ids) > MAX_MOVE:
            raise InvalidInput(f"give 1 to {MAX_MOVE} buildings to move", "buildings")
        unknown = [b for b in ids if b not in self.world.buildings]
        if unknown:
            raise NotFound(f"building(s) {unknown[:5]} are not in community {self.world.scope['code']}")
        pending = set(ids)
        while pending:
            b = min(pending, key=lambda i: (shapely.distance(target.geom, self.world.buildings[i].geom), i))
            pending.remove(b)
            self._move_one(b, target)
        codes = [self.world.buildings[b].code for b in ids]
        return f"moved {len(ids)} building(s) to {target.code}: {', '.join(codes[:5])}{' …' if len(ids) > 5 else ''}"

    def _move_one(self, building_id: int, target: Piece) -> None:
        b = self.world.buildings[building_id]
        for key in self.world.holders().get(building_id, []):
            holder = self.world.pieces[key]
            if holder is target:
                continue
            rows = [m for m in holder.members if m[0] == building_id]
            whole = any(m[1] is None and m[3] is None for m in rows)
            if whole and holder.comprehensive_microgrid:
                self._take_land(holder, b, target)
            holder.members = [m for m in holder.members if m[0] != building_id]
            self.touch(holder)
        target.members = [m for m in target.members if m[0] != building_id] + [
            [building_id, None, None, None, None, b.households]
        ]
        self.touch(target)

    def _take_land(self, holder: Piece, b, target: Piece) -> None:
        """Move building ``b``'s territory inside ``holder`` over to ``target``."""
        whole = [m[0] for m in holder.members if m[1] is None and m[3] is None and m[0] in self.world.buildings]
        whole = list(dict.fromkeys(whole))
        footprints = [shapely.intersection(self.world.buildings[i].geom, holder.geom) for i in whole]
        kept = [(i, f) for i, f in zip(whole, footprints, strict=True) if not f.is_empty and f.area > 0]
        if b.id not in [i for i, _ in kept]:
            return  # the building stands outside its holder's land: nothing to take
        land = share_land(holder.geom, [f for _, f in kept]).wgs84[[i for i, _ in kept].index(b.id)]
        if land.is_empty:
            return
        if shapely.distance(land, target.geom) > TOUCH_DEG:
            raise InvalidInput(
                f"building {b.code} stands in {holder.code}, which does not border {target.code} there: "
                f"move it to a neighbour, or merge the micro-grids",
                "buildings",
            )
        rest = _polygons(shapely.difference(holder.geom, land))
        if self.m2(rest) < MIN_PART_M2:
            raise InvalidInput(
                f"{holder.code} would keep no land without building {b.code}: merge it into {target.code} instead",
                "buildings",
            )
        holder.geom = as_multipolygon(rest)
        target.geom = as_multipolygon(_polygons(shapely.union_all([target.geom, land])))

    def reshape(self, key: str, geom: shapely.MultiPolygon, give_way: bool = True) -> str:
        """Give area ``key`` a new outline. With ``give_way`` its sibling micro-grids of the same layer
        lose what the new outline takes (no overlap); land it lets go stays unassigned (a gap the checks
        report). Buildings follow their land between the pieces involved."""
        p = self.piece(key)
        geom = self._snapped(geom, p)
        involved = [p]
        if give_way and p.level == "microgrid":
            for s in self.world.live():
                if s is p or s.level != p.level or s.parent_id != p.parent_id or s.layer != p.layer:
                    continue
                taken = shapely.intersection(s.geom, geom)
                if taken.is_empty or self.m2(taken) < 0.01:
                    continue
                rest = _polygons(shapely.difference(s.geom, geom))
                if self.m2(rest) < MIN_PART_M2:
                    raise InvalidInput(f"the new outline swallows {s.code}: merge it instead", "geometry")
                s.geom = as_multipolygon(rest)
                involved.append(s)
                self.touch(s)
        p.geom = as_multipolygon(geom)
        self.touch(p)
        self._follow_land(involved)
        taken_from = [s.code for s in involved[1:]]
        return f"reshaped {p.code}" + (f" (taking land from {', '.join(taken_from)})" if taken_from else "")

    def draw(self, geom: shapely.MultiPolygon, name: str, layer: str) -> str:
        """Add a specialised grid (专属网格: a school, a hospital, a market …) of its own ``layer`` in the
        community."""
        name = fields.checked("name", fields.text, name, "name", required=True)
        if not LAYER_PATTERN.fullmatch(layer or "") or layer == DEFAULT_LAYER:
            raise InvalidInput(
                "a drawn grid is a specialised grid: give it a layer of its own (lower-case letters, digits, _;"
                " e.g. school), not comprehensive",
                "layer",
            )
        scope = self.world.scope
        geom = self._snapped(geom)
        code = self._next_code(scope["id"], scope["code"], "grid")
        piece = Piece(self.new_key(), None, None, "grid", code, scope["id"], name, "specialised", layer, geom)
        self.world.pieces[piece.key] = piece
        self.touch(piece)
        return f"drew specialised grid {code} ({layer})"

    def propose(self, grid_key: str, params: Params) -> str:
        """Replace the micro-grids of a grid by the partitioner's proposal (new codes; the grid's party
        cells are reused in code order)."""
        band = params.band()  # InvalidInput for a bad band before anything else
        grid = self.piece(grid_key, "grid")
        if grid.layer != DEFAULT_LAYER or grid.id is None:
            raise InvalidInput(f"{grid.code} is not a stored comprehensive grid: only those hold micro-grids", "key")
        inside = shapely.covers(grid.geom, [shapely.point_on_surface(b.geom) for b in self.world.buildings.values()])
        buildings = [
            Building(b.id, b.households, b.geom, b.units or 1, b.floors, b.name or b.code)
            for b, ok in zip(self.world.buildings.values(), inside, strict=True)
            if ok
        ]
        proposal = propose_grid(grid.geom, buildings, band, params.seed, params.tries, params.cell_size)
        old = [p for p in self.world.live() if p.parent_id == grid.id and p.comprehensive_microgrid]
        cells = sorted({p.party_cell for p in old if p.party_cell is not None})
        cell_of = {seq: cells[i] for i, group in enumerate(proposal.party_cells) if i < len(cells) for seq in group}
        for p in old:
            self._retire(p)
        for m in proposal.microgrids:
            members = [
                [buildings[part.building].key, part.unit_from, part.unit_to, part.floor_from, part.floor_to,
                 part.households]
                for part in m.parts
            ]  # fmt: skip
            self._new_microgrid(grid, _polygons(m.geometry), members, cell_of.get(m.sequence))
        return f"proposed {len(proposal.microgrids)} micro-grids for {grid.code} (replacing {len(old)})"
