"""Coverage checks: does every piece of land and every household have exactly one owner?

For a scope (a subdistrict, community or grid; or the whole city) the check finds

- **gap** — land of a community (or of the grid checked) that no micro-grid of the comprehensive layer
  covers, above ``gap_m2`` (slivers smaller than that are edges stored as doubles, not land);
- **overlap** — two grids or two micro-grids of one layer covering the same land, above ``overlap_m2``
  (unit micro-grids sharing a tower's footprint by design do not count);
- **outside_parent** — an area sticking out of its parent by more than ``outside_m`` metres (the
  write path's own rule);
- **building_unassigned** — a building no micro-grid holds (an error when it has households);
- **building_twice** — a building counted for more households than it has (held twice);
- **building_elsewhere** — a building held by micro-grids that do not cover it (a lookup at the
  building answers someone else);
- **building_split** — a building a micro-grid boundary cuts through: a real share of its footprint
  lies in micro-grids that do not hold it (boundaries should follow buildings);
- **no_community** — land of a subdistrict in no community (a warning: parks and reservoirs are
  often left out on purpose; the subdistrict answers for it);
- **out_of_band**, **no_party_cell**, **no_people** — micro-grids outside the household band, in no
  party cell (党小组), or with nobody to call.

Errors break full coverage (全覆盖, 不重不漏); warnings are work for the planners. Shapely's coverage
functions do the geometric work, because Debian's PostGIS 3.3 has no ST_Coverage*."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import psycopg
import shapely

from gridmap import geojson, sql
from gridmap.areas.hierarchy import area_id_by_code
from gridmap.areas.levels import DEFAULT_LAYER
from gridmap.areas.rules import BUILDING_SHARE, OVERLAP_M2, PARENT_TOLERANCE_M
from gridmap.areas.territory import Projection
from gridmap.errors import InvalidInput
from gridmap.partition.algorithm import Band

# problem → severity ("error" breaks full coverage; "warning" is planners' work). The order is the
# order of the report.
PROBLEMS: dict[str, str] = {
    "gap": "error",
    "overlap": "error",
    "outside_parent": "error",
    "building_unassigned": "error",
    "building_twice": "error",
    "building_elsewhere": "error",
    "building_split": "warning",
    "no_community": "warning",
    "out_of_band": "warning",
    "no_party_cell": "warning",
    "no_people": "warning",
}
# Protrusions smaller than this (m²) after the parent's tolerance buffer are rounding, not land.
_NOISE_M2 = 0.01


@dataclass(frozen=True)
class Tolerances:
    """What counts as a finding: gaps and overlaps above so many m², protrusions beyond so many metres,
    and a building "in" a micro-grid when at least ``building_share`` of its footprint and
    ``building_m2`` m² lie there."""

    gap_m2: float = 1.0
    overlap_m2: float = OVERLAP_M2
    outside_m: float = PARENT_TOLERANCE_M
    building_share: float = BUILDING_SHARE
    building_m2: float = 5.0

    def __post_init__(self) -> None:
        for name in ("gap_m2", "overlap_m2", "outside_m", "building_m2"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value < 1e9):
                raise InvalidInput(f"{name} must be a number of 0 or more; got {value!r}", name)
        if not 0 < self.building_share <= 1:
            raise InvalidInput(f"building_share must be in (0, 1]; got {self.building_share!r}", "building_share")


@dataclass(frozen=True)
class Finding:
    """One problem: its kind, severity, a sentence saying what is wrong, the codes involved (areas
    first, then buildings), where it is (WGS-84) and figures (``area_m2``, ``households`` …)."""

    problem: str
    message: str
    codes: tuple[str, ...]
    geometry: shapely.Geometry
    detail: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """``error`` or ``warning``."""
        if self.problem == "building_unassigned" and not self.detail.get("households"):
            return "warning"  # a shed or a kiosk with no households: nothing is left unserved
        return PROBLEMS[self.problem]


@dataclass(frozen=True)
class CoverageReport:
    """All findings of one check, in report order, and what was checked."""

    scope: str | None
    band: Band
    tolerances: Tolerances
    checked: dict[str, int]
    findings: list[Finding]

    @property
    def errors(self) -> int:
        """How many findings break full coverage."""
        return sum(f.severity == "error" for f in self.findings)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per problem, every problem listed (0 when none)."""
        found = Counter(f.problem for f in self.findings)
        return {p: found.get(p, 0) for p in PROBLEMS}

    def summary(self) -> dict:
        """What was checked, the counts per problem, errors and warnings."""
        return {
            "scope": self.scope,
            "band": [self.band.lo, self.band.hi],
            "checked": self.checked,
            "problems": self.counts,
            "errors": self.errors,
            "warnings": len(self.findings) - self.errors,
            "ok": self.errors == 0,
        }


