"""A synthetic megacity in gridmap's own import format, the same for the same seed and scale.

    .venv/bin/python bench/make_city.py [--scale 0.05] [--seed 1] [--out bench/city-0.05]

At ``--scale 1``: 3,000 communities, 12,000 grids, 120,000 micro-grids, about 1,000,000 buildings and
5 million households, one party cell per micro-grid, workers for every grid and micro-grid, and
1,000,000 incidents. Counts scale linearly; the city's area scales with them, so densities stay.

How it is built, and why:
- Micro-grids are Voronoi cells of jittered-lattice seeds in a uniform "plan" space. Every edge is cut
  into short pieces once, from its lower end, so the two cells sharing it get the very same vertices
  (median about 25 per cell). A smooth wiggle and a radial warp then take the plan to the ground;
  both are functions of the coordinate alone, so neighbours still meet exactly: no gaps, no overlaps.
  The warp squeezes the centre (cells there are ~30 times smaller than at the edge), as in a real city.
- Grids, communities and subdistricts are unions of micro-grids grouped by nearest seed of a coarser
  lattice, each level grouping whole units of the level below, so every area nests in its parent.
- Each micro-grid holds whole buildings (no unit splits) whose households add up to a target drawn
  mostly from the 30–50 band. Buildings sit inside the cell's interior, so a building's centroid has
  exactly one owner: ``lookup_points.csv`` lists such points with the micro-grid each must resolve to,
  and ``incidents.csv`` carries the expected owner of every incident too.

Files (CSV; areas and buildings with a WKT column, WGS-84): subdistricts, communities, grids,
microgrids, buildings, party_cells, people, incidents, lookup_points; plus ``city.json`` with counts.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

# Chengdu's centre; local metres ↔ degrees by a plain scale, good to well under a metre over 30 km.
LON0, LAT0 = 104.066, 30.657
M_LON = 1 / (111_320 * math.cos(math.radians(LAT0)))
M_LAT = 1 / 110_574
FULL = {"communities": 3000, "grids": 12_000, "microgrids": 120_000, "subdistricts": 150, "incidents": 1_000_000}
MEAN_CELL_M2 = 8_000  # plan-space area per micro-grid: 120,000 of them make a ~1,000 km² city
DISTRICT = "510104"  # Jinjiang district's GB/T 2260 code, the prefix of every area code
CATEGORIES = ("sanitation", "streetlight", "road", "greenery", "noise", "property", "utilities", "dispute")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


@dataclass
class City:
    """Everything generated, in WGS-84, with the owner of every point we later ask about."""

    microgrids: list  # shapely polygons
    microgrid_codes: list[str]
    grid_of: np.ndarray  # micro-grid index → grid index
    grid_codes: list[str]
    community_of_grid: np.ndarray
    community_codes: list[str]
    subdistrict_of_community: np.ndarray
    subdistrict_codes: list[str]


def _lattice(n: int, side: float, rng: np.random.Generator) -> np.ndarray:
    """About ``n`` jittered-lattice points over a square of ``side`` metres centred on 0: Voronoi cells of
    even size, like blocks, unlike the slivers of uniform random points."""
    k = max(1, round(math.sqrt(n)))
    step = side / k
    gx, gy = np.meshgrid(np.arange(k), np.arange(k))
    pts = np.column_stack([gx.ravel(), gy.ravel()]).astype(float)
    pts = (pts + 0.5 + rng.uniform(-0.35, 0.35, pts.shape)) * step - side / 2
    return pts


def _warp(xy: np.ndarray, radius: float) -> np.ndarray:
    """Plan → ground metres: a small wiggle (boundaries that follow streets) and a radial squeeze that
    makes the centre dense. Both depend on the coordinate alone, so shared vertices stay shared."""
    x, y = xy[:, 0], xy[:, 1]
    x = x + 3.0 * np.sin(y / 11.0) + 2.0 * np.sin(x / 7.0 + y / 13.0)
    y = y + 3.0 * np.sin(x / 9.0) + 2.0 * np.cos(y / 8.0 - x / 17.0)
    r = np.hypot(x, y)
    t = np.clip(r / radius, 0, None)
    # r' = R(0.3 t + 0.7 t²): slope 0.3 at the centre, 1.7 at the edge (≈32× the density in the middle)
    scale = np.where(r > 0, (0.3 + 0.7 * t), 0.3)
    return np.column_stack([x * scale, y * scale])


def _to_degrees(xy: np.ndarray) -> np.ndarray:
    return np.column_stack([LON0 + xy[:, 0] * M_LON, LAT0 + xy[:, 1] * M_LAT])


def _cells(seeds: np.ndarray, radius: float, piece_m: float) -> list:
    """Voronoi cells of ``seeds`` clipped to a disc of ``radius``, each edge cut into pieces of at most
    ``piece_m`` the same way from both sides, warped to the ground and given in degrees."""
    disc = shapely.Point(0, 0).buffer(radius, quad_segs=64)
    regions = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=disc)
    # voronoi_polygons does not keep the seeds' order: match each cell back to its seed.
    cells = np.array(shapely.get_parts(regions))
    owner = shapely.STRtree(cells).query(shapely.points(seeds), predicate="within")
    ordered = np.empty(len(seeds), dtype=object)
    ordered[owner[0]] = cells[owner[1]]
    clipped = shapely.intersection(ordered, disc)
    edges: dict[tuple, np.ndarray] = {}
    out = []
    for cell in clipped:
        ring = np.asarray(shapely.get_exterior_ring(cell).coords)
        pieces = []
        for a, b in zip(ring[:-1], ring[1:], strict=True):
            key = (tuple(a), tuple(b)) if tuple(a) <= tuple(b) else (tuple(b), tuple(a))
            inner = edges.get(key)
            if inner is None:
                lo, hi = np.array(key[0]), np.array(key[1])
                n = max(1, math.ceil(np.hypot(*(hi - lo)) / piece_m))
                inner = lo + np.outer(np.arange(1, n) / n, hi - lo)
                edges[key] = inner
            pieces.append(a[None, :])
            pieces.append(inner if tuple(a) <= tuple(b) else inner[::-1])
        coords = np.vstack([*pieces, ring[:1]])
        out.append(shapely.Polygon(_to_degrees(_warp(coords, radius))))
    return out


def _group(points: np.ndarray, n_groups: int, side: float, rng: np.random.Generator) -> np.ndarray:
    """For each point, the group of the nearest of ~``n_groups`` lattice seeds, numbered 0… without gaps
    (seeds nobody is nearest to make no group)."""
    seeds = shapely.points(_lattice(round(n_groups * 4 / math.pi), side, rng))  # over the square, as the cells
    nearest = shapely.STRtree(seeds).query_nearest(shapely.points(points), all_matches=False)[1]
    return np.unique(nearest, return_inverse=True)[1]


def build(scale: float, seed: int = 1) -> tuple[City, dict]:
    """Generate the areas at ``scale`` (see the module docstring); deterministic for a seed."""
    rng = np.random.default_rng(seed)
    n_mg = max(40, round(FULL["microgrids"] * scale))
    side = math.sqrt(n_mg * MEAN_CELL_M2)
    radius = side / 2
    # Seeds over the square, kept inside the disc: the disc's area is π/4 of the square's.
    seeds = _lattice(round(n_mg * 4 / math.pi), side, rng)
    seeds = seeds[np.hypot(seeds[:, 0], seeds[:, 1]) < radius * 0.995]
    piece = math.sqrt(MEAN_CELL_M2) * 4 / 25  # a ~90 m cell's ~360 m outline in ~25 pieces
    polygons = _cells(seeds, radius, piece)
    grid_of = _group(seeds, max(1, round(FULL["grids"] * scale)), side, rng)
    grid_seed = np.array([seeds[grid_of == g].mean(axis=0) for g in range(grid_of.max() + 1)])
    community_of_grid = _group(grid_seed, max(1, round(FULL["communities"] * scale)), side, rng)
    community_seed = np.array([grid_seed[community_of_grid == c].mean(axis=0)
                               for c in range(community_of_grid.max() + 1)])  # fmt: skip
    subdistrict_of = _group(community_seed, max(1, round(FULL["subdistricts"] * scale)), side, rng)
    subdistrict_codes = [f"{DISTRICT}{i + 1:03d}" for i in range(subdistrict_of.max() + 1)]
    community_codes = _child_codes(subdistrict_of, subdistrict_codes)
    grid_codes = _child_codes(community_of_grid, community_codes)
    mg_codes = _child_codes(grid_of, grid_codes)
    city = City(polygons, mg_codes, grid_of, grid_codes, community_of_grid, community_codes, subdistrict_of,
                subdistrict_codes)  # fmt: skip
    return city, {"radius_m": radius}


def _child_codes(parent_of: np.ndarray, parent_codes: list[str]) -> list[str]:
    """Codes for children numbered 001, 002, … within each parent, in index order."""
    counter: dict[int, int] = {}
    codes = []
    for p in parent_of.tolist():
        counter[p] = counter.get(p, 0) + 1
        if counter[p] > 999:
            raise ValueError("more than 999 children under one parent: the codes have 3 digits per level")
        codes.append(f"{parent_codes[p]}{counter[p]:03d}")
    return codes


def _households(rng: np.random.Generator, n: int) -> np.ndarray:
    """Targets per micro-grid: 95% in 30–50, the rest just outside, as a real city's drift leaves them."""
    inside = rng.integers(30, 51, n)
    outside = np.where(rng.random(n) < 0.5, rng.integers(18, 30, n), rng.integers(51, 66, n))
    return np.where(rng.random(n) < 0.95, inside, outside)


