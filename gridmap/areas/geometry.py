"""Geometry rules shared by every write path: what a stored polygon must satisfy, and why not."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.coords import geometry_to_wgs84
from gridmap.errors import InvalidInput

# Vertices closer than this (degrees, ≈1 cm) count as the same point when deciding whether a
# re-imported geometry changed: text formats round the last digits of a double, and a GCJ-02/BD-09
# round trip through prcoords' inverse moves a vertex by up to ≈7 mm (measured: 6.3e-8°).
SAME_GEOMETRY_TOLERANCE = 1e-7


def polygon_problem(geom: BaseGeometry | None) -> str | None:
    """Return why ``geom`` cannot be stored as a WGS-84 (Multi)Polygon, or None when it can."""
    if geom is None:
        return "missing or unreadable geometry"
    if geom.is_empty:
        return "empty geometry"
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return f"expected a Polygon or MultiPolygon, got {geom.geom_type}"
    if shapely.has_z(geom):
        return "3D coordinates (Z) are not accepted; give lon/lat only"
    problem = _coordinate_problem(geom)
    if problem:
        return problem
    if not geom.is_valid:
        return f"invalid geometry: {shapely.is_valid_reason(geom)}"
    return None


def _coordinate_problem(geom: BaseGeometry) -> str | None:
    """Why the coordinates of ``geom`` are not WGS-84 longitudes and latitudes, or None."""
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():
        return "NaN or infinite coordinate"
    lon, lat = xy[:, 0], xy[:, 1]
    if (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        hint = ""
        if (np.abs(lat) > 90).any() and (np.abs(lon) <= 90).all() and (np.abs(lat) <= 180).all():
            hint = " (longitude and latitude look swapped)"
        return f"coordinate out of range: lon must be in [-180, 180], lat in [-90, 90]{hint}"
    return None


def as_multipolygon(geom: Polygon | MultiPolygon) -> MultiPolygon:
    """Return ``geom`` as a MultiPolygon (the stored type)."""
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return geom


def same_geometry(a: BaseGeometry, b: BaseGeometry) -> bool:
    """True when two geometries have the same vertices up to ``SAME_GEOMETRY_TOLERANCE``, in the same order or
    in another (a ring started elsewhere, parts reordered, as GIS programs write them)."""
    tol = SAME_GEOMETRY_TOLERANCE
    if shapely.equals_exact(a, b, tolerance=tol) or shapely.equals_exact(
        shapely.normalize(a), shapely.normalize(b), tolerance=tol
    ):
        return True
    # normalize() picks each ring's start by its smallest vertex, so two near-equal vertices jittered by a
    # datum round trip can start the rings at different places: then the same vertices, each within tol.
    return bool(
        shapely.get_num_coordinates(a) == shapely.get_num_coordinates(b) and shapely.hausdorff_distance(a, b) <= tol
    )


def polygon_from_geojson(geometry: dict, crs: str, max_vertices: int, field: str = "geometry") -> MultiPolygon:
    """A checked WGS-84 MultiPolygon from a GeoJSON Polygon/MultiPolygon given in ``crs``, or InvalidInput
    naming the defect. Rings must be closed (shapely would close them silently), the vertex count is
    capped before any parsing, and a GeoJSON ``crs`` member is never honoured (callers say ``crs=``)."""
    _check_rings(geometry, max_vertices, field)
    try:
        geom = shapely.geometry.shape({"type": geometry["type"], "coordinates": geometry["coordinates"]})
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
        raise InvalidInput(f"{field} is not a readable GeoJSON polygon: {exc}", field) from None
    problem = polygon_problem(geom)
    if problem:
        raise InvalidInput(f"{field}: {problem}", field)
    geom = geometry_to_wgs84(geom, crs)
    problem = polygon_problem(geom)
    if problem:
        raise InvalidInput(f"{field} after conversion from {crs}: {problem}", field)
    return as_multipolygon(geom)


def line_from_geojson(geometry: dict, crs: str, max_vertices: int, field: str = "line") -> shapely.LineString:
    """A checked WGS-84 LineString from a GeoJSON LineString given in ``crs`` (finite, in range, at least
    two distinct positions, at most ``max_vertices``), or InvalidInput naming the defect."""
    positions = geometry.get("coordinates")
    if geometry.get("type") != "LineString" or not isinstance(positions, list):
        raise InvalidInput(f"{field} must be a GeoJSON LineString", field)
    if not 2 <= len(positions) <= max_vertices:
        raise InvalidInput(f"{field} needs 2 to {max_vertices} positions; got {len(positions)}", field)
    try:
        xy = np.array(positions, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field}: every position must be [lon, lat] numbers", field) from None
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InvalidInput(f"{field}: every position must be [lon, lat] (no Z)", field)
    line = shapely.LineString(xy)
    problem = _coordinate_problem(line)
    if problem is None:
        line = geometry_to_wgs84(line, crs)
        problem = _coordinate_problem(line)
    if problem:
        raise InvalidInput(f"{field}: {problem}", field)
    if line.length == 0:
        raise InvalidInput(f"{field} has no length: give two distinct positions", field)
    return line


def _check_rings(geometry: dict, max_vertices: int, field: str) -> None:
    polygons = geometry.get("coordinates")
    if not isinstance(polygons, list):
        raise InvalidInput(f"{field}.coordinates must be an array", field)
    if geometry.get("type") == "Polygon":
        polygons = [polygons]
    vertices = 0
    for i, polygon in enumerate(polygons):
        for j, ring in enumerate(polygon if isinstance(polygon, list) else [None]):
            if not isinstance(ring, list) or len(ring) < 4:
                raise InvalidInput(f"{field} ring {i}.{j} needs at least 4 positions (closed)", field)
            vertices += len(ring)
            if vertices > max_vertices:
                raise InvalidInput(f"{field} has more than {max_vertices} vertices; simplify it", field)
            if ring[0] != ring[-1]:
                message = f"{field} ring {i}.{j} is not closed: its last position must repeat the first"
                raise InvalidInput(message, field)