@dataclass
class _Layer:
    """Areas of one query as parallel arrays (WGS-84 and metric geometry)."""

    rows: list[dict]
    wgs: np.ndarray
    metric: np.ndarray

    def where(self, test) -> list[int]:
        return [i for i, r in enumerate(self.rows) if test(r)]


def check(
    conn: psycopg.Connection, scope: str | None = None, band: Band = Band(), tolerances: Tolerances = Tolerances()
) -> CoverageReport:
    """Check a subdistrict, community or grid (by code), or the whole city when ``scope`` is None.
    Raises NotFound for an unknown code and InvalidInput for a micro-grid code."""
    prefix = ""
    if scope:
        area_id_by_code(conn, scope)  # NotFound / InvalidInput for a bad code
        if len(scope) == 18:
            raise InvalidInput("check a grid, community or subdistrict (a micro-grid has nothing below it)", "area")
        prefix = scope
    area_rows = conn.execute(sql.load("coverage_areas"), {"prefix": prefix}).fetchall()
    building_rows = conn.execute(sql.load("coverage_buildings"), {"prefix": prefix}).fetchall()
    names = ("id", "code", "name", "level", "layer", "kind", "parent_id", "geom", "households", "has_party_cell",
             "people", "in_scope")  # fmt: skip
    areas = [dict(zip(names, row, strict=True)) for row in area_rows]
    buildings = [dict(zip(("id", "code", "name", "households", "geom", "holders", "held"), r, strict=True))
                 for r in building_rows]  # fmt: skip
    for rows in (areas, buildings):
        for row, geom in zip(rows, shapely.from_wkb([r["geom"] for r in rows]), strict=True):
            row["geom"] = geom
    for a in areas:
        # The land to cover: each community of the scope, or the grid itself when a grid is checked.
        a["container"] = a["in_scope"] and (a["level"] == "community" or (a["code"] == prefix and a["level"] == "grid"))
    return evaluate(scope, areas, buildings, band, tolerances)


def evaluate(
    scope: str | None,
    areas: list[dict],
    buildings: list[dict],
    band: Band = Band(),
    tolerances: Tolerances = Tolerances(),
) -> CoverageReport:
    """Check areas and buildings already loaded (the database's, or a planner's draft of them).

    ``areas`` rows hold id, code, name, level, layer, kind, parent_id, geom (WGS-84), households,
    has_party_cell, people, in_scope (findings are made for these; the others are neighbours and
    ancestors) and container (land micro-grids must cover). ``buildings`` rows hold id, code, name,
    households, geom, holders (ids of the micro-grids holding it) and held (households counted)."""
    area_wgs = np.array([a["geom"] for a in areas], dtype=object)
    building_wgs = np.array([b["geom"] for b in buildings], dtype=object)
    if not len(area_wgs):
        return CoverageReport(scope, band, tolerances, {}, [])
    projection = Projection(shapely.box(*shapely.total_bounds(area_wgs)))
    a = _Layer(areas, area_wgs, projection.metric(area_wgs))
    b = _Layer(buildings, building_wgs, projection.metric(building_wgs) if len(building_wgs) else np.array([]))

    holders: dict[int, set[int]] = {}  # micro-grid id → ids of the buildings it holds (or part of)
    for row in buildings:
        for m in row["holders"]:
            holders.setdefault(m, set()).add(row["id"])

    findings: list[Finding] = []
    findings += _gaps(a, tolerances, projection)
    findings += _overlaps(a, holders, tolerances, projection)
    findings += _outside_parent(a, tolerances, projection)
    findings += _buildings(a, b, tolerances)
    findings += _microgrid_warnings(a, band)
    order = {p: i for i, p in enumerate(PROBLEMS)}
    findings.sort(key=lambda f: (order[f.problem], f.codes))
    in_scope = Counter(r["level"] for r in areas if r["in_scope"])
    checked = {"communities": in_scope["community"], "grids": in_scope["grid"],
               "microgrids": in_scope["microgrid"], "buildings": len(buildings)}  # fmt: skip
    return CoverageReport(scope, band, tolerances, checked, findings)


