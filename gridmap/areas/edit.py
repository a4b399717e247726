"""Create, edit and retire areas through the write API, under the caller's role and jurisdiction.

Every write is optimistic: it names the version it was based on and fails with VersionConflict when
that is no longer current, or PreconditionRequired when it names none. An edit never changes a stored
version: it closes the current one and inserts the next, so lookups at an earlier instant and
incidents routed earlier keep their answer. Each write and its audit entry commit together."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
import shapely
from psycopg.types.json import Jsonb

from gridmap import fields, sql
from gridmap.access import audit
from gridmap.access.rules import Principal, check_jurisdiction, refuse_fields, require
from gridmap.areas import rules
from gridmap.areas.codes import child_code
from gridmap.areas.hierarchy import get_area, resolve_area
from gridmap.areas.levels import CODE_DIGITS, CODE_PATTERN, DEFAULT_LAYER, KINDS, LAYER_PATTERN, PARENT_LEVEL
from gridmap.concurrency import check_version
from gridmap.db.locks import lock_children, lock_for_edit
from gridmap.errors import InvalidInput, NotFound

# Fields only some roles may set (mass assignment): moving an area or renumbering it is an admin's job.
FIELD_PERMISSIONS = {"code": "area.set_code", "parent": "area.set_parent"}


@dataclass(frozen=True)
class AreaFields:
    """What a create or an edit sets; None leaves a field as it is (or at its default on create).
    ``geometry`` is WGS-84; ``parent`` is an area id or code."""

    name: str | None = None
    kind: str | None = None
    layer: str | None = None
    geometry: shapely.MultiPolygon | None = None
    attrs: dict | None = None
    code: str | None = None
    parent: str | None = None

    def given(self) -> dict[str, object]:
        """The fields that were set."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class _Current:
    id: int
    version: int
    level: str
    code: str
    parent_id: int | None
    name: str
    kind: str
    layer: str
    attrs: dict
    wkb: bytes
    path: list[int] = field(default_factory=list)


