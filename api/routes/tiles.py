"""GET /tiles/{layer}/{z}/{x}/{y}.mvt: vector tiles of the areas and buildings, with cache headers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api.deps import Conn, IfNoneMatch, Who, conditional, reject_unknown_query, require_reader
from gridmap.access.rules import case_jurisdiction
from gridmap.publish.tiles import LAYERS, MAX_ZOOM, tile

router = APIRouter(tags=["tiles"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)])

MVT = "application/vnd.mapbox-vector-tile"
# Boundaries change by planners' edits a few times a day: a minute of caching spares the database
# while panning, and the ETag makes revalidation cheap. Incident counts follow the caller's
# jurisdiction, so a signed-in caller's tiles may be kept by their own browser only.
CACHE = "public, max-age=60, stale-while-revalidate=300"
CACHE_SIGNED = "private, max-age=60, stale-while-revalidate=300"
Coord = Annotated[int, Path(ge=0, le=2**MAX_ZOOM - 1)]


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    summary="A Mapbox Vector Tile of one layer",
    responses={200: {"content": {MVT: {}}, "description": "The tile (empty when nothing is there)."}},
)
def get_tile(
    conn: Conn,
    who: Who,
    layer: Annotated[str, Path(description=f"One of: {', '.join(LAYERS)}.")],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Coord,
    y: Coord,
    grid_layer: Annotated[str, Query(alias="layer", description="Grid layer of the areas.")] = "comprehensive",
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Web Mercator XYZ tiles from `ST_AsMVT`. Area layers carry `code`, `name`, `kind`, `version`,
    `households`, `microgrids`, `incidents` and `open_incidents`; `buildings` carries `code`, `name`,
    `households`, `floors` and `microgrid`. Each layer starts at a zoom (subdistricts 0, communities 6,
    grids 10, micro-grids 13, buildings 14); below it tiles are empty. Incident counts are those the
    caller may see: zero without a role that reads incidents, else only cases inside its jurisdiction.
    Answers carry an ETag: `If-None-Match` gets 304 when the tile has not changed."""
    data = tile(conn, layer, z, x, y, grid_layer, case_jurisdiction(who))
    headers = {"Cache-Control": CACHE if who.anonymous else CACHE_SIGNED, "Vary": "Authorization, Cookie"}
    return conditional(data, if_none_match, headers, MVT)