def _listed(codes: tuple[str, ...], most: int = 4) -> str:
    """``a, b, c`` or ``a, b, c, d and 14 more``: a sentence stays readable for a 30-unit tower."""
    if not codes:
        return "no micro-grid"
    shown = ", ".join(codes[:most])
    return shown if len(codes) <= most else f"{shown} and {len(codes) - most} more"


def _wgs84(projection: Projection, geom: shapely.Geometry) -> shapely.Geometry:
    """A metric finding back in WGS-84, still valid: a millimetre-wide sliver hanging off a gap can
    collapse on the way and must not make the drawn shape invalid."""
    out = projection.wgs84([geom])[0]
    if out.is_valid:
        return out
    return shapely.union_all([p for p in shapely.get_parts(shapely.make_valid(out)) if p.geom_type == "Polygon"])


def _union(metric_geoms: np.ndarray) -> shapely.Geometry:
    """Union of a tiling: the fast coverage union when the pieces form a valid coverage, else the
    general (slower, overlap-proof) union."""
    if len(metric_geoms) == 0:
        return shapely.Polygon()
    if shapely.coverage_is_valid(metric_geoms):
        return shapely.coverage_union_all(metric_geoms)
    return shapely.union_all(metric_geoms)


def _parts(geom: shapely.Geometry, min_m2: float) -> list[shapely.Geometry]:
    """The polygons of ``geom`` larger than ``min_m2``."""
    polygons = shapely.get_parts(shapely.get_parts(geom))  # collections may hold multipolygons
    polygons = [p for p in polygons if p.geom_type == "Polygon" and p.area > min_m2]
    return sorted(polygons, key=lambda p: -p.area)


def _gaps(a: _Layer, tol: Tolerances, projection: Projection) -> list[Finding]:
    containers = a.where(lambda r: r["container"])
    grids = a.where(lambda r: r["level"] == "grid" and r["layer"] == DEFAULT_LAYER)
    grid_tree = shapely.STRtree(a.metric[grids]) if grids else None
    groups = {n: _below(a, "microgrid", n) for n in {len(a.rows[c]["code"]) for c in containers}}
    out = []
    for c in containers:
        code = a.rows[c]["code"]
        mine = groups[len(code)].get(code, [])
        missing = shapely.difference(a.metric[c], _union(a.metric[mine]))
        for piece in _parts(missing, tol.gap_m2):
            near = [a.rows[grids[i]]["code"] for i in grid_tree.query(piece, predicate="intersects")
                    if a.metric[grids[i]].intersection(piece).area > tol.gap_m2] if grid_tree else []  # fmt: skip
            where = f" in grid {', '.join(sorted(near))}" if near else " outside every grid"
            out.append(Finding(
                "gap", f"{piece.area:,.0f} m² of {a.rows[c]['name']} ({code}) belong to no micro-grid{where}",
                (code, *sorted(near)), _wgs84(projection, piece), {"area_m2": round(piece.area, 1)},
            ))  # fmt: skip
    # A subdistrict's land outside every community falls to the subdistrict itself (属地兜底): a
    # warning, since parks, reservoirs and mountains are often left out of communities on purpose.
    communities_of = _below(a, "community", 9)  # subdistrict codes have 9 digits
    for s in a.where(lambda r: r["in_scope"] and r["level"] == "subdistrict"):
        code = a.rows[s]["code"]
        communities = communities_of.get(code, [])
        for piece in _parts(shapely.difference(a.metric[s], _union(a.metric[communities])), tol.gap_m2):
            out.append(Finding(
                "no_community", f"{piece.area / 1e6:,.3f} km² of {a.rows[s]['name']} ({code}) belong to no community",
                (code,), _wgs84(projection, piece), {"area_m2": round(piece.area, 1)},
            ))  # fmt: skip
    return out