def _buildings(city: City, rng: np.random.Generator):
    """Whole buildings inside each micro-grid's interior: (code, microgrid code, households, floors,
    footprint, centroid). About 8 per micro-grid, footprints scaled to the cell."""
    targets = _households(rng, len(city.microgrids))
    for i, (cell, code) in enumerate(zip(city.microgrids, city.microgrid_codes, strict=True)):
        size = math.sqrt(cell.area)  # degrees; cells are roughly round
        inner = cell.buffer(-0.12 * size)
        if inner.is_empty:
            inner = cell.buffer(-0.02 * size)
        x0, y0, x1, y1 = inner.bounds
        k = 6
        gx, gy = np.meshgrid(np.linspace(x0, x1, k + 2)[1:-1], np.linspace(y0, y1, k + 2)[1:-1])
        slots = np.column_stack([gx.ravel(), gy.ravel()])
        slots = slots[shapely.contains_xy(inner, slots[:, 0], slots[:, 1])]
        if len(slots) == 0:
            slots = np.array([shapely.get_coordinates(inner.point_on_surface())[0]])
        n = int(min(len(slots), max(1, rng.poisson(8.3))))
        chosen = slots[rng.choice(len(slots), n, replace=False)]
        target = int(targets[i])
        cuts = np.sort(rng.choice(np.arange(1, target), n - 1, replace=False)) if 1 < n < target else []
        shares = np.diff(np.concatenate([[0], cuts, [target]])).astype(int) if n < target else np.ones(n, int)
        half = min((x1 - x0), (y1 - y0)) / (k + 1) * 0.35
        for j, ((x, y), hh) in enumerate(zip(chosen, shares, strict=False)):
            # A rectangle wholly inside (halved until it fits): clipping it instead made slivers that the
            # files' 8 decimals turned invalid.
            size = half
            while size > 2e-7 and not inner.contains(
                foot := shapely.box(x - size, y - size * 0.8, x + size, y + size * 0.8)
            ):
                size /= 2
            if size <= 2e-7:
                continue
            yield (f"B{code}-{j + 1:02d}", code, int(hh), int(rng.integers(3, 34)), foot, (x, y))


