"""Feature collections for GIS clients (the core of the OGC API – Features endpoint): the four area
levels, buildings and incidents, each paged, filtered by bounding box and time, in WGS-84 (CRS84).

The area and building collections carry the columns ``gridmap import`` reads (``gridmap.areas.levels.COLUMNS``:
code, name, parent, kind, layer; code, name, compound, type, households, floors, units, microgrid) under those
names and in the form ``gridmap export`` writes them, so what a GIS client saves (``ogr2ogr … OAPIF:…/ogc``)
imports back unchanged; the other properties (id, level, version, valid_from, …) the import ignores.

The web layer adds the OGC links and media types; this module knows nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql as pgsql

from gridmap import geojson, sql
from gridmap.access.rules import Principal, case_jurisdiction
from gridmap.areas import membership
from gridmap.areas.hierarchy import AreaFilter, get_area, list_areas
from gridmap.areas.hierarchy import parse_bbox as parse_area_bbox
from gridmap.errors import InvalidInput, NotFound
from gridmap.points import parse_at

# Pages larger than this are cut to it (OGC API – Features lets a server lower the client's limit).
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Collection:
    """One collection: its id, titles and the area level it lists (None for buildings and incidents)."""

    id: str
    title: str
    description: str
    level: str | None = None
    permission: str = "read"


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection("subdistricts", "Subdistricts 街道", "Subdistricts (街道/乡镇), current versions.", "subdistrict"),
    Collection("communities", "Communities 社区", "Communities (社区/村), current versions.", "community"),
    Collection("grids", "Grids 网格", "Grids (网格) of every layer, comprehensive and specialised.", "grid"),
    Collection("microgrids", "Micro-grids 微网格", "Micro-grids (微网格) of 30–50 households, with households.",
               "microgrid"),
    Collection("buildings", "Buildings 楼栋", "Buildings in the columns `gridmap import buildings` reads: code, "
               "name, compound, type, households, floors, units and microgrid (every micro-grid holding it, with "
               "the units/floors and households of each part, as `gridmap export buildings` writes it)."),
    Collection("incidents", "Incidents 事件", "Citizen incidents with category, state and the area they were "
               "routed to (no reporter details).", permission="incident.read"),
)}  # fmt: skip


@dataclass(frozen=True)
class When:
    """A ``datetime`` filter: an instant (start == end) or an interval with open ends as None."""

    start: datetime | None
    end: datetime | None

    @property
    def instant(self) -> bool:
        return self.start is not None and self.start == self.end


def parse_when(text: str | None, timezone: str) -> When | None:
    """OGC ``datetime``: ``2026-05-01T08:00:00Z`` (an instant), ``a/b``, ``../b`` or ``a/..`` (intervals)."""
    if not text:
        return None
    if "/" not in text:
        at = parse_at(text, timezone, "datetime")
        return When(at, at)
    left, _, right = text.partition("/")
    start = None if left in ("", "..") else parse_at(left, timezone, "datetime")
    end = None if right in ("", "..") else parse_at(right, timezone, "datetime")
    if start and end and start > end:
        raise InvalidInput("datetime: the interval must start before it ends", "datetime")
    return When(start, end)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """OGC ``bbox``: four (or six, heights dropped) CRS84 numbers, west,south,east,north; checked like
    every other bbox of the API (``gridmap.areas.hierarchy.parse_bbox``)."""
    if not text:
        return None
    values = text.split(",")
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    return parse_area_bbox(",".join(values), "wgs84")


def collection(who: Principal, collection_id: str) -> Collection:
    """The collection, or NotFound (also for one the caller may not read, which is then not listed)."""
    found = COLLECTIONS.get(collection_id)
    if found is None or (found.permission != "read" and not who.can(found.permission)):
        raise NotFound(f"no collection {collection_id!r}")
    return found


def visible_collections(who: Principal) -> list[Collection]:
    """The collections the caller may read, in a fixed order."""
    return [c for c in COLLECTIONS.values() if c.permission == "read" or who.can(c.permission)]


def extent(conn: psycopg.Connection, c: Collection) -> list[float] | None:
    """The bounding box (CRS84) of what the collection holds now, or None when it is empty."""
    if c.level:
        rows = pgsql.SQL("SELECT ST_Extent(geom) FROM area WHERE level = %(level)s AND valid_to IS NULL")
    else:
        table = "building" if c.id == "buildings" else "incident"
        rows = pgsql.SQL("SELECT ST_Extent(geom) FROM {}").format(pgsql.Identifier(table))
    query = pgsql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ({}) x(e)").format(rows)
    row = conn.execute(query, {"level": c.level}).fetchone()
    return [round(v, 7) for v in row] if row and row[0] is not None else None


def items(
    conn: psycopg.Connection,
    who: Principal,
    c: Collection,
    bbox: tuple[float, float, float, float] | None,
    when: When | None,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    """One page of features (GeoJSON, CRS84) and how many match in all."""
    limit = min(limit, MAX_LIMIT)
    if c.level:
        if when is not None and not when.instant:
            raise InvalidInput("datetime: areas take an instant (the versions valid then), not an interval", "datetime")
        page = list_areas(conn, AreaFilter(level=c.level, bbox=bbox), when.start if when else None, "wgs84", limit,
                          offset)  # fmt: skip
        return [_area_feature(f) for f in page["features"]], page["numberMatched"] or 0
    if c.id == "buildings":
        if when is not None:
            raise InvalidInput("datetime: buildings are not versioned in time", "datetime")
        return _page(conn, "features_buildings", {"bbox": list(bbox) if bbox else None, "limit": limit,
                                                  "offset": offset})  # fmt: skip
    params = {"bbox": list(bbox) if bbox else None, "limit": limit, "offset": offset, "scope": case_jurisdiction(who),
              "start": when.start if when else None, "end": when.end if when else None}  # fmt: skip
    return _page(conn, "features_incidents", params)


def item(conn: psycopg.Connection, who: Principal, c: Collection, feature_id: str) -> dict:
    """One feature by id, or NotFound."""
    if not feature_id.isdigit() or len(feature_id) > 18:
        raise NotFound(f"no feature {feature_id!r} in {c.id}")
    if c.level:
        feature = _area_feature(get_area(conn, int(feature_id)))
        if feature["properties"]["level"] != c.level:
            raise NotFound(f"no feature {feature_id!r} in {c.id}")
        return feature
    query = "features_buildings" if c.id == "buildings" else "features_incidents"
    features, _ = _page(conn, query, {"bbox": None, "limit": 1, "offset": 0, "scope": case_jurisdiction(who),
                                      "id": int(feature_id)})  # fmt: skip
    if not features:
        raise NotFound(f"no feature {feature_id!r} in {c.id}")
    return features[0]


def _area_feature(feature: dict) -> dict:
    """An area Feature with flat properties (GIS clients show nested objects as text)."""
    p = dict(feature["properties"])
    parent = p.pop("parent", None)
    p["parent"] = parent["code"] if parent else None
    return geojson.feature(feature["geometry"], p, id=feature["id"])


def _page(conn: psycopg.Connection, query: str, params: dict) -> tuple[list[dict], int]:
    params = {"id": None, "scope": None, "start": None, "end": None} | params
    rows = conn.execute(sql.load(query), params).fetchall()
    matched = rows[0][-1] if rows else 0
    found = geojson.from_rows(rows)
    if query == "features_buildings":
        # The import's ``microgrid`` column from the memberships (third column), written by the one formatter.
        for f, row in zip(found, rows, strict=True):
            f["properties"]["microgrid"] = membership.format_members(row[2], f["properties"]["households"])
    return found, matched