def _below(a: _Layer, level: str, prefix_length: int) -> dict[str, list[int]]:
    """Areas of ``level`` (comprehensive layer) grouped by the first ``prefix_length`` digits of their
    codes, i.e. by the ancestor holding them: one pass instead of a scan per container (a megacity
    has thousands of communities)."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(a.rows):
        if r["level"] == level and r["layer"] == DEFAULT_LAYER:
            groups.setdefault(r["code"][:prefix_length], []).append(i)
    return groups


def _share_building(one: dict, other: dict, holders: dict[int, set[int]]) -> bool:
    return bool(holders.get(one["id"], set()) & holders.get(other["id"], set()))


def _overlaps(a: _Layer, holders: dict[int, set[int]], tol: Tolerances, projection: Projection) -> list[Finding]:
    out = []
    for level in ("grid", "microgrid"):
        idx = np.array(a.where(lambda r, level=level: r["level"] == level), dtype=int)
        if len(idx) < 2:
            continue
        geoms = a.metric[idx]
        # Only areas whose edges do not match their neighbours' can overlap them: the coverage test
        # rules out nearly every pair before any intersection is computed.
        suspect = ~shapely.is_empty(shapely.coverage_invalid_edges(geoms))
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        keep = (left < right) & suspect[left] & suspect[right]
        left, right = idx[left[keep]], idx[right[keep]]
        keep = [a.rows[i]["layer"] == a.rows[j]["layer"] and (a.rows[i]["in_scope"] or a.rows[j]["in_scope"])
                and not (level == "microgrid" and _share_building(a.rows[i], a.rows[j], holders))
                for i, j in zip(left, right, strict=True)]  # fmt: skip
        left, right = left[np.array(keep, dtype=bool)], right[np.array(keep, dtype=bool)]
        shared = shapely.intersection(a.metric[left], a.metric[right])
        big = shapely.area(shared) > tol.overlap_m2
        for i, j, piece in zip(left[big], right[big], shared[big], strict=True):
            pieces = _parts(piece, 0)
            size = sum(p.area for p in pieces)
            ci, cj = a.rows[i]["code"], a.rows[j]["code"]
            out.append(Finding(
                "overlap", f"{level}s {ci} and {cj} both cover {size:,.0f} m²",
                (ci, cj), _wgs84(projection, shapely.MultiPolygon(pieces)), {"area_m2": round(size, 1)},
            ))  # fmt: skip
    return out


def _outside_parent(a: _Layer, tol: Tolerances, projection: Projection) -> list[Finding]:
    position = {r["id"]: i for i, r in enumerate(a.rows)}
    children = [i for i in a.where(lambda r: r["in_scope"] and r["parent_id"] in position)]
    if not children:
        return []
    parents = [position[a.rows[i]["parent_id"]] for i in children]
    allowed = {p: shapely.buffer(a.metric[p], tol.outside_m) for p in set(parents)}
    outside = shapely.difference(a.metric[children], [allowed[p] for p in parents])
    out = []
    for i, p, piece in zip(children, parents, outside, strict=True):
        pieces = _parts(piece, _NOISE_M2)
        if not pieces:
            continue
        size = sum(x.area for x in pieces)
        row, parent = a.rows[i], a.rows[p]
        out.append(Finding(
            "outside_parent",
            f"{row['level']} {row['code']} sticks out of {parent['level']} {parent['code']} by {size:,.1f} m²"
            f" (beyond the {tol.outside_m:g} m tolerance)",
            (row["code"], parent["code"]), _wgs84(projection, shapely.MultiPolygon(pieces)),
            {"area_m2": round(size, 1)},
        ))  # fmt: skip
    return out


def _buildings(a: _Layer, b: _Layer, tol: Tolerances) -> list[Finding]:
    microgrids = np.array(a.where(lambda r: r["level"] == "microgrid" and r["layer"] == DEFAULT_LAYER), dtype=int)
    position = {a.rows[i]["id"]: i for i in microgrids}
    tree = shapely.STRtree(a.metric[microgrids]) if len(microgrids) else None

    def codes(ids) -> tuple[str, ...]:
        return tuple(sorted(a.rows[position[i]]["code"] if i in position else str(i) for i in ids))

    def lying_in(piece: shapely.Geometry) -> set[int]:
        """Micro-grids holding a real share of ``piece`` (a footprint or the part of one)."""
        if tree is None:
            return set()
        found = microgrids[tree.query(piece, predicate="intersects")]
        shared = shapely.area(shapely.intersection(a.metric[found], piece))
        return {a.rows[m]["id"] for m, s in zip(found, shared, strict=True) if s >= tol.building_m2}

    out = []
    for k, row in enumerate(b.rows):
        held = set(row["holders"])
        footprint = b.metric[k]
        label = f"building {row['code']}" + (f" ({row['name']})" if row["name"] else "")
        detail = {"households": row["households"], "building": row["code"]}
        if not held:
            out.append(Finding("building_unassigned", f"{label} with {row['households']} households is in no "
                               "micro-grid", (*codes(lying_in(footprint)), row["code"]), b.wgs[k], detail))  # fmt: skip
            continue
        if row["held"] > row["households"]:
            out.append(Finding("building_twice", f"{label} is counted for {row['held']} households but has "
                               f"{row['households']}", (*codes(held), row["code"]), b.wgs[k],
                               detail | {"counted": row["held"]}))  # fmt: skip
            continue
        # The part of the footprint its own micro-grids do not cover (unit micro-grids share a tower's
        # land, so a footprint in the land of several holders is fine).
        lands = [a.metric[position[m]] for m in held if m in position]
        holder_land = lands[0] if len(lands) == 1 else shapely.union_all(lands)
        elsewhere = shapely.difference(footprint, holder_land)
        outside = elsewhere.area if not elsewhere.is_empty else 0.0
        if outside > (1 - tol.building_share) * footprint.area:
            others = lying_in(footprint) - held
            where = f"lies in {_listed(codes(others))}"
            out.append(Finding("building_elsewhere", f"{label} is held by {_listed(codes(held))} but {where}",
                               (*codes(held | others), row["code"]), b.wgs[k], detail))  # fmt: skip
        elif outside >= max(tol.building_m2, tol.building_share * footprint.area):
            others = lying_in(elsewhere) - held
            out.append(
                Finding(
                    "building_split",
                    f"{label} (held by {_listed(codes(held))}) has {outside:,.0f} m² "
                    f"of its footprint in {_listed(codes(others))}",
                    (*codes(held | others), row["code"]),
                    b.wgs[k],
                    detail | {"area_m2": round(outside, 1)},
                )
            )
    return out


def _microgrid_warnings(a: _Layer, band: Band) -> list[Finding]:
    out = []
    for i in a.where(lambda r: r["in_scope"] and r["level"] == "microgrid" and r["layer"] == DEFAULT_LAYER):
        row, geom = a.rows[i], a.wgs[i]
        hh = row["households"]
        detail = {"households": hh}
        if not band.holds(hh):
            side = "no households" if hh == 0 else ("too few" if hh < band.lo else "too many")
            out.append(Finding("out_of_band", f"micro-grid {row['code']} has {hh} households ({side}; the band is "
                               f"{band.lo}–{band.hi})", (row["code"],), geom, detail))  # fmt: skip
        if not row["has_party_cell"]:
            out.append(Finding("no_party_cell", f"micro-grid {row['code']} belongs to no party cell",
                               (row["code"],), geom, detail))  # fmt: skip
        if not row["people"]:
            out.append(Finding("no_people", f"micro-grid {row['code']} has nobody to call (no worker, building "
                               "chief or cell leader)", (row["code"],), geom, detail))  # fmt: skip
    return out


def to_geojson(report: CoverageReport, crs: str = "wgs84") -> dict:
    """The findings as a GeoJSON FeatureCollection (coordinates in ``crs``): one Feature per finding
    with ``problem``, ``severity``, ``message``, ``codes`` and its figures, and the summary beside."""
    features = (
        geojson.feature(
            f.geometry,
            {"problem": f.problem, "severity": f.severity, "message": f.message, "codes": list(f.codes), **f.detail},
            crs=crs,
        )
        for f in report.findings
    )
    return geojson.collection(features, summary=report.summary())
