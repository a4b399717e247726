"""POST /api/v1/area: everything a polygon or circle touches (emergency mobilisation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import Conn, SettingsDep, Who, crs_query, reject_unknown_query, require_reader
from api.schemas.lookup import AreaQueryIn
from gridmap.areas.geometry import polygon_from_geojson
from gridmap.errors import InvalidInput
from gridmap.lookup.area import circle, query_area

Crs = crs_query("CRS of the polygon or centre: wgs84, gcj02 or bd09.")

router = APIRouter(
    prefix="/api/v1", tags=["lookup"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)]
)


@router.post("/area", summary="Micro-grids, buildings, party cells and people in an area")
def area(
    conn: Conn,
    who: Who,
    settings: SettingsDep,
    body: AreaQueryIn,
    crs: Crs,
    layer: Annotated[str, Query(description="Grid layer of the micro-grids.")] = "comprehensive",
) -> JSONResponse:
    """Give `geometry` (GeoJSON Polygon/MultiPolygon) or `lon`, `lat`, `radius_m`. Returns every
    current micro-grid, building and party cell it touches, household totals (`totals.households`
    sums the micro-grids, `totals.building_households` the buildings) and the people to call.
    Areas over GRIDMAP_AREA_QUERY_MAX_KM2 are refused with 422."""
    is_circle = body.lon is not None or body.lat is not None or body.radius_m is not None
    if (body.geometry is None) == (not is_circle):
        raise InvalidInput("give either geometry, or lon, lat and radius_m (not both)", "geometry")
    if body.geometry is not None:
        geom = polygon_from_geojson(body.geometry.model_dump(), crs, settings.limits.max_vertices)
    else:
        if body.radius_m is None:
            raise InvalidInput("radius_m is required with lon and lat", "radius_m")
        geom = circle(body.lon, body.lat, body.radius_m, crs)
    return JSONResponse(query_area(conn, who, geom, settings.limits.area_query_max_km2, layer))
