"""Building territories: the land of one parent area shared out between the buildings inside it.

Each building gets the part of the area nearer to its outline than to any other building's outline
(a Voronoi diagram of points along the outlines). The territories tile the area exactly, so any
grouping of buildings gives polygons with no gaps and no overlaps: a micro-grid is the union of its
buildings' territories."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer

# Outline points every SEED_SPACING_M metres: close enough that a territory follows its building's
# shape, few enough that a 1,000-building area is a second's work.
SEED_SPACING_M = 5.0
# Voronoi edges are staircases of short segments; simplify shared edges (never the area's own
# boundary) by this much so micro-grids are not drawn with thousands of vertices.
SIMPLIFY_M = 2.0
# Territories sharing less boundary than this do not count as neighbours (a corner is not a border).
MIN_SHARED_M = 1.0


class Projection:
    """An azimuthal equidistant projection centred on an area (metres; distortion negligible at city
    scale), both ways. Building the transformers costs milliseconds, so one is made per area."""

    def __init__(self, geom: shapely.Geometry) -> None:
        c = geom.centroid
        self.crs = CRS.from_proj4(f"+proj=aeqd +lat_0={c.y:.6f} +lon_0={c.x:.6f} +datum=WGS84 +units=m")
        self._to_m = Transformer.from_crs(4326, self.crs, always_xy=True)
        self._to_wgs = Transformer.from_crs(self.crs, 4326, always_xy=True)

    def metric(self, geoms) -> np.ndarray:
        """WGS-84 geometries in metres (an array of the same length)."""
        return _project(geoms, self._to_m)

    def wgs84(self, geoms) -> np.ndarray:
        """Metric geometries back in WGS-84."""
        return _project(geoms, self._to_wgs)


@dataclass(frozen=True)
class Territories:
    """Territories (WGS-84, one per building, empty where a building got no land), their metric twins,
    the projection used and which territories border each other."""

    wgs84: list[shapely.Geometry]
    metric: list[shapely.Geometry]
    projection: Projection
    neighbours: list[tuple[int, int]]


def _project(geoms, transformer: Transformer):
    return shapely.transform(np.asarray(geoms, dtype=object), lambda xy: np.column_stack(transformer.transform(*xy.T)))


def share_land(area: shapely.Geometry, buildings: list[shapely.Geometry]) -> Territories:
    """Share ``area`` (WGS-84 polygon) out between ``buildings`` (WGS-84 footprints, expected inside it).

    The territories cover ``area`` exactly and do not overlap (``shapely.coverage_is_valid`` holds): the
    Voronoi edges and the area's boundary are noded together once and polygonized, so neighbouring
    territories share their vertices."""
    proj = Projection(area)
    n = len(buildings)
    if n == 0:
        return Territories([], [], proj, [])
    if n == 1:
        return Territories([area], list(proj.metric([area])), proj, [])
    outlines = shapely.segmentize(shapely.boundary(proj.metric(buildings)), SEED_SPACING_M)
    coords = [shapely.get_coordinates(line) for line in outlines]
    xy = np.round(np.concatenate(coords), 2)
    owner = np.concatenate([np.full(len(c), i) for i, c in enumerate(coords)])
    xy, first = np.unique(xy, axis=0, return_index=True)
    owner = owner[first]
    area_m = proj.metric([area])[0]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=shapely.buffer(area_m.envelope, 10), ordered=True)
    )
    cells_wgs = proj.wgs84(cells)
    # Node the cell edges and the area's boundary together, keep the faces inside the area and give
    # each face to the building whose outline point owns the cell it lies in.
    lines = shapely.union_all(np.append(shapely.boundary(cells_wgs), shapely.boundary(area)))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    inside = shapely.point_on_surface(faces)
    keep = shapely.covers(area, inside)
    faces, inside = faces[keep], inside[keep]
    tree = shapely.STRtree(cells_wgs)
    face_idx, cell_idx = tree.query(inside, predicate="within")
    face_owner = np.full(len(faces), -1)
    face_owner[face_idx] = owner[cell_idx]
    missing = np.flatnonzero(face_owner < 0)  # a face point exactly on a cell edge: take the nearest cell
    if len(missing):
        face_owner[missing] = owner[tree.nearest(inside[missing])]
    wgs = [shapely.Polygon()] * n
    for i in np.unique(face_owner):
        wgs[i] = shapely.coverage_union_all(faces[face_owner == i])
    simplified = shapely.coverage_simplify(np.asarray(wgs, dtype=object), SIMPLIFY_M / 111_000, simplify_boundary=False)
    wgs = [shapely.make_valid(g) if not g.is_valid else g for g in simplified]
    metric = list(proj.metric(wgs))
    return Territories(wgs, metric, proj, _neighbours(metric))


def _neighbours(metric: list[shapely.Geometry]) -> list[tuple[int, int]]:
    geoms = np.asarray(metric, dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [(a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True) if a < b]
    if not pairs:
        return []
    a, b = np.array(pairs).T
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b])))
    return [(int(i), int(j)) for i, j, s in zip(a, b, shared, strict=True) if s >= MIN_SHARED_M]
