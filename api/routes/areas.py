"""Areas as GeoJSON: /api/v1/areas, /areas/{id}, /areas/{id}/children, /code/{code}; and their writes
(create, edit, retire) under role, jurisdiction, If-Match and the audit log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from api.deps import (
    Conn,
    IfMatch,
    RequestId,
    SettingsDep,
    Who,
    etag,
    permission,
    reject_unknown_query,
    require_reader,
    written,
)
from api.schemas.areas import AreaCreate, AreaUpdate
from api.schemas.common import given_fields
from gridmap.access.rules import in_jurisdiction
from gridmap.areas.edit import AreaFields, create_area, retire_area, update_area
from gridmap.areas.hierarchy import (
    AreaFilter,
    area_id_by_code,
    children,
    get_area,
    list_areas,
    parse_bbox,
    resolve_area,
    versions,
)
from gridmap.db.idempotency import fingerprint, run_once
from gridmap.points import check_crs, parse_at
from gridmap.settings import Settings

router = APIRouter(
    prefix="/api/v1", tags=["areas"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)]
)

Crs = Annotated[str, Query(description="CRS of the output coordinates (and of bbox): wgs84, gcj02 or bd09.")]
At = Annotated[str | None, Query(description="ISO-8601 instant: the versions valid then. Default now.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Features to skip.")]
AreaId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Area id (stable across versions).")]

GEOJSON = "application/geo+json"


def _page_links(request: Request, page: dict, limit: int, offset: int) -> dict:
    """Add OGC-style self/next/prev links."""

    def href(new_offset: int) -> str:
        query = dict(request.query_params) | {"offset": str(new_offset), "limit": str(limit)}
        return f"{request.url.path}?{urlencode(query)}"

    links = [{"rel": "self", "type": GEOJSON, "href": href(offset)}]
    matched = page["numberMatched"]
    if matched is not None and offset + page["numberReturned"] < matched:
        links.append({"rel": "next", "type": GEOJSON, "href": href(offset + limit)})
    if offset > 0:
        links.append({"rel": "prev", "type": GEOJSON, "href": href(max(offset - limit, 0))})
    return page | {"links": links}


@router.get("/areas", summary="List areas (GeoJSON, paged)")
def areas(
    request: Request,
    conn: Conn,
    settings: SettingsDep,
    level: Annotated[str | None, Query(description="subdistrict, community, grid or microgrid")] = None,
    parent: Annotated[str | None, Query(description="Parent area id or code")] = None,
    code: Annotated[str | None, Query(description="Code or code prefix, e.g. 440309002005")] = None,
    layer: Annotated[str | None, Query(description="Grid layer")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat in crs")] = None,
    crs: Crs = "wgs84",
    at: At = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    """Areas valid at `at`, in code order, `limit` per page with `next`/`prev` links."""
    crs, when = check_crs(crs), parse_at(at, settings.timezone)
    f = AreaFilter(
        level=level, parent=resolve_area(conn, parent, when), code=code, layer=layer, bbox=parse_bbox(bbox, crs)
    )
    page = list_areas(conn, f, when, crs, limit, offset)
    return JSONResponse(_page_links(request, page, limit, offset), media_type=GEOJSON)


@router.get("/areas/{area_id}", summary="One area as a GeoJSON Feature")
def area(conn: Conn, settings: SettingsDep, area_id: AreaId, crs: Crs = "wgs84", at: At = None) -> JSONResponse:
    """The version valid at `at` (default now); 404 when the area had none then. The `ETag` header
    holds its version, to send back as `If-Match` with an edit."""
    feature = get_area(conn, area_id, parse_at(at, settings.timezone), check_crs(crs))
    return JSONResponse(feature, media_type=GEOJSON, headers=etag(feature["properties"]["version"]))


@router.get("/areas/{area_id}/versions", summary="Every version of an area (GeoJSON, newest first)")
def area_versions(conn: Conn, who: Who, area_id: AreaId, crs: Crs = "wgs84") -> JSONResponse:
    """The history of an area: each version's outline, names and validity. Who wrote each version
    (`by`, `action`, `draft`) is shown to planners inside their jurisdiction and to auditors."""
    history = versions(conn, area_id, check_crs(crs))
    path = history.pop("path")
    if not (who.can("audit.read") or (who.can("area.write") and in_jurisdiction(who, path))):
        for feature in history["features"]:
            for key in ("by", "action", "draft"):
                feature["properties"].pop(key)
    return JSONResponse(history, media_type=GEOJSON)


@router.get("/areas/{area_id}/children", summary="The areas one level below (GeoJSON, paged)")
def area_children(
    request: Request,
    conn: Conn,
    settings: SettingsDep,
    area_id: AreaId,
    crs: Crs = "wgs84",
    at: At = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    """Children valid at `at`, in code order."""
    page = children(conn, area_id, parse_at(at, settings.timezone), check_crs(crs), limit, offset)
    return JSONResponse(_page_links(request, page, limit, offset), media_type=GEOJSON)


@router.get(
    "/code/{code}",
    summary="Redirect from an area code to the area",
    status_code=307,
    responses={307: {"description": "Location: /api/v1/areas/{id} (query string kept)"}},
)
def by_code(request: Request, conn: Conn, settings: SettingsDep, code: str, crs: Crs = "wgs84", at: At = None):
    """`/code/440309002005` → `/api/v1/areas/6`, keeping `crs` and `at`."""
    check_crs(crs)
    area_id = area_id_by_code(conn, code, parse_at(at, settings.timezone))
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
    crs: Crs = "wgs84",
    idempotency_key: Annotated[str | None, Header(description="Retry-safe create: the same key, one area.")] = None,
) -> JSONResponse:
    """Version 1 of a new area under `parent` (inside your jurisdiction). Planners get the next free code;
    admins may give one. The geometry must lie within the parent and overlap no area of the same level
    and layer. With `Idempotency-Key`, sending the same request again returns the first answer."""
    crs = check_crs(crs)
    values = _fields(body, crs, settings)

    def run() -> tuple[int, dict]:
        return 201, create_area(conn, who, body.level, values, request_id, crs)

    if idempotency_key is None:
        return _written(run()[1], 201)
    request = fingerprint("POST /areas", body.model_dump(mode="json"), crs)
    status, feature, replayed = run_once(conn, f"{who.kind}:{who.name}", idempotency_key, request, run)
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
    crs: Crs = "wgs84",
) -> JSONResponse:
    """Send only the fields to change, with `If-Match: "<version>"` from the last read: a stale version
    gets 409 with the current one, none gets 428. `code` and `parent` are for admins."""
    crs = check_crs(crs)
    feature = update_area(conn, who, area_id, if_match, _fields(body, crs, settings), request_id, crs)
    return _written(feature)


@router.delete("/areas/{area_id}", status_code=204, summary="Retire an area", dependencies=[permission("area.write")])
def retire(conn: Conn, who: Who, request_id: RequestId, area_id: AreaId, if_match: IfMatch) -> Response:
    """Close the current version (history stays for `at=`). Refused while it has children or buildings."""
    retire_area(conn, who, area_id, if_match, request_id)
    return Response(status_code=204)
