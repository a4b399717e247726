"""GET /maps/{kind}.html: rendered maps (density, incidents, unassigned, overview), fully offline."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from api.deps import BandDep, Conn, SettingsDep, Who, reject_unknown_query, require_reader
from gridmap.access import require
from gridmap.maps.render import KINDS, MapOptions, render
from gridmap.points import parse_at

router = APIRouter(tags=["maps"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)])


def _policy(tiles_url: str | None) -> str:
    """A Content-Security-Policy that lets the page load nothing but this server (and the configured
    base map's host): the browser itself enforces that maps stay offline."""
    images = "'self' data: blob:"
    if tiles_url:
        parts = urlsplit(tiles_url)
        images += f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"  # {s}.tile.example → *.tile.example
    return (f"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; connect-src 'self'")  # fmt: skip


@router.get("/maps/{kind}.html", response_class=HTMLResponse, summary="A rendered map of an area")
def map_page(
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
    `since`, `until`, `category` (needs a role that reads incidents). **unassigned**: gaps, overlaps,
    unassigned and split buildings, out-of-band micro-grids. **overview**: all of these as layers with
    boundaries and tooltips (code, name, households, party cell, worker). Every asset comes from this
    server; `X-Map-Features` and `X-Map-Bytes` report the size."""
    if kind == "incidents":
        require(who, "incident.read")
    options = MapOptions(
        since=parse_at(since, settings.timezone, "since"), until=parse_at(until, settings.timezone, "until"),
        category=category, band=band, assets="link", tiles_url=settings.map_tiles_url,
        tiles_attribution=settings.map_tiles_attribution, tiles_crs=settings.map_tiles_crs,
        max_features=settings.map_max_features, incidents=who.can("incident.read"),
    )  # fmt: skip
    page = render(conn, kind, area, options)
    headers = {"X-Map-Features": str(page.features), "X-Map-Bytes": str(page.bytes),
               "Content-Security-Policy": _policy(settings.map_tiles_url), "Cache-Control": "private, max-age=60"}
    return HTMLResponse(page.html, headers=headers)
