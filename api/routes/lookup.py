"""GET/POST /api/v1/lookup: who owns this point (or these points)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import Lookups, SettingsDep, Who, crs_query, instant_query, reject_unknown_query, require_reader
from api.schemas.lookup import LayeredRecord, LookupRecord, PointIn
from gridmap.errors import InvalidInput
from gridmap.lookup import ALL_LAYERS, LookupOptions
from gridmap.points import point_to_wgs84

router = APIRouter(
    prefix="/api/v1", tags=["lookup"], dependencies=[Depends(reject_unknown_query), Depends(require_reader)]
)

Crs = crs_query("CRS of the input point(s): wgs84, gcj02 (AMap, WeChat) or bd09 (Baidu).")
At = instant_query("at", "ISO-8601 instant; answers with the areas valid then. Default now.")
Layer = Annotated[str, Query(description="Grid layer (多格合一); 'all' answers every layer.")]
Unit = Annotated[int | None, Query(ge=1, le=200, description="Stairwell unit (单元) in a split building.")]
Floor = Annotated[int | None, Query(ge=1, le=200, description="Floor in a building split by floor.")]

_EXAMPLE = {"application/json": {"example": {"match": "inside", "owner": {"level": "microgrid"}, "note": "…"}}}


async def _lookup_query(
    settings: SettingsDep,
    crs: Crs,
    at: At,
    layer: Layer = "comprehensive",
    unit: Unit = None,
    floor: Floor = None,
) -> tuple[str, LookupOptions]:
    options = LookupOptions(at=at, layer=layer, unit=unit, floor=floor, nearest_m=settings.lookup.nearest_m)
    return crs, options


# The query parameters GET and POST share: (crs, options).
LookupQuery = Annotated[tuple[str, LookupOptions], Depends(_lookup_query)]


def _json(content) -> Response:
    # orjson: a batch answer is megabytes of JSON, written several times faster than by the standard library.
    return Response(orjson.dumps(content), media_type="application/json")


def _with_point(record: dict, lon: float, lat: float, crs: str, wgs: tuple[float, float]) -> dict:
    return {"point": {"lon": lon, "lat": lat, "crs": crs, "wgs84": list(wgs)}, **record}


@router.get(
    "/lookup",
    summary="Owner chain of one point",
    response_model=LookupRecord | LayeredRecord,
    responses={200: {"content": _EXAMPLE}},
)
async def lookup_one(
    lookups: Lookups,
    who: Who,
    query: LookupQuery,
    lon: Annotated[float, Query(description="Longitude", examples=[114.0405])],
    lat: Annotated[float, Query(description="Latitude", examples=[22.6187])],
) -> Response:
    """Micro-grid, grid, community, subdistrict, party cell, building and the people to call.

    `match` is `inside`, `nearest` (within GRIDMAP_NEAREST_M, `distance_m` set) or `unassigned`
    (the enclosing grid/community/subdistrict is the fallback owner, `fallback: true`). On a shared
    edge or corner the micro-grid with the lowest code wins. Phones are shown only to callers allowed to see them."""
    crs, options = query
    wgs = point_to_wgs84(lon, lat, crs)
    # Answered in the event loop from the index; a point it cannot answer goes to SQL on a worker thread.
    records = lookups.answer_now(who, [wgs], options) or await run_in_threadpool(lookups.answer, who, [wgs], options)
    result = records[0]
    if options.layer == ALL_LAYERS:
        return _json({"layers": [_with_point(r, lon, lat, crs, wgs) for r in result]})
    return _json(_with_point(result, lon, lat, crs, wgs))


@router.post(
    "/lookup",
    summary="Owner chains of many points, in input order",
    response_model=list[LookupRecord] | list[LayeredRecord],
)
def lookup_many(
    lookups: Lookups,
    who: Who,
    settings: SettingsDep,
    query: LookupQuery,
    points: Annotated[list[PointIn], Body(examples=[[{"id": "a", "lon": 114.0405, "lat": 22.6187}]])],
) -> Response:
    """Up to GRIDMAP_LOOKUP_BATCH_MAX points (default 10,000), one `crs` for the batch, resolved set-wise
    (not a query per point). Each record echoes your `id`. One bad point refuses the whole batch (422 naming it)."""
    if len(points) > settings.limits.lookup_batch_max:
        raise InvalidInput(
            f"{len(points)} points is over the limit of {settings.limits.lookup_batch_max}; split the batch", "points"
        )
    crs, options = query
    wgs = [point_to_wgs84(p.lon, p.lat, crs, field=f"[{i}].") for i, p in enumerate(points)]
    results = lookups.answer(who, wgs, options)
    out = []
    for p, w, result in zip(points, wgs, results, strict=True):
        if options.layer == ALL_LAYERS:
            out.append({"id": p.id, "layers": [_with_point(r, p.lon, p.lat, crs, w) for r in result]})
        else:
            out.append({"id": p.id, **_with_point(result, p.lon, p.lat, crs, w)})
    return _json(out)
