"""Area query (emergency mobilisation): every micro-grid, building, party cell and person a polygon
or circle touches, with household totals. Current areas only; "touches" includes sharing a boundary."""

from __future__ import annotations

import math

import psycopg
import shapely
from pyproj import Geod

from gridmap import sql
from gridmap.access.rules import Principal, redact
from gridmap.areas.levels import DEFAULT_LAYER
from gridmap.errors import InvalidInput
from gridmap.lookup import check_layer
from gridmap.points import point_to_wgs84

_GEOD = Geod(ellps="WGS84")
_CIRCLE_SEGMENTS = 64
M2_PER_KM2 = 1_000_000


def circle(lon: object, lat: object, radius_m: float, crs: str) -> shapely.Polygon:
    """A geodesic circle (64-gon) of ``radius_m`` metres around a point given in ``crs``."""
    x, y = point_to_wgs84(lon, lat, crs)
    if not (isinstance(radius_m, int | float) and math.isfinite(radius_m) and radius_m > 0):
        raise InvalidInput(f"radius_m must be a positive number of metres; got {radius_m!r}", "radius_m")
    azimuths = [360.0 * i / _CIRCLE_SEGMENTS for i in range(_CIRCLE_SEGMENTS)]
    lons, lats, _ = _GEOD.fwd([x] * _CIRCLE_SEGMENTS, [y] * _CIRCLE_SEGMENTS, azimuths, [radius_m] * _CIRCLE_SEGMENTS)
    return shapely.Polygon(zip(lons, lats, strict=True))


def area_km2(geom: shapely.Geometry) -> float:
    """Geodesic area of a WGS-84 polygon in km²."""
    return abs(_GEOD.geometry_area_perimeter(geom)[0]) / M2_PER_KM2


def query_area(
    conn: psycopg.Connection, who: Principal, geom: shapely.Geometry, max_km2: float, layer: str = DEFAULT_LAYER
) -> dict:
    """Everything ``geom`` (WGS-84) touches in one layer, as ``who`` may see it (phones masked for
    callers not signed in). Refuses polygons over ``max_km2``.

    ``households`` sums the touched micro-grids (whole micro-grids are mobilised);
    ``building_households`` sums the touched buildings. Each equals the sum over its list."""
    check_layer(conn, layer, allow_all=False)
    size = area_km2(geom)
    if size > max_km2:
        raise InvalidInput(
            f"the area is {size:.1f} km², over the limit of {max_km2:g} km²; query a smaller area", "geometry"
        )
    microgrids, buildings, party_cells, people = conn.execute(
        sql.load("area_query"), {"wkb": shapely.to_wkb(geom), "layer": layer}
    ).fetchone()
    return redact(
        who,
        {
            "area_km2": round(size, 4),
            "layer": layer,
            "totals": {
                "households": sum(m["households"] for m in microgrids),
                "microgrids": len(microgrids),
                "buildings": len(buildings),
                "building_households": sum(b["households"] for b in buildings),
                "party_cells": len(party_cells),
                "people": len(people),
            },
            "microgrids": microgrids,
            "buildings": buildings,
            "party_cells": party_cells,
            "people": people,
        },
    )
