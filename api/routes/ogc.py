"""A read-only OGC API – Features (Part 1: Core, GeoJSON, OpenAPI 3.0) at /ogc, so QGIS and other GIS
clients open the area levels, buildings and incidents directly. Bad parameters get 400 here, as the
standard requires."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import Conn, SettingsDep, Who, paging_query, reject_unknown_query, require_reader
from api.paging import page_links
from gridmap import geojson
from gridmap.errors import InvalidInput
from gridmap.publish import features

router = APIRouter(prefix="/ogc", tags=["ogc"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)])

GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
Format = Annotated[str | None, Query(description="Output format: json (the only one).")]
CollectionId = Annotated[str, Path(description="subdistricts, communities, grids, microgrids, buildings, incidents")]
Paged = paging_query(10, 10_000, f"Page size (cut to {features.MAX_LIMIT}).", "Features to skip.")
TITLES = {"next": "Next page", "prev": "Previous page"}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _check_format(f: str | None) -> None:
    if f not in (None, "json", "geojson"):
        raise InvalidInput(f"f must be json; got {f!r}", "f")


def _link(href: str, rel: str, type_: str = "application/json", title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


@router.get("", summary="OGC API – Features landing page")
@router.get("/", include_in_schema=False)
def landing(request: Request, f: Format = None) -> JSONResponse:
    """Title, description and links to the API definition, conformance and the collections."""
    _check_format(f)
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return JSONResponse({
        "title": "gridmap",
        "description": "Subdistricts, communities, grids, micro-grids, buildings and incidents (网格化管理).",
        "links": [
            _link(base, "self", title="This document"),
            _link(f"{root}/openapi.json", "service-desc", OPENAPI, "API definition"),
            _link(f"{root}/docs", "service-doc", "text/html", "API documentation"),
            _link(f"{base}/conformance", "conformance", title="Conformance classes"),
            _link(f"{base}/collections", "data", title="Collections"),
        ],
    })  # fmt: skip


@router.get("/conformance", summary="Conformance classes")
def conformance(f: Format = None) -> JSONResponse:
    """The conformance classes implemented: Core, GeoJSON, OpenAPI 3.0."""
    _check_format(f)
    return JSONResponse({"conformsTo": CONFORMANCE})


def _collection_doc(conn, request: Request, c: features.Collection) -> dict:
    base = _base(request)
    bbox = features.extent(conn, c)
    doc = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(f"{base}/collections/{c.id}", "self", title=c.title),
            _link(f"{base}/collections/{c.id}/items", "items", GEOJSON, f"{c.title}: features"),
        ],
    }
    if bbox:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return doc


@router.get("/collections", summary="The feature collections")
def collections(conn: Conn, who: Who, request: Request, f: Format = None) -> JSONResponse:
    """Every collection the caller may read (incidents need a signed-in role that reads cases)."""
    _check_format(f)
    docs = [_collection_doc(conn, request, c) for c in features.visible_collections(who)]
    base = _base(request)
    return JSONResponse({"links": [_link(f"{base}/collections", "self")], "collections": docs})


@router.get("/collections/{collection_id}", summary="One feature collection")
def collection(conn: Conn, who: Who, request: Request, collection_id: CollectionId, f: Format = None) -> JSONResponse:
    """The collection's description, extent and links."""
    _check_format(f)
    return JSONResponse(_collection_doc(conn, request, features.collection(who, collection_id)))


@router.get("/collections/{collection_id}/items", summary="Features of a collection")
def items(
    conn: Conn,
    who: Who,
    request: Request,
    settings: SettingsDep,
    collection_id: CollectionId,
    paging: Paged,
    bbox: Annotated[str | None, Query(description="west,south,east,north in CRS84.")] = None,
    datetime_: Annotated[
        str | None,
        Query(alias="datetime", description="An instant, or for incidents an interval a/b with .. for an open end."),
    ] = None,  # fmt: skip
    f: Format = None,
) -> JSONResponse:
    """A page of features (`application/geo+json`) with `numberMatched`, `numberReturned` and `next`/`prev`
    links. Areas are the current versions, or those valid at an instant `datetime`."""
    _check_format(f)
    c = features.collection(who, collection_id)
    box = features.parse_bbox(bbox)
    when = features.parse_when(datetime_, settings.timezone)
    found, matched = features.items(conn, who, c, box, when, paging.limit, paging.offset)
    query = {k: v for k, v in {"bbox": bbox, "datetime": datetime_}.items() if v}

    def link(href: str, rel: str) -> dict:
        return _link(href, rel, GEOJSON, TITLES.get(rel))

    base = f"{_base(request)}/collections/{c.id}"
    page = min(paging.limit, features.MAX_LIMIT)
    links = page_links(f"{base}/items", query, paging.offset, page, len(found), matched, link, limit_first=True)
    links.insert(1, _link(base, "collection"))  # right after self
    body = geojson.collection(
        found,
        numberMatched=matched,
        numberReturned=len(found),
        timeStamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        links=links,
    )
    return JSONResponse(body, media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
def item(conn: Conn, who: Who, request: Request, collection_id: CollectionId, feature_id: str,
         f: Format = None) -> JSONResponse:  # fmt: skip
    """One feature by its id, with links to itself and its collection."""
    _check_format(f)
    c = features.collection(who, collection_id)
    feature = features.item(conn, who, c, feature_id)
    base = f"{_base(request)}/collections/{c.id}"
    feature["links"] = [_link(f"{base}/items/{feature_id}", "self", GEOJSON), _link(base, "collection")]
    return JSONResponse(feature, media_type=GEOJSON)
