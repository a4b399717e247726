"""GET /api/v1/coverage: gaps, overlaps and unassigned buildings of an area as GeoJSON findings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import BandDep, Conn, crs_query, reject_unknown_query, require_reader
from gridmap.partition.coverage import Tolerances, check, to_geojson

Crs = crs_query("CRS of the output coordinates: wgs84, gcj02 or bd09.")

router = APIRouter(
    prefix="/api/v1", tags=["coverage"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)]
)


@router.get("/coverage", summary="Coverage findings (gaps, overlaps, unassigned buildings …) of an area")
def coverage(
    conn: Conn,
    band: BandDep,
    crs: Crs,
    area: Annotated[str | None, Query(description="Code of a subdistrict, community or grid; none: the city.")] = None,
    gap_m2: Annotated[float, Query(ge=0, le=1e6, description="Report gaps and overlaps above this (m²).")] = 1.0,
) -> JSONResponse:
    """A FeatureCollection with one Feature per finding: `problem` (gap, overlap, outside_parent,
    building_unassigned, building_twice, building_elsewhere, building_split, no_community, out_of_band,
    no_community, no_party_cell, no_people), `severity` (error breaks full coverage, warning is planners' work),
    `message`, `codes` and figures (`area_m2`, `households`). `summary` counts each problem;
    `summary.ok` is true when there is no error."""
    report = check(conn, area or None, band, Tolerances(gap_m2=gap_m2, overlap_m2=gap_m2))
    return JSONResponse(to_geojson(report, crs), media_type="application/geo+json")
