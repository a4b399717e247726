"""Buildings: /api/v1/buildings/{id} to read (with ETag) and edit under If-Match and jurisdiction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from api.deps import (
    Conn,
    IfMatch,
    RequestId,
    SettingsDep,
    Who,
    crs_query,
    etag,
    permission,
    reject_unknown_query,
    require_reader,
)
from api.schemas.areas import BuildingUpdate
from api.schemas.common import given_fields
from gridmap.areas.buildings import BuildingFields, get_building, update_building

router = APIRouter(
    prefix="/api/v1", tags=["buildings"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)]
)

BuildingId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Crs = crs_query("CRS of the coordinates: wgs84, gcj02 or bd09.")
GEOJSON = "application/geo+json"


@router.get("/buildings/{building_id}", summary="One building as a GeoJSON Feature")
def building(conn: Conn, building_id: BuildingId, crs: Crs) -> JSONResponse:
    """The building, its households and the micro-grids holding it; `ETag` is its version."""
    feature = get_building(conn, building_id, crs)
    return JSONResponse(feature, media_type=GEOJSON, headers=etag(feature["properties"]["version"]))


@router.patch("/buildings/{building_id}", summary="Edit a building", dependencies=[permission("building.write")])
def edit(
    conn: Conn,
    settings: SettingsDep,
    who: Who,
    request_id: RequestId,
    building_id: BuildingId,
    body: BuildingUpdate,
    if_match: IfMatch,
    crs: Crs,
) -> JSONResponse:
    """Send only the fields to change with `If-Match: "<version>"`: stale → 409, missing → 428."""
    values = BuildingFields(**given_fields(body, crs, settings.limits.max_vertices))
    feature = update_building(conn, who, building_id, if_match, values, request_id, crs)
    return JSONResponse(feature, media_type=GEOJSON, headers=etag(feature["properties"]["version"]))
