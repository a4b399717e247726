"""Buildings through the API: read one, edit one under the caller's jurisdiction.

A building is edited in place (its history is the audit log) under optimistic concurrency: its
``version`` grows by one per write and an edit must name the version it was based on."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import shapely
from psycopg.types.json import Jsonb

from gridmap import fields, geojson
from gridmap.access import audit
from gridmap.access.rules import Principal, check_jurisdiction, in_jurisdiction, require
from gridmap.concurrency import check_version
from gridmap.db.locks import lock_for_edit
from gridmap.errors import InvalidInput, NotFound

_COLUMNS = "id, code, name, compound, building_type, households, floors, units, attrs, version"


@dataclass(frozen=True)
class BuildingFields:
    """What an edit sets; None leaves a field as it is. ``geometry`` is WGS-84."""

    name: str | None = None
    compound: str | None = None
    building_type: str | None = None
    households: int | None = None
    floors: int | None = None
    units: int | None = None
    attrs: dict | None = None
    geometry: shapely.MultiPolygon | None = None

    def given(self) -> dict[str, object]:
        """The fields that were set."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def get_building(conn: psycopg.Connection, building_id: int, crs: str = "wgs84") -> dict:
    """A building as a GeoJSON Feature (with ``version`` and the micro-grids holding it), or NotFound."""
    row = conn.execute(
        f"SELECT {_COLUMNS}, ST_AsBinary(geom),"  # noqa: S608 - a constant column list
        " (SELECT coalesce(jsonb_agg(jsonb_build_object('code', a.code, 'unit_from', m.unit_from,"
        "  'unit_to', m.unit_to, 'floor_from', m.floor_from, 'floor_to', m.floor_to, 'households', m.households)"
        "  ORDER BY a.code), '[]') FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL"
        "  WHERE m.building_id = b.id)"
        " FROM building b WHERE id = %s",
        (building_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"building {building_id} does not exist")
    names = _COLUMNS.split(", ")
    props = dict(zip(names, row[:10], strict=True)) | {"microgrids": row[11]}
    return geojson.feature(row[10], props, id=row[0], crs=crs)


def _checked(values: BuildingFields) -> dict:
    out: dict = {}
    for name in ("name", "compound", "building_type"):
        value = getattr(values, name)
        if value is not None:
            out[name] = fields.checked(name, fields.text, value, name, max_len=60 if name == "building_type" else 200)
    for name, lo, hi in (("households", 0, 100_000), ("floors", 1, 200), ("units", 1, 100)):
        value = getattr(values, name)
        if value is not None:
            out[name] = fields.checked(name, fields.integer, value, name, lo, hi)
    if values.attrs is not None:
        out["attrs"] = Jsonb(fields.checked("attrs", fields.attrs, values.attrs))
    return out


def update_building(
    conn: psycopg.Connection,
    who: Principal,
    building_id: int,
    if_match: int | None,
    values: BuildingFields,
    request_id: str | None = None,
    crs: str = "wgs84",
) -> dict:
    """Apply ``values`` to a building inside the caller's jurisdiction; return the new Feature in ``crs``.

    A household count follows into the building's membership when one micro-grid holds it whole; a
    building split by unit or floor keeps its shares, so its total can only change with them."""
    require(who, "building.write")
    if not values.given():
        raise InvalidInput("nothing to change: send at least one field", "body")
    with conn.transaction():
        lock_for_edit(conn)
        row = conn.execute(
            "SELECT version, code, households, building_area_path(id) FROM building WHERE id = %s FOR UPDATE",
            (building_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"building {building_id} does not exist")
        version, code, households, before_path = row
        check_jurisdiction(who, before_path, f"building {building_id}")
        check_version(if_match, version, f"building {building_id}")
        updates = _checked(values)
        members = conn.execute(
            "SELECT id, unit_from, unit_to, floor_from, floor_to FROM microgrid_member WHERE building_id = %s",
            (building_id,),
        ).fetchall()
        if "households" in updates and updates["households"] != households:
            whole = len(members) == 1 and members[0][1:] == (None, None, None, None)
            if len(members) > 1 or (members and not whole):
                raise InvalidInput(
                    f"building {code} is split among {len(members)} micro-grid parts; change their shares instead",
                    "households",
                )
            if whole:
                conn.execute(
                    "UPDATE microgrid_member SET households = %s WHERE id = %s", (updates["households"], members[0][0])
                )
        assignments = [f"{name} = %({name})s" for name in updates]
        if values.geometry is not None:
            assignments.append("geom = ST_GeomFromWKB(%(wkb)s, 4326)")
            updates["wkb"] = shapely.to_wkb(values.geometry)
        conn.execute(
            f"UPDATE building SET {', '.join(assignments)}, version = version + 1, updated_at = now()"  # noqa: S608
            " WHERE id = %(id)s",  # column names come from _checked's fixed list, values are parameters
            updates | {"id": building_id},
        )
        after_path = conn.execute("SELECT building_area_path(%s)", (building_id,)).fetchone()[0]
        if not in_jurisdiction(who, after_path):
            raise InvalidInput("the new footprint lies outside your jurisdiction", "geometry")
        new_version = version + 1
        change = audit.Change(
            "update", "building", building_id, code, tuple(set(before_path) | set(after_path)), version, new_version,
            {"fields": sorted(values.given())},
        )  # fmt: skip
        audit.record(conn, who, change, request_id)
        return get_building(conn, building_id, crs)
