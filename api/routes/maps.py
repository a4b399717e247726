"""GET /maps/{kind}.html: rendered maps (density, incidents, unassigned, overview), fully offline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import BandDep, Conn, SettingsDep, Who, reject_unknown_query, require_reader
from api.security_headers import allow
from gridmap.access.rules import jurisdiction_ids, require
from gridmap.points import parse_at
from gridmap.publish.basemap import basemap_origin, page_config
from gridmap.publish.maps.render import KINDS, MapOptions, render
from gridmap.settings import Settings

router = APIRouter(tags=["maps"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)])


config_router = APIRouter(tags=["maps"], dependencies=[Depends(reject_unknown_query)])


@config_router.get("/api/v1/map/config", summary="What a map page needs: base map, deepest zoom, time zone")
def map_config(settings: SettingsDep) -> dict:
    """`basemap` is null by default (offline: the project's own layers make the base) or `{url, type, datum,
    attribution}`: `type` raster ({z}/{x}/{y} images) or style (a MapLibre style JSON); `datum` wgs84 or
    gcj02 (AMap/Gaode, Tencent), in which case every overlay is to be shifted onto GCJ-02. `max_zoom` is
    the deepest zoom the pages allow; `timezone` the zone times are shown in."""
    return page_config(settings)


def allow_basemap(request: Request, settings: Settings) -> None:
    """Let the page of this response load its configured base map (images, and a style's JSON and tiles)."""
    origin = basemap_origin(settings.maps)
    if origin:
        allow(request, "img-src", origin)
        allow(request, "connect-src", origin)


@router.get("/maps/{kind}.html", response_class=HTMLResponse, summary="A rendered map of an area")
def map_page(
    request: Request,
    conn: Conn,
    who: Who,
    settings: SettingsDep,
    band: BandDep,
    kind: Annotated[str, Path(description=f"One of: {', '.join(KINDS)}.")],
    area: Annotated[str, Query(description="Code of a subdistrict, community or grid.")],
    since: Annotated[str | None, Query(description="Incidents received from this date/time.")] = None,
    until: Annotated[str | None, Query(description="…and before this one.")] = None,
    category: Annotated[str | None, Query(max_length=40, description="Incidents of one category.")] = None,
) -> HTMLResponse:
    """**density**: micro-grids by households (band colours) or households per km² (quintiles), switchable.
    **incidents**: incidents per micro-grid (count, per 100 households, overdue) and a heat layer, filtered by
    `since`, `until`, `category` (needs a role that reads incidents; only cases inside your jurisdiction
    are counted, on this map and on the overview). **unassigned**: gaps, overlaps,
    unassigned and split buildings, out-of-band micro-grids. **overview**: all of these as layers with
    boundaries and tooltips (code, name, households, party cell, worker). Every asset comes from this
    server (the Content-Security-Policy lets the page load nothing else but the configured base map, and
    run no script but its own, by hash); `X-Map-Features` and `X-Map-Bytes` report the size."""
    if kind == "incidents":
        require(who, "incident.read")
    options = MapOptions(
        since=parse_at(since, settings.timezone, "since"), until=parse_at(until, settings.timezone, "until"),
        category=category, band=band, assets="link", tiles_url=settings.maps.map_tiles_url,
        tiles_attribution=settings.maps.map_tiles_attribution, tiles_crs=settings.maps.map_tiles_crs,
        max_features=settings.maps.map_max_features, incidents=who.can("incident.read"),
        jurisdiction=jurisdiction_ids(who),
    )  # fmt: skip
    page = render(conn, kind, area, options)
    allow(request, "script-src", *page.script_sources)
    allow_basemap(request, settings)
    headers = {"X-Map-Features": str(page.features), "X-Map-Bytes": str(page.bytes),
               "Cache-Control": "private, max-age=60"}  # fmt: skip
    return HTMLResponse(page.html, headers=headers)
