"""Areas as GeoJSON Features: one by id or code, lists with filters and pages, children.

Every read takes ``at`` (the versions valid at that instant, default now) and ``crs`` for the
output coordinates (wgs84, gcj02 or bd09)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import psycopg

from gridmap import geojson, sql
from gridmap.areas.levels import AREA_LEVEL_ORDER
from gridmap.errors import InvalidInput, NotFound
from gridmap.points import point_to_wgs84

MAX_PAGE = 1000
_CODE = re.compile(r"^[0-9]{9}([0-9]{3}){0,3}$")


@dataclass(frozen=True)
class AreaFilter:
    """Which areas to list; None skips a filter. ``code`` is a prefix, ``parent`` an id."""

    level: str | None = None
    parent: int | None = None
    code: str | None = None
    layer: str | None = None
    bbox: tuple[float, float, float, float] | None = None


def parse_bbox(text: str | None, crs: str) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in ``crs`` → a WGS-84 box (None when not given)."""
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise InvalidInput("bbox must be minlon,minlat,maxlon,maxlat (four numbers)", "bbox")
    x0, y0 = point_to_wgs84(values[0], values[1], crs, field="bbox.min")
    x1, y1 = point_to_wgs84(values[2], values[3], crs, field="bbox.max")
    if x0 > x1 or y0 > y1:
        raise InvalidInput("bbox must give the south-west corner first: minlon,minlat,maxlon,maxlat", "bbox")
    return x0, y0, x1, y1


def check_filter(f: AreaFilter) -> None:
    """Raise InvalidInput for an unknown level or a code that cannot be an area code prefix."""
    if f.level is not None and f.level not in AREA_LEVEL_ORDER:
        raise InvalidInput(f"level must be one of {', '.join(AREA_LEVEL_ORDER)}; got {f.level!r}", "level")
    if f.code is not None and not re.fullmatch(r"[0-9]{1,18}", f.code):
        raise InvalidInput(f"code must be digits (a code or its prefix); got {f.code!r}", "code")


def resolve_area(
    conn: psycopg.Connection, text: str | None, at: datetime | None = None, field: str = "parent"
) -> int | None:
    """An area id, or an area code (9/12/15/18 digits) held at ``at`` turned into its id; None when not given."""
    if text is None or text == "":
        return None
    if _CODE.fullmatch(text):
        return area_id_by_code(conn, text, at)
    if text.isdigit() and len(text) < 9:
        return int(text)
    raise InvalidInput(f"{field} must be an area id or code; got {text!r}", field)


def _missing(what: str, at: datetime | None) -> NotFound:
    return NotFound(what + (f" at {at.isoformat()}" if at else ""))


def _query(conn, at, crs, limit, offset, id_=None, f: AreaFilter = AreaFilter()) -> tuple[list[dict], int]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}; got {limit}", "limit")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more; got {offset}", "offset")
    params = {
        "at": at, "id": id_, "level": f.level, "parent": f.parent, "code": f.code, "layer": f.layer,
        "bbox": list(f.bbox) if f.bbox else None, "limit": limit, "offset": offset,
    }  # fmt: skip
    rows = conn.execute(sql.load("area_features"), params).fetchall()
    matched = rows[0][2] if rows else 0
    return geojson.from_rows(rows, crs), matched


def get_area(conn: psycopg.Connection, area_id: int, at: datetime | None = None, crs: str = "wgs84") -> dict:
    """The version of area ``area_id`` valid at ``at`` as a GeoJSON Feature, or NotFound."""
    features, _ = _query(conn, at, crs, 1, 0, id_=area_id)
    if not features:
        raise _missing(f"area {area_id} has no version", at)
    return features[0]


def area_id_by_code(conn: psycopg.Connection, code: str, at: datetime | None = None) -> int:
    """The id of the area that held ``code`` at ``at`` (default now), or NotFound."""
    if not _CODE.fullmatch(code):
        raise InvalidInput(f"{code!r} is not an area code (9, 12, 15 or 18 digits)", "code")
    row = conn.execute(
        "SELECT id FROM area"
        " WHERE code = %(code)s AND valid_at(valid_from, valid_to, coalesce(%(at)s::timestamptz, now()))",
        {"code": code, "at": at},
    ).fetchone()
    if row is None:
        raise _missing(f"no area has code {code}", at)
    return row[0]


def list_areas(
    conn: psycopg.Connection,
    f: AreaFilter,
    at: datetime | None = None,
    crs: str = "wgs84",
    limit: int = 100,
    offset: int = 0,
) -> dict:
    """One page of areas as a GeoJSON FeatureCollection with ``numberMatched``/``numberReturned``."""
    check_filter(f)
    features, matched = _query(conn, at, crs, limit, offset, f=f)
    return geojson.collection(
        features, numberMatched=matched if features or offset == 0 else None, numberReturned=len(features)
    )


def children(conn: psycopg.Connection, area_id: int, at=None, crs="wgs84", limit=100, offset=0) -> dict:
    """The areas whose parent is ``area_id`` (at ``at``), as a page like ``list_areas``."""
    known = conn.execute(
        "SELECT 1 FROM area WHERE id = %(id)s AND valid_at(valid_from, valid_to, coalesce(%(at)s::timestamptz, now()))",
        {"id": area_id, "at": at},
    ).fetchone()
    if known is None:  # 404 for an unknown parent, rather than an empty list
        raise _missing(f"area {area_id} has no version", at)
    return list_areas(conn, AreaFilter(parent=area_id), at, crs, limit, offset)


def versions(conn: psycopg.Connection, area_id: int, crs: str = "wgs84") -> dict:
    """Every version of an area, newest first, as a GeoJSON FeatureCollection in ``crs``: version, code,
    name, kind, layer, valid_from, valid_to, who wrote it and how (``by``, ``action``, ``draft``), and
    the area's ``path`` (its id and ancestors, for jurisdiction checks). NotFound for an area that never
    existed."""
    rows = conn.execute(sql.load("area_versions"), {"id": area_id}).fetchall()
    if not rows:
        raise NotFound(f"area {area_id} does not exist")
    features = []
    for version, code, name, kind, layer, valid_from, valid_to, wkb, actor, action, detail, _ in rows:
        props = {"id": area_id, "version": version, "code": code, "name": name, "kind": kind, "layer": layer,
                 "valid_from": valid_from.isoformat(),
                 "valid_to": valid_to.isoformat() if valid_to else None}  # fmt: skip
        props |= {"by": actor, "action": action, "draft": (detail or {}).get("draft")}
        features.append(geojson.feature(wkb, props, id=area_id, crs=crs))
    return geojson.collection(features, path=rows[0][11])


def versions_for(conn: psycopg.Connection, who, area_id: int, crs: str = "wgs84") -> dict:
    """``versions`` as the caller ``who`` (an ``access.rules.Principal``) may see them, without ``path``:
    who wrote each version and how (``by``, ``action``, ``draft``) only for auditors and for planners
    whose jurisdiction holds the area."""
    from gridmap.access.rules import in_jurisdiction

    history = versions(conn, area_id, crs)
    path = history.pop("path")
    if not (who.can("audit.read") or (who.can("area.write") and in_jurisdiction(who, path))):
        for feature in history["features"]:
            for key in ("by", "action", "draft"):
                feature["properties"].pop(key)
    return history