def _write_csv(path: Path, header: list[str], rows) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def _wkt(geom) -> str:
    return shapely.to_wkt(geom, rounding_precision=8, trim=True)


def _name(rng: np.random.Generator) -> str:
    return SURNAMES[rng.integers(len(SURNAMES))] + GIVEN[rng.integers(len(GIVEN))] + GIVEN[rng.integers(len(GIVEN))]


def write(out: Path, scale: float, seed: int = 1, lookup_points: int = 20_000, log=print) -> dict:
    """Generate the city and write its files into ``out``; return the counts (also in ``city.json``)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    city, meta = build(scale, seed)
    rng = np.random.default_rng(seed + 1)
    log(f"areas generated: {len(city.microgrids):,} micro-grids in {time.perf_counter() - started:.1f} s")
    # Each level is the union of its children, so it nests exactly; files are written child-first.
    parts = [np.array(city.microgrids, dtype=object)]
    for group_of in (city.grid_of, city.community_of_grid, city.subdistrict_of_community):
        below = parts[-1]
        parts.append(
            np.array([shapely.union_all(below[group_of == k]) for k in range(group_of.max() + 1)], dtype=object)
        )
    levels = (
        ("microgrids", city.microgrid_codes, "微网格", 15),
        ("grids", city.grid_codes, "网格", 12),
        ("communities", city.community_codes, "社区", 9),
        ("subdistricts", city.subdistrict_codes, "街道", 0),
    )
    header = ["code", "name", "parent", "kind", "layer", "wkt"]
    counts = {}
    for (name, codes, word, parent_digits), geoms in zip(levels, parts, strict=True):
        counts[name] = _write_csv(
            out / f"{name}.csv",
            header,
            (
                (c, f"第{int(c[-3:])}{word}", c[:parent_digits], "comprehensive", "comprehensive", _wkt(g))
                for c, g in zip(codes, geoms, strict=True)
            ),
        )
    mg = parts[0]
    log(f"areas written in {time.perf_counter() - started:.1f} s")

    centroids, owners, households = [], [], 0
    with (out / "buildings.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["code", "name", "households", "floors", "microgrid", "wkt"])
        for code, mg_code, hh, floors, foot, centre in _buildings(city, rng):
            w.writerow([code, "", hh, floors, mg_code, _wkt(foot)])
            centroids.append(centre)
            owners.append(mg_code)
            households += hh
    counts["buildings"], counts["households"] = len(owners), households
    log(f"{len(owners):,} buildings written in {time.perf_counter() - started:.1f} s")

    counts["party_cells"] = _write_csv(out / "party_cells.csv", ["code", "name", "branch", "microgrids"], (
        (f"{c}-P", f"{c[-6:]}党小组", f"{c[:15]}党支部", c) for c in city.microgrid_codes))  # fmt: skip
    people = [(_name(rng), f"1{rng.integers(3e9, 9e9)}", "grid_worker", c, "") for c in city.grid_codes]
    people += [(_name(rng), f"1{rng.integers(3e9, 9e9)}", "microgrid_worker", c, "") for c in city.microgrid_codes]
    people += [(_name(rng), f"1{rng.integers(3e9, 9e9)}", "cell_leader", "", f"{c}-P") for c in city.microgrid_codes]
    counts["people"] = _write_csv(out / "people.csv", ["name", "phone", "role", "area", "party_cell"], people)

    # Lookups and incidents at building centroids (where people are), each with its known owner.
    centroids_a = np.array(centroids)
    pick = rng.choice(len(owners), min(lookup_points, len(owners)), replace=False)
    counts["lookup_points"] = _write_csv(out / "lookup_points.csv", ["lon", "lat", "microgrid"], (
        (f"{centroids_a[i, 0]:.8f}", f"{centroids_a[i, 1]:.8f}", owners[i]) for i in pick))  # fmt: skip
    n_inc = max(100, round(FULL["incidents"] * scale))
    at = rng.choice(len(owners), n_inc)
    day = rng.integers(0, 365, n_inc)
    minute = rng.integers(0, 24 * 60, n_inc)
    category = rng.integers(0, len(CATEGORIES), n_inc)
    counts["incidents"] = _write_csv(
        out / "incidents.csv",
        ["external_id", "category", "reported_at", "status", "lon", "lat", "expected_microgrid"],
        ((f"S{k:08d}", CATEGORIES[category[k]],
          f"2025-{1 + day[k] // 31 % 12:02d}-{1 + day[k] % 28:02d}T{minute[k] // 60:02d}:{minute[k] % 60:02d}:00+08:00",
          "closed" if day[k] < 330 else "", f"{centroids_a[i, 0]:.8f}", f"{centroids_a[i, 1]:.8f}", owners[i])
         for k, i in enumerate(at)),
    )  # fmt: skip
    vertices = shapely.get_num_coordinates(mg) - 1
    areas_m2 = shapely.area(mg) / (M_LON * M_LAT)
    counts.update(scale=scale, seed=seed, radius_km=round(meta["radius_m"] / 1000, 1),
                  microgrid_vertices_median=float(np.median(vertices)),
                  microgrid_area_m2_centre_vs_edge=_centre_edge(mg, areas_m2),
                  seconds=round(time.perf_counter() - started, 1))  # fmt: skip
    (out / "city.json").write_text(json.dumps(counts, indent=2))
    log(f"done in {counts['seconds']} s: {counts}")
    return counts


def _centre_edge(mg: np.ndarray, areas_m2: np.ndarray) -> list[float]:
    """Median micro-grid area (m²) in the innermost and outermost tenth by distance from the centre."""
    c = shapely.get_coordinates(shapely.centroid(mg))
    r = np.hypot((c[:, 0] - LON0) / M_LON, (c[:, 1] - LAT0) / M_LAT)
    order = np.argsort(r)
    tenth = max(1, len(order) // 10)
    return [round(float(np.median(areas_m2[order[:tenth]]))), round(float(np.median(areas_m2[order[-tenth:]])))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.05, help="0.01 … 1 (1 = 120,000 micro-grids)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, help="Directory for the files (default bench/city-SCALE)")
    args = ap.parse_args()
    if not 0.001 <= args.scale <= 1:
        ap.error("--scale must be between 0.001 and 1")
    write(args.out or Path(__file__).parent / f"city-{args.scale:g}", args.scale, args.seed)


if __name__ == "__main__":
    main()