def _current(conn: psycopg.Connection, who: Principal, area_id: int) -> _Current:
    """Lock the area's identity (so concurrent writers queue) and read its current version."""
    lock_for_edit(conn)
    if conn.execute("SELECT 1 FROM area_identity WHERE id = %s FOR UPDATE", (area_id,)).fetchone() is None:
        raise NotFound(f"area {area_id} does not exist")
    row = conn.execute(
        "SELECT id, version, level, code, parent_id, name, kind, layer, attrs, ST_AsBinary(geom), area_path(id)"
        " FROM area WHERE id = %s AND valid_to IS NULL",
        (area_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"area {area_id} does not exist")
    current = _Current(*row[:10], path=row[10])
    check_jurisdiction(who, current.path, f"area {area_id}")
    return current


def _checked(values: AreaFields, level: str) -> AreaFields:
    name = values.name
    if name is not None:
        name = fields.checked("name", fields.text, name, "name", required=True)
    kind = fields.checked("kind", fields.choice, values.kind, "kind", KINDS) if values.kind is not None else None
    if values.layer is not None and not LAYER_PATTERN.fullmatch(values.layer):
        raise InvalidInput("layer must be lower-case letters, digits and _ (e.g. public_security)", "layer")
    if values.code is not None and not CODE_PATTERN[level].fullmatch(values.code):
        raise InvalidInput(f"a {level} code has {CODE_DIGITS[level]} digits; got {values.code!r}", "code")
    attrs = fields.checked("attrs", fields.attrs, values.attrs) if values.attrs is not None else None
    return AreaFields(name, kind, values.layer, values.geometry, attrs, values.code, values.parent)


def area_in_jurisdiction(
    conn: psycopg.Connection, who: Principal, area: str, field: str = "area"
) -> tuple[int, str, str, tuple[int, ...]]:
    """The current area ``area`` (id or code) as (id, code, level, path of ids up to the subdistrict);
    NotFound when it has no current version or lies outside the caller's jurisdiction."""
    area_id = resolve_area(conn, str(area), field=field)
    row = conn.execute(
        "SELECT code, level, area_path(id) FROM area WHERE id = %s AND valid_to IS NULL", (area_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"{field} {area} does not exist")
    check_jurisdiction(who, row[2], f"{field} {area}")
    return area_id, row[0], row[1], tuple(row[2])


@dataclass(frozen=True)
class _Parent:
    id: int | None = None
    code: str | None = None
    path: tuple[int, ...] = ()


def _parent(conn: psycopg.Connection, who: Principal, parent: str | None, level: str) -> _Parent:
    """The current parent of an area of ``level`` (none for a subdistrict), inside the caller's jurisdiction."""
    expected = PARENT_LEVEL[level]
    if expected is None:
        if parent is not None:
            raise InvalidInput("a subdistrict has no parent", "parent")
        return _Parent()
    if parent is None:
        raise InvalidInput(f"parent is required: the {expected} this {level} belongs to (id or code)", "parent")
    parent_id, code, parent_level, path = area_in_jurisdiction(conn, who, parent, "parent")
    if parent_level != expected:
        raise InvalidInput(f"the parent of a {level} must be a {expected}; {parent} is a {parent_level}", "parent")
    return _Parent(parent_id, code, path)


def last_sequence(conn: psycopg.Connection, parent_id: int, level: str) -> int:
    """The highest child sequence ever used under a parent (0 if none). Codes of retired areas are
    never handed out again: an old incident's code must stay unambiguous."""
    last = conn.execute(
        "SELECT max(right(code, 3)::int) FROM area WHERE parent_id = %s AND level = %s", (parent_id, level)
    ).fetchone()[0]
    return last or 0


def _next_code(conn: psycopg.Connection, parent_id: int, parent_code: str, level: str) -> str:
    try:
        return child_code(parent_code, last_sequence(conn, parent_id, level) + 1)
    except ValueError:
        raise InvalidInput(f"{parent_code} has no free {level} code left (999 used)", "code") from None


def insert_version(conn: psycopg.Connection, params: dict) -> None:
    """Insert one area version (``area_insert.sql`` parameters); database rule violations become InvalidInput."""
    try:
        with conn.transaction():
            conn.execute(sql.load("area_insert"), params)
    except psycopg.errors.UniqueViolation:
        raise InvalidInput(f"code {params['code']} is already used by a current area", "code") from None
    except psycopg.errors.IntegrityError as exc:  # the database's backstop rules (triggers, CHECKs)
        raise InvalidInput(exc.diag.message_primary or "the area breaks a database rule", "code") from None


def move_people(conn: psycopg.Connection, old_ids: list[int], new_ids: list[int]) -> int:
    """Give the people of areas retired in this transaction to the new area covering most of each;
    return how many moved."""
    return conn.execute(sql.load("move_people"), {"new": new_ids, "old": old_ids}).rowcount


def create_area(
    conn: psycopg.Connection,
    who: Principal,
    level: str,
    values: AreaFields,
    request_id: str | None = None,
    crs: str = "wgs84",
) -> dict:
    """Create version 1 of a new area and return it as a GeoJSON Feature (coordinates in ``crs``). Planners
    create under a parent inside their jurisdiction and get the next free code; only admins choose codes
    or make subdistricts."""
    require(who, "area.write")
    if level not in CODE_DIGITS:
        raise InvalidInput(f"level must be one of {', '.join(CODE_DIGITS)}; got {level!r}", "level")
    if level == "subdistrict":
        require(who, "area.create_subdistrict")
    refuse_fields(who, {"code": values.code}, FIELD_PERMISSIONS)
    values = _checked(values, level)
    if values.name is None or values.geometry is None:
        raise InvalidInput("name and geometry are required", "name" if values.name is None else "geometry")
    if level == "subdistrict" and values.code is None:
        raise InvalidInput("a subdistrict needs its 9-digit code", "code")
    with conn.transaction():
        lock_for_edit(conn)
        parent = _parent(conn, who, values.parent, level)
        lock_children(conn, parent.id, level)
        code = values.code or _next_code(conn, parent.id, parent.code, level)
        layer = values.layer or DEFAULT_LAYER
        wkb = shapely.to_wkb(values.geometry)
        area_id = conn.execute("INSERT INTO area_identity (level) VALUES (%s) RETURNING id", (level,)).fetchone()[0]
        insert_version(conn, dict(
            id=area_id, version=1, level=level, code=code, parent_id=parent.id, name=values.name,
            kind=values.kind or "comprehensive", layer=layer, wkb=wkb, attrs=Jsonb(values.attrs or {}),
        ))  # fmt: skip
        rules.enforce(conn, [area_id])
        path = (area_id, *parent.path)
        audit.record(conn, who, audit.Change("create", "area", area_id, code, path, None, 1), request_id)
        return get_area(conn, area_id, crs=crs)


def update_area(
    conn: psycopg.Connection,
    who: Principal,
    area_id: int,
    if_match: int | None,
    values: AreaFields,
    request_id: str | None = None,
    crs: str = "wgs84",
) -> dict:
    """Write the next version of an area with ``values`` applied; return it as a GeoJSON Feature in ``crs``."""
    require(who, "area.write")
    if not values.given():
        raise InvalidInput("nothing to change: send at least one field", "body")
    refuse_fields(who, values.given(), FIELD_PERMISSIONS)
    with conn.transaction():
        cur = _current(conn, who, area_id)
        check_version(if_match, cur.version, f"area {area_id}")
        values = _checked(values, cur.level)
        parent_id, path = cur.parent_id, tuple(cur.path)
        if values.parent is not None:
            parent = _parent(conn, who, values.parent, cur.level)
            parent_id, path = parent.id, (area_id, *parent.path)
        lock_children(conn, parent_id, cur.level)
        layer = values.layer or cur.layer
        wkb = shapely.to_wkb(values.geometry) if values.geometry is not None else cur.wkb
        conn.execute("UPDATE area SET valid_to = now() WHERE id = %s AND valid_to IS NULL", (area_id,))
        insert_version(conn, dict(
            id=area_id, version=cur.version + 1, level=cur.level, code=values.code or cur.code, parent_id=parent_id,
            name=values.name or cur.name, kind=values.kind or cur.kind, layer=layer, wkb=wkb,
            attrs=Jsonb(cur.attrs if values.attrs is None else values.attrs),
        ))  # fmt: skip
        if values.geometry is not None or parent_id != cur.parent_id or layer != cur.layer:
            rules.enforce(conn, [area_id])
        change = audit.Change(
            "update", "area", area_id, values.code or cur.code, tuple(dict.fromkeys((*path, *cur.path))),
            cur.version, cur.version + 1, {"fields": sorted(values.given())},
        )  # fmt: skip
        audit.record(conn, who, change, request_id)
        return get_area(conn, area_id, crs=crs)


def retire_area(
    conn: psycopg.Connection, who: Principal, area_id: int, if_match: int | None, request_id: str | None = None
) -> int:
    """Close the current version of an area that no longer has current children or buildings; return
    the version closed. Its history stays: lookups at an earlier instant still find it."""
    require(who, "area.write")
    with conn.transaction():
        cur = _current(conn, who, area_id)
        check_version(if_match, cur.version, f"area {area_id}")
        children, members = conn.execute(
            "SELECT (SELECT count(*) FROM area WHERE parent_id = %(id)s AND valid_to IS NULL),"
            " (SELECT count(*) FROM microgrid_member WHERE microgrid_id = %(id)s)",
            {"id": area_id},
        ).fetchone()
        if children or members:
            raise InvalidInput(
                f"area {cur.code} still has {children} current child area(s) and {members} building membership(s);"
                " move or retire them first",
                "id",
            )
        conn.execute("UPDATE area SET valid_to = now() WHERE id = %s AND valid_to IS NULL", (area_id,))
        audit.record(
            conn, who, audit.Change("retire", "area", area_id, cur.code, tuple(cur.path), cur.version, None), request_id
        )
        return cur.version
