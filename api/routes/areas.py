"""Areas as GeoJSON: /api/v1/areas, /areas/{id}, /areas/{id}/children, /code/{code}; and their writes
(create, edit, retire) under role, jurisdiction, If-Match and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from api.deps import (
    Conn,
    IfMatch,
    RequestId,
    SettingsDep,
    Who,
    crs_query,
    etag,
    idempotency_key,
    instant_query,
    paging_query,
    permission,
    reject_unknown_query,
    require_reader,
    written,
)
from api.paging import page_links
from api.schemas.areas import AreaCreate, AreaUpdate
from api.schemas.common import given_fields
from gridmap.areas.edit import AreaFields, create_area, retire_area, update_area
from gridmap.areas.hierarchy import (
    AreaFilter,
    area_id_by_code,
    children,
    get_area,
    list_areas,
    parse_bbox,
    resolve_area,
    versions_for,
)
from gridmap.settings import Settings

router = APIRouter(
    prefix="/api/v1", tags=["areas"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)]
)

Crs = crs_query("CRS of the output coordinates (and of bbox): wgs84, gcj02 or bd09.")
At = instant_query("at", "ISO-8601 instant: the versions valid then. Default now.")
Paged = paging_query(100, 1000, "Page size.", "Features to skip.")
IdempotencyKey = idempotency_key("Retry-safe create: the same key, one area.")
AreaId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Area id (stable across versions).")]

GEOJSON = "application/geo+json"


def _paged(request: Request, page: dict, paging) -> JSONResponse:
    """A page with OGC-style self/next/prev links."""

    def link(href: str, rel: str) -> dict:
        return {"rel": rel, "type": GEOJSON, "href": href}

    links = page_links(request.url.path, request.query_params, paging.offset, paging.limit, page["numberReturned"],
                       page["numberMatched"], link)  # fmt: skip
    return JSONResponse(page | {"links": links}, media_type=GEOJSON)


@router.get("/areas", summary="List areas (GeoJSON, paged)")
def areas(
    request: Request,
    conn: Conn,
    crs: Crs,
    at: At,
    paging: Paged,
    level: Annotated[str | None, Query(description="subdistrict, community, grid or microgrid")] = None,
    parent: Annotated[str | None, Query(description="Parent area id or code")] = None,
    code: Annotated[str | None, Query(description="Code or code prefix, e.g. 440309002005")] = None,
    layer: Annotated[str | None, Query(description="Grid layer")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat in crs")] = None,
) -> JSONResponse:
    """Areas valid at `at`, in code order, `limit` per page with `next`/`prev` links."""
    f = AreaFilter(
        level=level, parent=resolve_area(conn, parent, at), code=code, layer=layer, bbox=parse_bbox(bbox, crs)
    )
    return _paged(request, list_areas(conn, f, at, crs, paging.limit, paging.offset), paging)


@router.get("/areas/{area_id}", summary="One area as a GeoJSON Feature")
def area(conn: Conn, area_id: AreaId, crs: Crs, at: At) -> JSONResponse:
    """The version valid at `at` (default now); 404 when the area had none then. The `ETag` header
    holds its version, to send back as `If-Match` with an edit."""
    feature = get_area(conn, area_id, at, crs)
    return JSONResponse(feature, media_type=GEOJSON, headers=etag(feature["properties"]["version"]))


@router.get("/areas/{area_id}/versions", summary="Every version of an area (GeoJSON, newest first)")
def area_versions(conn: Conn, who: Who, area_id: AreaId, crs: Crs) -> JSONResponse:
    """The history of an area: each version's outline, names and validity. Who wrote each version
    (`by`, `action`, `draft`) is shown to planners inside their jurisdiction and to auditors."""
    return JSONResponse(versions_for(conn, who, area_id, crs), media_type=GEOJSON)


@router.get("/areas/{area_id}/children", summary="The areas one level below (GeoJSON, paged)")
def area_children(request: Request, conn: Conn, area_id: AreaId, crs: Crs, at: At, paging: Paged) -> JSONResponse:
    """Children valid at `at`, in code order."""
    return _paged(request, children(conn, area_id, at, crs, paging.limit, paging.offset), paging)


@router.get(
    "/code/{code}",
    summary="Redirect from an area code to the area",
    status_code=307,
    responses={307: {"description": "Location: /api/v1/areas/{id} (query string kept)"}},
)
def by_code(request: Request, conn: Conn, code: str, crs: Crs, at: At):
    """`/code/440309002005` → `/api/v1/areas/6`, keeping `crs` and `at`."""
    area_id = area_id_by_code(conn, code, at)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/api/v1/areas/{area_id}{query}", status_code=307)


def _fields(body: AreaCreate | AreaUpdate, crs: str, settings: Settings) -> AreaFields:
    return AreaFields(**given_fields(body, crs, settings.limits.max_vertices, exclude=frozenset({"level"})))


def _written(feature: dict, status: int = 200, replayed: bool = False) -> JSONResponse:
    location = f"/api/v1/areas/{feature['id']}" if status == 201 else None
    headers = written(feature["properties"]["version"], location, replayed)
    return JSONResponse(feature, status, media_type=GEOJSON, headers=headers)


@router.post(
    "/areas", status_code=201, summary="Create an area (admin, planner)", dependencies=[permission("area.write")]
)
def create(
    conn: Conn,
    settings: SettingsDep,
    who: Who,
    request_id: RequestId,
    body: AreaCreate,
    crs: Crs,
    once: IdempotencyKey,
) -> JSONResponse:
    """Version 1 of a new area under `parent` (inside your jurisdiction). Planners get the next free code;
    admins may give one. The geometry must lie within the parent and overlap no area of the same level
    and layer. With `Idempotency-Key`, sending the same request again returns the first answer."""
    values = _fields(body, crs, settings)

    def run() -> tuple[int, dict]:
        return 201, create_area(conn, who, body.level, values, request_id, crs)

    status, feature, replayed = once.run(run, "POST /areas", body.model_dump(mode="json"), crs)
    return _written(feature, status, replayed)


@router.patch("/areas/{area_id}", summary="Edit an area: its next version", dependencies=[permission("area.write")])
def edit(
    conn: Conn,
    settings: SettingsDep,
    who: Who,
    request_id: RequestId,
    area_id: AreaId,
    body: AreaUpdate,
    if_match: IfMatch,
    crs: Crs,
) -> JSONResponse:
    """Send only the fields to change, with `If-Match: "<version>"` from the last read: a stale version
    gets 409 with the current one, none gets 428. `code` and `parent` are for admins."""
    feature = update_area(conn, who, area_id, if_match, _fields(body, crs, settings), request_id, crs)
    return _written(feature)


@router.delete("/areas/{area_id}", status_code=204, summary="Retire an area", dependencies=[permission("area.write")])
def retire(conn: Conn, who: Who, request_id: RequestId, area_id: AreaId, if_match: IfMatch) -> Response:
    """Close the current version (history stays for `at=`). Refused while it has children or buildings."""
    retire_area(conn, who, area_id, if_match, request_id)
    return Response(status_code=204)
