"""Household-balanced micro-grids: propose a partition of one grid's buildings into micro-grids of
``lo``–``hi`` households (30–50 by default), contiguous, compact and tiling the grid.

The method:

1. **Land.** Every building gets its territory (``gridmap.areas.territory``); territories tile the grid, so
   any grouping of buildings gives micro-grids with no gaps or overlaps that never leave the grid.
2. **Towers.** A building with more than ``hi`` households is cut by unit (单元) and/or floor range
   into parts of at most ``hi`` (as near the band's middle as its units and floors allow). Its parts
   share its territory; a part smaller than ``lo`` joins neighbours like any small building.
3. **Graph.** Buildings (or parts) are nodes weighted by households; territories that share a border
   are edges. Parts of a building, and buildings only a lane apart, are joined too.
4. **Cut.** For each of ``tries`` random spanning trees (seeded) an exact dynamic programme finds the
   partition of the tree into connected pieces that first minimises the number of pieces outside the
   band and then the squared deviation from the grid's own target (its households ÷ the best number
   of micro-grids). Of the trees, the one giving the fewest out-of-band pieces and then the most
   compact ones (smallest moment of inertia) wins. Unlike recursive bisection (GerryChain's
   ``recursive_tree_part``), which fails or drifts when a cut has no balanced edge, the programme is
   exact on each tree: if the tree admits an in-band partition, it is found.
5. **Report.** Every micro-grid outside the band carries the reason (too few households in the grid
   or in a detached part of it, an arithmetic remainder, a building that cannot be cut, neighbours
   already full); Polsby-Popper compactness is reported for each.
6. **Order.** Micro-grids are numbered west→east, north→south; party cells group neighbouring
   micro-grids (``cell_size`` each, 2 by default).

The same input and seed always give the same answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from gridmap.areas import membership
from gridmap.areas.codes import reading_order
from gridmap.areas.territory import Projection, share_land

# Buildings whose footprints are this close count as neighbours even if their territories do not
# touch (a grid in several pieces split by a lane).
LANE_M = 25.0
# Rows of this height (metres) when numbering micro-grids north→south, west→east within a row.
ROW_M = 60.0
DEFAULT_TRIES = 8
# Rounds of recombination over the out-of-band micro-grids, and trees tried for each small redraw.
REPAIR_ROUNDS = 3
REPAIR_TRIES = 24
# A tower is cut into parts of about this many households (one unit, or a few floors of one), small
# enough that any remainder can be balanced against its neighbours.
ATOM_HOUSEHOLDS = 10
_BIG = 1e9  # one out-of-band micro-grid outweighs any amount of imbalance


@dataclass(frozen=True)
class Band:
    """The household band a micro-grid should fall in."""

    lo: int = 30
    hi: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.lo <= self.hi:
            raise ValueError(f"the band must satisfy 1 ≤ min ≤ max; got {self.lo}–{self.hi}")

    def holds(self, households: int) -> bool:
        """True when ``households`` lies in the band."""
        return self.lo <= households <= self.hi

    def counts(self, total: int) -> range:
        """Numbers of micro-grids into which ``total`` households could fall wholly inside the band."""
        return range(max(1, math.ceil(total / self.hi)), total // self.lo + 1)


@dataclass(frozen=True)
class Building:
    """A building to place: ``key`` identifies it to the caller (a database id or a code)."""

    key: object
    households: int
    geometry: shapely.Geometry  # WGS-84 footprint
    units: int = 1
    floors: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Part:
    """The part of a building a micro-grid holds: all of it when every bound is None."""

    building: int  # index into the grid's buildings
    households: int
    unit_from: int | None = None
    unit_to: int | None = None
    floor_from: int | None = None
    floor_to: int | None = None

    @property
    def whole(self) -> bool:
        """True when the part is the whole building."""
        return self.unit_from is None and self.floor_from is None


@dataclass
class MicroGrid:
    """One proposed micro-grid: its parts of buildings, households and polygon (WGS-84).

    ``land`` is the territory it owns outright; ``geometry`` adds the territories of towers it shares
    with other micro-grids (unit micro-grids share their building's footprint)."""

    sequence: int
    parts: list[Part]
    households: int
    geometry: shapely.Geometry
    land: shapely.Geometry
    polsby_popper: float
    in_band: bool
    reason: str | None = None
    party_cell: int | None = None


@dataclass
class GridProposal:
    """The proposal for one grid: micro-grids in code order, party cells (lists of micro-grid
    sequences) and the grid-level problems found."""

    households: int
    microgrids: list[MicroGrid]
    party_cells: list[list[int]]
    problems: list[str] = field(default_factory=list)


def split_building(households: int, units: int, floors: int | None, band: Band) -> list[Part]:
    """Cut a building of more than ``band.hi`` households into small parts the partition can group:
    whole units where a unit holds at most ATOM_HOUSEHOLDS, else floor ranges of one unit, in unit
    then floor order, households shared by the part's share of units × floors. A building within the
    band, or one with neither several units nor known floors, stays whole."""
    if households <= band.hi or (units <= 1 and not floors):
        return [Part(0, households)]
    per_unit = households / units
    if per_unit <= ATOM_HOUSEHOLDS or not floors:
        bounds = [(u, u, None, None) for u in range(1, units + 1)]
    else:
        step = max(1, int(ATOM_HOUSEHOLDS // (per_unit / floors)))
        bounds = [(u, u, f, min(f + step - 1, floors)) for u in range(1, units + 1) for f in range(1, floors + 1, step)]
    shares = membership.allocate([membership.Entry("", *b) for b in bounds], households, units, floors)
    return [Part(0, s, *b) for b, s in zip(bounds, shares, strict=True)]


def merge_parts(parts: list[Part], units: int, floors: int | None) -> list[Part]:
    """The parts of one building held by one micro-grid, as few unit/floor ranges as describe them
    (floor ranges of a unit joined, whole units joined into unit ranges, all of it → whole)."""
    if any(p.whole for p in parts):
        return [Part(parts[0].building, sum(p.households for p in parts))]
    by_unit: dict[int, list[Part]] = {}
    for p in sorted(parts, key=lambda p: (p.unit_from, p.floor_from or 0)):
        by_unit.setdefault(p.unit_from, []).append(p)
    runs: list[Part] = []
    for unit, ps in by_unit.items():
        for p in ps:
            last = runs[-1] if runs else None
            if last and last.unit_from == unit and p.floor_from is not None and last.floor_to == p.floor_from - 1:
                runs[-1] = Part(p.building, last.households + p.households, unit, unit, last.floor_from, p.floor_to)
            else:
                runs.append(p)
    full = [
        Part(p.building, p.households, p.unit_from, p.unit_to)
        if p.floor_from is None or (p.floor_from == 1 and p.floor_to == floors)
        else p
        for p in runs
    ]
    merged: list[Part] = []
    for p in full:
        last = merged[-1] if merged else None
        if last and last.floor_from is None and p.floor_from is None and last.unit_to == p.unit_from - 1:
            merged[-1] = Part(p.building, last.households + p.households, last.unit_from, p.unit_to)
        else:
            merged.append(p)
    if len(merged) == 1 and merged[0].floor_from is None and (merged[0].unit_from, merged[0].unit_to) == (1, units):
        return [Part(merged[0].building, merged[0].households)]
    return merged


def propose_grid(
    grid: shapely.Geometry,
    buildings: list[Building],
    band: Band | None = None,
    seed: int = 0,
    tries: int = DEFAULT_TRIES,
    cell_size: int = 2,
) -> GridProposal:
    """Propose micro-grids for one grid (WGS-84 polygon) and its ``buildings`` (those whose
    representative point lies in it). Never raises for an awkward input: what cannot be balanced is
    proposed anyway and explained in the micro-grids' ``reason`` and the proposal's ``problems``."""
    band = band or Band()
    if cell_size < 1:
        raise ValueError("cell_size must be at least 1")
    total = sum(b.households for b in buildings)
    if not buildings:
        mg = _microgrid([], 0, grid, grid, Projection(grid), band)
        mg.sequence, mg.party_cell = 1, 1
        mg.reason = "the grid has no buildings: one micro-grid covers it"
        return GridProposal(0, [mg], [[1]], [mg.reason])
    land = share_land(grid, [b.geometry for b in buildings])
    parts, edges = _graph(buildings, land, band)
    weights = np.array([p.households for p in parts])
    positions = np.array([_xy(land.metric[p.building]) for p in parts])
    rng = np.random.default_rng(seed)
    labels = np.full(len(parts), -1)
    bridges = _bridge_empty(parts, edges, weights, buildings, land.projection)
    edges += bridges
    problems = [
        f"a detached part of the grid without households ({buildings[parts[a].building].label or 'a building'}"
        f" and what lies with it) joins the micro-grid of the nearest building with households"
        for a, _ in bridges
    ]
    adjacency: list[set[int]] = [set() for _ in parts]
    for a, b in edges:
        adjacency[a].add(b)
        adjacency[b].add(a)
    for nodes in _components(len(parts), edges):
        sub_total = int(weights[nodes].sum())
        labels_sub, _ = _best_cut(nodes, adjacency, weights, positions, band, rng, tries)
        labels[nodes] = labels_sub + (labels.max() + 1)
        _repair(labels, nodes, adjacency, weights, positions, band, rng)
        if len(nodes) < len(parts) and not band.counts(sub_total):
            problems.append(
                f"a detached part of the grid ({len(nodes)} building part(s), {sub_total} households) "
                f"{_arithmetic(sub_total, band)}"
            )
    microgrids = _assemble(grid, buildings, land, parts, labels, band)
    _explain(microgrids, buildings, band, total, tries)
    if not band.counts(total):
        problems.insert(0, f"the grid's {total} households {_arithmetic(total, band)}")
    problems += [f"micro-grid {m.sequence} ({m.households} households): {m.reason}" for m in microgrids if m.reason]
    cells = _party_cells(microgrids, cell_size)
    return GridProposal(total, microgrids, cells, problems)


def _arithmetic(total: int, band: Band) -> str:
    """Why ``total`` households cannot all fall in the band (or an empty string when they can)."""
    if band.counts(total):
        return ""
    if total < band.lo:
        return f"are fewer than {band.lo}: one micro-grid below the band"
    k = total // band.hi
    return (
        f"cannot be divided into micro-grids of {band.lo}–{band.hi}: {k} would average {total / k:.1f}, "
        f"{k + 1} would average {total / (k + 1):.1f}"
    )


def _xy(geom: shapely.Geometry) -> tuple[float, float]:
    p = geom.centroid if not geom.is_empty else shapely.Point(0, 0)
    return (p.x, p.y)


def _graph(buildings: list[Building], land, band: Band) -> tuple[list[Part], list[tuple[int, int]]]:
    """Nodes (buildings or their parts) and the edges between them."""
    parts: list[Part] = []
    of_building: list[list[int]] = []
    for i, b in enumerate(buildings):
        pieces = split_building(b.households, b.units, b.floors, band)
        first = len(parts)
        parts += [Part(i, p.households, p.unit_from, p.unit_to, p.floor_from, p.floor_to) for p in pieces]
        of_building.append(list(range(first, len(parts))))
    # A cut building is a chain of parts in unit/floor order; neighbours meet it at either end, so a
    # micro-grid holds consecutive floors and units of it, not scattered ones.
    ends = [sorted({ids[0], ids[-1]}) for ids in of_building]
    pairs = set(land.neighbours) | _lanes(buildings, land.projection)
    edges = [(x, y) for a, b in pairs for x in ends[a] for y in ends[b]]
    edges += [(x, y) for ids in of_building for x, y in zip(ids, ids[1:], strict=False)]
    return parts, edges


def _lanes(buildings: list[Building], proj: Projection) -> set[tuple[int, int]]:
    """Pairs of buildings whose footprints lie within LANE_M of each other (across a lane), so a grid
    whose territories fall apart into pieces still holds together."""
    feet = proj.metric([b.geometry for b in buildings])
    tree = shapely.STRtree(feet)
    left, right = tree.query(feet, predicate="dwithin", distance=LANE_M)
    return {(int(a), int(b)) for a, b in zip(left, right, strict=True) if a < b}


def _bridge_empty(parts, edges, weights, buildings, proj: Projection) -> list[tuple[int, int]]:
    """Edges joining each detached group of buildings without households to the nearest building with
    households: its land must go to some micro-grid, and an empty micro-grid serves nobody."""
    groups = _components(len(parts), edges)
    housed = sorted({parts[p].building for nodes in groups if weights[nodes].sum() > 0 for p in nodes})
    if len(groups) < 2 or not housed:
        return []
    feet = proj.metric([b.geometry for b in buildings])
    bridges = []
    for nodes in groups:
        if weights[nodes].sum() > 0:
            continue
        own = sorted({parts[p].building for p in nodes})
        nearest = housed[int(np.argmin(shapely.distance(feet[housed], shapely.union_all(feet[own]))))]
        bridges.append((int(nodes[0]), next(i for i, p in enumerate(parts) if p.building == nearest)))
    return bridges


def _find(root: list[int], x: int) -> int:
    """The representative of ``x`` in a union-find forest (halving paths as it goes)."""
    while root[x] != x:
        root[x] = root[root[x]]
        x = root[x]
    return x


def _union(root: list[int], a: int, b: int) -> bool:
    """Join the sets of ``a`` and ``b``; False when they were one set already."""
    ra, rb = _find(root, a), _find(root, b)
    if ra == rb:
        return False
    root[max(ra, rb)] = min(ra, rb)
    return True


def _components(n: int, edges: list[tuple[int, int]]) -> list[np.ndarray]:
    """Connected components, each as sorted node indices, in order of their smallest node."""
    root = list(range(n))
    for a, b in edges:
        _union(root, a, b)
    groups: dict[int, list[int]] = {}
    for x in range(n):
        groups.setdefault(_find(root, x), []).append(x)
    return [np.array(g) for g in groups.values()]


def _best_cut(nodes, adjacency, weights, positions, band: Band, rng, tries: int) -> tuple[np.ndarray, float]:
    """Labels (0..k-1 per node of ``nodes``) of the best cut over ``tries`` random spanning trees."""
    index = {int(v): i for i, v in enumerate(nodes)}
    local = [(index[a], index[b]) for a in index for b in adjacency[a] if a < b and b in index]
    w = weights[nodes]
    xy = positions[nodes]
    total = int(w.sum())
    counts = band.counts(total)
    k = (
        min(counts, key=lambda c: abs(total / c - (band.lo + band.hi) / 2))
        if counts
        else max(1, round(total / band.hi))
    )
    target = total / k
    best, best_score = None, None
    for _ in range(max(1, tries)):
        parent, order = _random_tree(len(nodes), local, rng)
        labels, cost = _cut_tree(parent, order, w, band, target)
        out = int(cost // _BIG)
        score = (out, _inertia(labels, xy, w), cost)
        if best_score is None or score < best_score:
            best, best_score = labels, score
        if len(nodes) <= 2:
            break  # every tree of a pair is the same
    return best, best_score[2]


def _repair(labels, nodes, adjacency, weights, positions, band: Band, rng) -> None:
    """Recombination (as in ReCom): redraw each out-of-band micro-grid together with one or two of its
    neighbours whenever that leaves fewer micro-grids outside the band. A single spanning tree of a
    large grid rarely admits a perfect cut; small unions are redrawn from many trees cheaply."""
    for _ in range(REPAIR_ROUNDS):
        changed = False
        members = {int(label): np.flatnonzero(labels == label) for label in np.unique(labels[nodes])}
        held = {label: int(weights[m].sum()) for label, m in members.items()}
        for label in sorted(lab for lab, h in held.items() if h and not band.holds(h)):
            if label not in members or band.holds(held[label]):
                continue
            near = sorted({int(labels[b]) for a in members[label] for b in adjacency[a]} - {label})
            combos = [(n,) for n in near] + [(a, b) for i, a in enumerate(near) for b in near[i + 1 :]]
            for combo in combos:
                group = (label, *combo)
                before = sum(not band.holds(held[g]) for g in group)
                sub = np.concatenate([members[g] for g in group])
                new, cost = _best_cut(sub, adjacency, weights, positions, band, rng, REPAIR_TRIES)
                if int(cost // _BIG) < before:
                    fresh = labels.max() + 1
                    labels[sub] = new + fresh
                    for g in group:
                        del members[g], held[g]
                    for k in np.unique(new):
                        members[int(k + fresh)] = sub[new == k]
                        held[int(k + fresh)] = int(weights[sub[new == k]].sum())
                    changed = True
                    break
        if not changed:
            return


def _random_tree(n: int, edges: list[tuple[int, int]], rng) -> tuple[np.ndarray, list[int]]:
    """A random spanning tree (Kruskal on random weights): parent of each node and a root-first order."""
    root = list(range(n))
    adjacency: list[list[int]] = [[] for _ in range(n)]
    for e in rng.permutation(len(edges)) if edges else []:
        a, b = edges[e]
        if _union(root, a, b):
            adjacency[a].append(b)
            adjacency[b].append(a)
    parent = np.full(n, -1)
    start = int(rng.integers(n))
    order, seen = [start], {start}
    for v in order:  # breadth-first, appending as it goes
        for u in adjacency[v]:
            if u not in seen:
                seen.add(u)
                parent[u] = v
                order.append(u)
    return parent, order


def _cut_tree(parent: np.ndarray, order: list[int], w: np.ndarray, band: Band, target: float):
    """Exact dynamic programme: cut the tree into connected pieces minimising (pieces outside the
    band, squared deviation from ``target``). Returns piece labels and the cost."""
    size = max(band.hi, int(w.max())) + 1
    states = np.arange(size)
    close = np.where((states >= band.lo) & (states <= band.hi), 0.0, _BIG) + (states - target) ** 2
    cost: dict[int, np.ndarray] = {}
    steps: dict[int, list[tuple[int, np.ndarray, int]]] = {}
    children: dict[int, list[int]] = {}
    for v in order[1:]:
        children.setdefault(int(parent[v]), []).append(v)
    for v in reversed(order):
        cur = np.full(size, np.inf)
        cur[int(w[v])] = 0.0
        log = []
        for c in children.get(v, []):
            child = cost.pop(c)
            closed = child + close
            close_at = int(np.argmin(closed))
            new = cur + closed[close_at]
            choice = np.full(size, -1)
            for s in np.flatnonzero(np.isfinite(child)):
                if s == 0:
                    cand, lo_b = cur + child[0], 0
                elif s <= band.hi:
                    cand, lo_b = cur[: band.hi - s + 1] + child[s], s
                else:  # an over-full building may only join (or be joined by) empty pieces
                    cand, lo_b = cur[:1] + child[s], s
                span = slice(lo_b, lo_b + len(cand))
                better = cand < new[span]
                new[span] = np.where(better, cand, new[span])
                choice[span] = np.where(better, s, choice[span])
            log.append((c, choice, close_at))
            cur = new
        cost[v] = cur
        steps[v] = log
    root = order[0]
    final = cost[root] + close
    labels = np.full(len(w), -1)
    next_label = 0
    stack = [(root, int(np.argmin(final)), None)]
    while stack:
        v, state, label = stack.pop()
        if label is None:
            label, next_label = next_label, next_label + 1
        labels[v] = label
        for c, choice, close_at in reversed(steps[v]):
            s = int(choice[state])
            if s < 0:
                stack.append((c, close_at, None))
            else:
                stack.append((c, s, label))
                state -= s
    return labels, float(final.min())


def _inertia(labels: np.ndarray, xy: np.ndarray, w: np.ndarray) -> float:
    """Sum of squared distances of nodes from their piece's centre (a cheap compactness measure)."""
    total = 0.0
    for label in np.unique(labels):
        pts = xy[labels == label]
        total += float(((pts - pts.mean(axis=0)) ** 2).sum())
    return total


def _assemble(grid, buildings, land, parts, labels, band: Band) -> list[MicroGrid]:
    """Micro-grids from labelled parts, numbered west→east, north→south."""
    groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    # A building's land goes to the micro-grid holding most of its households (the first on a tie).
    owner: dict[int, int] = {}
    for g, members in enumerate(groups):
        for p in members:
            b = parts[p].building
            if b not in owner or parts[p].households > _held(parts, groups[owner[b]], b):
                owner[b] = g
    microgrids = []
    for g, members in enumerate(groups):
        touched = sorted({parts[p].building for p in members})
        held = [
            part
            for b in touched
            for part in merge_parts(
                [parts[p] for p in members if parts[p].building == b], buildings[b].units, buildings[b].floors
            )
        ]
        geometry = shapely.coverage_union_all([land.wgs84[b] for b in touched])
        own = shapely.coverage_union_all([land.wgs84[b] for b in touched if owner[b] == g])
        mg = _microgrid(held, sum(p.households for p in held), geometry, own, land.projection, band)
        microgrids.append(mg)
    key_xy = [
        _xy(g) for g in land.projection.metric([m.land if not m.land.is_empty else m.geometry for m in microgrids])
    ]
    first_part = [min((p.building, p.unit_from or 0, p.floor_from or 0) for p in m.parts) for m in microgrids]
    x, y = np.array(key_xy).T
    order = reading_order(x, y, ROW_M, *np.array(first_part).T)
    result = []
    for seq, i in enumerate(order, start=1):
        microgrids[i].sequence = seq
        result.append(microgrids[i])
    return result


def _held(parts, members, building: int) -> int:
    return sum(parts[p].households for p in members if parts[p].building == building)


def _microgrid(parts, households, geometry, land_part, proj: Projection, band: Band) -> MicroGrid:
    m = proj.metric([geometry])[0]
    perimeter = m.length
    pp = 4 * math.pi * m.area / perimeter**2 if perimeter else 0.0
    return MicroGrid(0, parts, households, geometry, land_part, round(pp, 4), band.holds(households))


def _explain(microgrids, buildings, band: Band, total: int, tries: int) -> None:
    """Give every micro-grid outside the band the reason it is there."""
    neighbours = _neighbour_households(microgrids)
    for m in microgrids:
        if m.in_band:
            continue
        big = [p for p in m.parts if p.whole and p.households > band.hi]
        if m.households == 0:
            m.reason = "no households (only buildings without dwellings)"
        elif big:
            b = buildings[big[0].building]
            m.reason = f"building {b.label or b.key} has {b.households} households and no units or floors to cut it by"
        elif not neighbours[m.sequence]:
            m.reason = f"it is a detached part of the grid, more than {LANE_M:g} m from any other building"
        elif not band.counts(total):
            m.reason = f"the grid's {total} households {_arithmetic(total, band)}"
        elif (
            m.households < band.lo
            and neighbours[m.sequence]
            and all(m.households + n > band.hi for n in neighbours[m.sequence])
        ):
            held = sorted(neighbours[m.sequence])
            m.reason = (
                f"joining any neighbouring micro-grid ({held[0]}–{held[-1]} households) would pass {band.hi}, "
                f"and buildings of at most {band.hi} households are never split"
            )
        else:
            m.reason = f"no contiguous grouping in {band.lo}–{band.hi} found on any of the {tries} spanning trees tried"


def _touching(microgrids: list[MicroGrid]) -> dict[int, set[int]]:
    """Indices of the micro-grids each one touches (shared edge, corner or shared building)."""
    geoms = np.asarray([m.geometry for m in microgrids], dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    near: dict[int, set[int]] = {i: set() for i in range(len(microgrids))}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            near[a].add(b)
    return near


def _neighbour_households(microgrids: list[MicroGrid]) -> dict[int, list[int]]:
    """Households of each micro-grid's neighbours, keyed by sequence."""
    near = _touching(microgrids)
    return {m.sequence: [microgrids[j].households for j in near[i]] for i, m in enumerate(microgrids)}


def _party_cells(microgrids: list[MicroGrid], size: int) -> list[list[int]]:
    """Group neighbouring micro-grids into party cells of ``size`` (the last ones may be smaller),
    greedily in code order; set each micro-grid's ``party_cell`` (1-based)."""
    n = len(microgrids)
    near = _touching(microgrids)
    cells: list[list[int]] = []
    taken = [False] * n
    for i in range(n):
        if taken[i]:
            continue
        cell, taken[i] = [i], True
        while len(cell) < size:
            options = sorted(j for c in cell for j in near[c] if not taken[j])
            if not options:
                break
            taken[options[0]] = True
            cell.append(options[0])
        cells.append(sorted(cell))
    for number, cell in enumerate(cells, start=1):
        for i in cell:
            microgrids[i].party_cell = number
    return [[microgrids[i].sequence for i in cell] for cell in cells]


def tiling_problems(grid: shapely.Geometry, proposal: GridProposal, tolerance_m2: float = 1.0) -> list[str]:
    """Why the proposal's land parcels fail to tile ``grid`` exactly (empty when they tile it): they
    must form a valid coverage and their union must equal the grid."""
    lands = np.asarray([m.land for m in proposal.microgrids if not m.land.is_empty], dtype=object)
    problems = []
    if not shapely.coverage_is_valid(lands):
        problems.append("micro-grid parcels overlap or their shared edges do not match")
    union = shapely.coverage_union_all(lands)
    gap, spill = shapely.area(
        Projection(grid).metric([shapely.difference(grid, union), shapely.difference(union, grid)])
    )
    if gap > tolerance_m2:
        problems.append(f"{gap:.1f} m² of the grid is in no micro-grid")
    if spill > tolerance_m2:
        problems.append(f"{spill:.1f} m² of micro-grids lies outside the grid")
    return problems
