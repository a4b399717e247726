"""Import one level from a file: validate every row, then write everything in one transaction or nothing.

A dry run (the default) does the same work inside a transaction and rolls it back, so its report
is exactly what a commit would do. Areas are never changed in place: a changed area gets a new
version and the old one is closed. Rows equal to what is stored are left alone, so a second run of
the same import changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import psycopg
import shapely

from gridmap import fields, sql
from gridmap.access import audit
from gridmap.access.rules import Principal, cli_principal
from gridmap.areas import membership, rules
from gridmap.areas.geometry import as_multipolygon, polygon_problem, same_geometry
from gridmap.areas.levels import (
    AREA_LEVELS,
    CODE_DIGITS,
    CODE_PATTERN,
    COLUMNS,
    DEFAULT_LAYER,
    HAS_GEOMETRY,
    KINDS,
    LAYER_PATTERN,
    LEVELS,
    PARENT_LEVEL,
    PERSON_ROLE_NAMES,
)
from gridmap.db import bulk
from gridmap.db.locks import lock_for_import
from gridmap.errors import InvalidInput
from gridmap.fields import BadValue
from gridmap.io.datum import looks_shifted
from gridmap.io.read import Source, read_source
from gridmap.io.report import ImportReport

Progress = Callable[[int], None]
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


class _RowFailed(Exception):
    """The database refused one row; the whole import is rolled back."""

    def __init__(self, row: int, code: str | None, reason: str):
        super().__init__(reason)
        self.row, self.code, self.reason = row, code, reason


@dataclass
class _Row:
    n: int
    code: str | None
    values: dict


def import_file(
    conn: psycopg.Connection,
    level: str,
    path: str | Path,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    mapping: dict[str, str] | None = None,
    commit: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Read ``path`` (``read_source``: ``crs`` and ``encoding`` override what the file says, ``mapping``
    renames its columns) and import it as ``level`` (see ``import_source``)."""
    _check_level(level)
    source = read_source(path, crs, encoding=encoding, mapping=mapping, level=level)
    return import_source(conn, level, source, commit=commit, progress=progress)


def import_source(
    conn: psycopg.Connection,
    level: str,
    source: Source,
    *,
    commit: bool = False,
    progress: Progress | None = None,
    who: Principal | None = None,
) -> ImportReport:
    """Import a file already read (see ``import_frame``). A file that does not say which coordinates it
    holds (or says only WGS-84 by its format) and whose shapes fit the stored map clearly better as GCJ-02
    or BD-09 is refused as a whole
    (a file-level error naming the system): ``--crs`` decides then. The report says how the file was read."""
    _check_level(level)
    frame = source.frame
    described = {
        "crs": source.crs, "crs_source": source.crs_source, "encoding": source.encoding,
        "encoding_source": source.encoding_source, "renamed": source.renamed, "sample": list(source.sample),
    }  # fmt: skip
    # Unlabelled, or labelled WGS-84 by a format or program that stamps it on anything: compare with the map.
    if source.crs_source in ("none", "file") and source.crs == "wgs84" and HAS_GEOMETRY[level]:
        datum = looks_shifted(conn, level, frame)
        if datum is not None:
            report = ImportReport(level, rows=len(frame), source=described)
            name = {"gcj02": "GCJ-02", "bd09": "BD-09"}[datum]
            report.error(
                0, None,
                f"this looks like {name}: read as WGS-84 the shapes lie 100–700 m off the stored map; pass --crs "
                f"{datum} (or --crs wgs84 if the file really is WGS-84)",
                "crs",
                f"坐标看起来是 {name}：按 WGS-84 读取时与现有底图相差 100–700 米；请加 --crs {datum}"
                "（若文件确为 WGS-84，请加 --crs wgs84）",
            )  # fmt: skip
            return report
    report = import_frame(conn, level, frame, commit=commit, progress=progress, who=who)
    report.source = described
    return report


def import_frame(
    conn: psycopg.Connection,
    level: str,
    frame: gpd.GeoDataFrame,
    *,
    commit: bool = False,
    progress: Progress | None = None,
    who: Principal | None = None,
) -> ImportReport:
    """Import the rows of ``frame`` (WGS-84) as ``level``.

    Every row is checked first; if any is bad nothing is written and the report names each bad row
    and why. With ``commit=False`` the writes are rolled back after counting them. A committed import
    leaves one audit entry (by ``who``, default the command-line user) with its counts.
    """
    _check_level(level)
    report = ImportReport(level, rows=len(frame))
    unknown = sorted(set(frame.columns) - set(COLUMNS[level]) - {"geometry"})
    if unknown:
        report.warnings.append(f"ignored column(s): {', '.join(unknown)}")
    validate, write = _HANDLERS[AREA_LEVELS.get(level, level)]
    try:
        with conn.transaction() as tx:
            # One import at a time: the checks below read what is stored and must stay true.
            lock_for_import(conn)
            rows = validate(conn, level, frame, report)
            if report.ok:
                touched = write(conn, level, rows, report, progress or (lambda n: None))
                _judge(conn, rows, touched, report)
            report.committed = commit and report.ok
            if not report.committed:
                raise psycopg.Rollback(tx)
            counts = {"rows": report.rows, "created": report.created, "updated": report.updated}
            audit.record(conn, who or cli_principal(), audit.Change("import", level, detail=counts))
            # Fresh statistics for the tables this level writes in bulk: without them the planner misjudges
            # them (measured: the household totals' refresh took 2 s instead of 0.1 s on a just-loaded city).
            if level in _BULK_TABLES:
                conn.execute(f"ANALYZE {_BULK_TABLES[level]}")
    except _RowFailed as failed:
        report.error(failed.row, failed.code, failed.reason)
        report.committed = False
    return report


@dataclass(frozen=True)
class _Touched:
    """What a level's writer changed, for the geometry rules: areas whose shape, parent or layer got a new
    version, and buildings whose shape or memberships changed."""

    areas: tuple[int, ...] = ()
    buildings: tuple[int, ...] = ()


def _judge(conn: psycopg.Connection, rows: list[_Row], touched: _Touched, report: ImportReport) -> None:
    """The rules every write path applies (gridmap.areas.rules), on what this import wrote; each breach
    becomes an error on the row of the area or building at fault, naming the other rows involved."""
    if not (touched.areas or touched.buildings):
        return
    row_of = {r.code: r.n for r in rows}
    started = time.perf_counter()
    found = rules.breaches(conn, touched.areas, touched.buildings)
    report.rules_s = time.perf_counter() - started
    for breach in found:
        others = sorted({row_of[c] for c in breach.codes()[1:] if c in row_of})
        also_en = f" (row {', '.join(map(str, others))})" if others else ""
        also_zh = f"（第 {'、'.join(map(str, others))} 行）" if others else ""
        report.error(row_of.get(breach.code, 0), breach.code, breach.message("en") + also_en, "geometry",
                     breach.message("zh") + also_zh)  # fmt: skip


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise InvalidInput(f"unknown level {level!r}; use one of {', '.join(LEVELS)}", "level")


def _records(frame: gpd.GeoDataFrame) -> list[tuple[int, dict, object]]:
    geoms = frame.geometry.to_numpy() if "geometry" in frame else [None] * len(frame)
    plain = frame.drop(columns=["geometry"], errors="ignore").to_dict("records")
    return [(i + 1, rec, geoms[i]) for i, rec in enumerate(plain)]


def _execute(conn: psycopg.Connection, row: _Row, query: str, params) -> psycopg.Cursor:
    try:
        return conn.execute(query, params)
    except psycopg.errors.Error as exc:
        raise _RowFailed(row.n, row.code, f"refused by the database: {_reason(exc)}") from exc


def _insert_many(conn: psycopg.Connection, rows: list[_Row], table: str, columns: dict[str, str], values, **kw) -> None:
    """``bulk.insert_rows`` of ``values``, which come from the file rows ``rows``. A refusal names the
    rows' span: a few thousand rows share a statement, so the database cannot say which one it was."""
    try:
        bulk.insert_rows(conn, table, columns, values, **kw)
    except psycopg.errors.Error as exc:
        raise _RowFailed(
            rows[0].n, None, f"refused by the database (rows {rows[0].n}–{rows[-1].n}): {_reason(exc)}"
        ) from exc


def _reason(exc: psycopg.errors.Error) -> str:
    return "; ".join(filter(None, (exc.diag.message_primary or str(exc), exc.diag.message_detail)))


def _ids_by_code(conn: psycopg.Connection, codes, level: str | None = None) -> dict[str, int]:
    """Current area ids for ``codes``, optionally only at ``level``."""
    rows = conn.execute(
        "SELECT code, id FROM area WHERE valid_to IS NULL AND code = ANY(%s) AND (%s::text IS NULL OR level = %s)",
        (list(codes), level, level),
    ).fetchall()
    return dict(rows)


def _checked_geometry(geom) -> shapely.MultiPolygon:
    problem = polygon_problem(geom)
    if problem:
        raise BadValue(problem)
    return as_multipolygon(geom)


def _unique_code(rec: dict, seen: dict[str, int], n: int, pattern: re.Pattern, what: str) -> str:
    code = fields.text(rec.get("code"), "code", required=True, max_len=64)
    if not pattern.match(code):
        raise BadValue(f"code {code!r} is not a valid {what} code")
    if code in seen:
        raise BadValue(f"duplicate code {code} (also on row {seen[code]})")
    seen[code] = n
    return code


# --- areas ------------------------------------------------------------------------------------


def _validate_areas(conn, level_name: str, frame, report: ImportReport) -> list[_Row]:
    level = AREA_LEVELS[level_name]
    parent_level = PARENT_LEVEL[level]
    digits, pattern = CODE_DIGITS[level], CODE_PATTERN[level]
    rows, seen = [], {}
    for n, rec, geom in _records(frame):
        code = None
        try:
            code = _unique_code(rec, seen, n, pattern, f"{level} ({digits} digits)")
            name = fields.text(rec.get("name"), "name", required=True)
            parent = fields.text(rec.get("parent"), "parent", max_len=64)
            if parent_level is None and parent:
                raise BadValue("a subdistrict has no parent")
            if parent_level and not parent:
                raise BadValue(f"parent (the {parent_level} code) is missing")
            if parent and not code.startswith(parent):
                raise BadValue(f"code {code} must start with its parent's code {parent}")
            kind = fields.choice(rec.get("kind"), "kind", KINDS, default="comprehensive")
            layer = fields.text(rec.get("layer"), "layer", max_len=40) or DEFAULT_LAYER
            if not LAYER_PATTERN.match(layer):
                raise BadValue(f"layer {layer!r} must be lower-case letters, digits and _")
            shape = _checked_geometry(geom)
        except BadValue as exc:
            report.error(n, code or fields.text(rec.get("code"), "code"), str(exc))
            continue
        rows.append(_Row(n, code, dict(name=name, parent=parent, kind=kind, layer=layer, geom=shape)))
    if parent_level:
        parents = _ids_by_code(conn, {r.values["parent"] for r in rows}, parent_level)
        for r in rows:
            r.values["parent_id"] = parents.get(r.values["parent"])
            if r.values["parent_id"] is None:
                report.error(r.n, r.code, f"orphan: parent {r.values['parent']} is not a current {parent_level}")
    return rows


def _write_areas(conn, level_name: str, rows: list[_Row], report: ImportReport, progress: Progress) -> _Touched:
    level = AREA_LEVELS[level_name]
    current = {
        r[2]: r
        for r in conn.execute(
            sql.load("area_current_by_code"), {"level": level, "codes": [r.code for r in rows]}
        ).fetchall()
    }
    versions, new, moved = [], [], []
    for row in rows:
        v = row.values
        old = current.get(row.code)
        if old is not None:
            area_id, version, _, name, kind, layer, parent, wkb = old
            if (name, kind, layer, parent) == (v["name"], v["kind"], v["layer"], v["parent"]) and same_geometry(
                shapely.from_wkb(wkb), v["geom"]
            ):
                report.unchanged += 1
                progress(1)
                continue
            _execute(conn, row, "UPDATE area SET valid_to = now() WHERE id = %s AND valid_to IS NULL", (area_id,))
            versions.append((row, area_id, version + 1))
            if (layer, parent) != (v["layer"], v["parent"]) or not same_geometry(shapely.from_wkb(wkb), v["geom"]):
                moved.append(area_id)
            report.updated += 1
        else:
            new.append(row)
            report.created += 1
        progress(1)
    ids = bulk.reserve_ids(conn, "area_identity", len(new))
    _insert_many(conn, new, "area_identity", {"id": "int8", "level": "text"}, [(i, level) for i in ids], given_ids=True)
    versions += [(row, area_id, 1) for row, area_id in zip(new, ids, strict=True)]
    written = [row for row, _, _ in versions]
    _insert_many(conn, written, "area", _AREA_COLUMNS, [
        (area_id, version, level, row.code, row.values.get("parent_id"), row.values["name"], row.values["kind"],
         row.values["layer"], shapely.to_wkb(row.values["geom"])) for row, area_id, version in versions
    ], expressions={"geom": _MULTI_WKB})  # fmt: skip
    return _Touched(areas=(*moved, *ids))


_AREA_COLUMNS = {"id": "int8", "version": "int4", "level": "text", "code": "text", "parent_id": "int8",
                 "name": "text", "kind": "text", "layer": "text", "geom": "bytea"}  # fmt: skip
_MULTI_WKB = "ST_Multi(ST_GeomFromWKB(u.geom, 4326))"


# --- buildings --------------------------------------------------------------------------------


def _validate_buildings(conn, level_name: str, frame, report: ImportReport) -> list[_Row]:
    rows, seen = [], {}
    for n, rec, geom in _records(frame):
        code = None
        try:
            code = _unique_code(rec, seen, n, _TAG, "building")
            units = fields.integer(rec.get("units"), "units", 1, 100, default=1)
            floors = fields.integer(rec.get("floors"), "floors", 1, 200)
            spec = fields.text(rec.get("microgrid"), "microgrid", max_len=10_000)
            try:
                entries = membership.parse(spec) if spec else []
            except ValueError as exc:
                raise BadValue(str(exc)) from None
            problem = membership.check(entries, units, floors)
            if problem:
                raise BadValue(problem)
            values = dict(
                name=fields.text(rec.get("name"), "name"),
                compound=fields.text(rec.get("compound"), "compound"),
                type=fields.text(rec.get("type"), "type", max_len=60),
                households=fields.integer(rec.get("households"), "households", 0, 100_000, default=0),
                floors=floors,
                units=units,
                entries=entries,
                geom=_checked_geometry(geom),
            )
        except BadValue as exc:
            report.error(n, code or fields.text(rec.get("code"), "code"), str(exc))
            continue
        rows.append(_Row(n, code, values))
    wanted = {e.microgrid for r in rows for e in r.values["entries"]}
    microgrids = _ids_by_code(conn, wanted, "microgrid")
    for r in rows:
        # Not ``set - microgrids.keys()``: that copies every key into a new set for each building.
        missing = sorted({e.microgrid for e in r.values["entries"] if e.microgrid not in microgrids})
        if missing:
            report.error(r.n, r.code, f"micro-grid {', '.join(missing)} is not a current micro-grid")
        r.values["microgrid_ids"] = [microgrids.get(e.microgrid) for e in r.values["entries"]]
    return rows


_BUILDING_FIELDS = ("name", "compound", "type", "households", "floors", "units")
_BUILDING_COLUMNS = {"id": "int8", "code": "text", "name": "text", "compound": "text", "building_type": "text",
                     "households": "int4", "floors": "int4", "units": "int4", "geom": "bytea"}  # fmt: skip


def _write_buildings(conn, level_name: str, rows: list[_Row], report: ImportReport, progress: Progress) -> _Touched:
    codes = [r.code for r in rows]
    current = {
        rec[0]: rec
        for rec in conn.execute(
            "SELECT code, id, name, compound, building_type, households, floors, units, ST_AsBinary(geom) "
            "FROM building WHERE code = ANY(%s)",
            (codes,),
        ).fetchall()
    }
    members: dict[int, list[tuple]] = {}
    for rec in conn.execute(
        "SELECT m.building_id, m.microgrid_id, m.unit_from, m.unit_to, m.floor_from, m.floor_to, m.households "
        "FROM microgrid_member m JOIN building b ON b.id = m.building_id WHERE b.code = ANY(%s)",
        (codes,),
    ).fetchall():
        members.setdefault(rec[0], []).append(rec[1:])
    new = [row for row in rows if row.code not in current]
    new_ids = dict(zip((r.code for r in new), bulk.reserve_ids(conn, "building", len(new)), strict=True))
    _insert_many(conn, new, "building", _BUILDING_COLUMNS, [
        (new_ids[r.code], r.code, *(r.values[k] for k in _BUILDING_FIELDS), shapely.to_wkb(r.values["geom"]))
        for r in new
    ], expressions={"geom": _MULTI_WKB}, given_ids=True)  # fmt: skip
    report.created += len(new)
    ids, pending, written = [], [], list(new_ids.values())
    for row in rows:
        v = row.values
        old = current.get(row.code)
        if old is None:
            building_id = new_ids[row.code]
            _write_membership(conn, row, building_id, [], pending)
        else:
            building_id = old[1]
            changed = tuple(old[2:8]) != tuple(v[k] for k in _BUILDING_FIELDS) or not same_geometry(
                shapely.from_wkb(old[8]), v["geom"]
            )
            if changed:
                params = dict(code=row.code, wkb=shapely.to_wkb(v["geom"]), **{k: v[k] for k in _BUILDING_FIELDS})
                _execute(
                    conn,
                    row,
                    "UPDATE building SET name = %(name)s, compound = %(compound)s, building_type = %(type)s, "
                    "households = %(households)s, floors = %(floors)s, units = %(units)s, "
                    "geom = ST_Multi(ST_GeomFromWKB(%(wkb)s, 4326)), updated_at = now(), version = version + 1 "
                    "WHERE code = %(code)s",
                    params,
                )
            members_changed = _write_membership(conn, row, building_id, members.get(building_id, []), pending)
            if changed or members_changed:
                report.updated += 1
                written.append(building_id)
            else:
                report.unchanged += 1
        ids.append(building_id)
        progress(1)
    _insert_many(conn, [row for row, _ in pending], "microgrid_member", _MEMBER_COLUMNS,
                 [member for _, member in pending])  # fmt: skip
    conn.execute(sql.load("building_autojoin"), {"ids": ids})
    report.unassigned = [
        code
        for (code,) in conn.execute(
            "SELECT code FROM building b WHERE id = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM microgrid_member m WHERE m.building_id = b.id) ORDER BY code",
            (ids,),
        ).fetchall()
    ]
    if report.unassigned:
        report.warnings.append(f"{len(report.unassigned)} building(s) lie in no micro-grid (unassigned)")
    return _Touched(buildings=tuple(written))


def _write_membership(conn, row: _Row, building_id: int, existing: list[tuple], pending: list) -> bool:
    """Make the building's memberships match the row; return True when something changed. New
    memberships are appended to ``pending`` as (row, values) for one bulk insert by the caller."""
    v = row.values
    entries = v["entries"]
    if not entries:
        # No explicit membership: keep what is stored, but a whole-building share follows the households.
        stale = [m for m in existing if m[1:5] == (None, None, None, None) and m[5] != v["households"]]
        if stale:
            conn.execute(
                "UPDATE microgrid_member SET households = %s WHERE building_id = %s "
                "AND unit_from IS NULL AND floor_from IS NULL",
                (v["households"], building_id),
            )
        return bool(stale)
    shares = membership.allocate(entries, v["households"], v["units"], v["floors"])
    wanted = _sorted_members(
        (mg, e.unit_from, e.unit_to, e.floor_from, e.floor_to, hh)
        for mg, e, hh in zip(v["microgrid_ids"], entries, shares, strict=True)
    )
    if wanted == _sorted_members(existing):
        return False
    if existing:
        conn.execute("DELETE FROM microgrid_member WHERE building_id = %s", (building_id,))
    pending.extend((row, (mg, building_id, uf, ut, ff, ft, hh)) for mg, uf, ut, ff, ft, hh in wanted)
    return True


_MEMBER_COLUMNS = {"microgrid_id": "int8", "building_id": "int8", "unit_from": "int4", "unit_to": "int4",
                   "floor_from": "int4", "floor_to": "int4", "households": "int4"}  # fmt: skip


def _sorted_members(members) -> list[tuple]:
    return sorted((tuple(m) for m in members), key=lambda m: tuple((x is None, x or 0) for x in m))


# --- party cells ------------------------------------------------------------------------------


def _validate_party_cells(conn, level_name: str, frame, report: ImportReport) -> list[_Row]:
    rows, seen, owner = [], {}, {}
    for n, rec, _ in _records(frame):
        code = None
        try:
            code = _unique_code(rec, seen, n, _TAG, "party cell")
            name = fields.text(rec.get("name"), "name", required=True)
            branch = fields.text(rec.get("branch"), "branch")
            codes = fields.code_list(rec.get("microgrids"), "microgrids")
            for mg in codes:
                if mg in owner:
                    raise BadValue(f"micro-grid {mg} is already given to the cell on row {owner[mg]}")
                owner[mg] = n
        except BadValue as exc:
            report.error(n, code, str(exc))
            continue
        rows.append(_Row(n, code, dict(name=name, branch=branch, microgrids=codes)))
    ids = _ids_by_code(conn, owner.keys(), "microgrid")
    for r in rows:
        missing = [c for c in r.values["microgrids"] if c not in ids]
        if missing:
            report.error(r.n, r.code, f"micro-grid {', '.join(missing)} is not a current micro-grid")
        r.values["microgrid_ids"] = sorted(ids[c] for c in r.values["microgrids"] if c in ids)
    return rows


def _write_party_cells(conn, level_name: str, rows: list[_Row], report: ImportReport, progress: Progress) -> _Touched:
    current = {
        rec[0]: rec
        for rec in conn.execute(
            "SELECT c.code, c.id, c.name, c.branch, "
            "coalesce(array_agg(m.microgrid_id ORDER BY m.microgrid_id) FILTER (WHERE m.microgrid_id IS NOT NULL), "
            "'{}') FROM party_cell c LEFT JOIN party_cell_microgrid m ON m.party_cell_id = c.id "
            "WHERE c.code = ANY(%s) GROUP BY c.id",
            ([r.code for r in rows],),
        ).fetchall()
    }
    new = [row for row in rows if row.code not in current]
    new_ids = dict(zip((r.code for r in new), bulk.reserve_ids(conn, "party_cell", len(new)), strict=True))
    _insert_many(
        conn,
        new,
        "party_cell",
        {"id": "int8", "code": "text", "name": "text", "branch": "text"},
        [(new_ids[r.code], r.code, r.values["name"], r.values["branch"]) for r in new],
        given_ids=True,
    )
    report.created += len(new)
    links = []
    for row in rows:
        v = row.values
        old = current.get(row.code)
        if old is None:
            cell_id = new_ids[row.code]
        elif (old[2], old[3], list(old[4])) == (v["name"], v["branch"], v["microgrid_ids"]):
            report.unchanged += 1
            progress(1)
            continue
        else:
            cell_id = old[1]
            conn.execute(
                "UPDATE party_cell SET name = %s, branch = %s WHERE id = %s", (v["name"], v["branch"], cell_id)
            )
            conn.execute(
                "DELETE FROM party_cell_microgrid WHERE party_cell_id = %s AND NOT (microgrid_id = ANY(%s))",
                (cell_id, v["microgrid_ids"]),
            )
            report.updated += 1
        links += [(row, (mg, cell_id)) for mg in v["microgrid_ids"]]
        progress(1)
    # A micro-grid named by this file moves to its cell, from whichever cell held it.
    _insert_many(
        conn,
        [row for row, _ in links],
        "party_cell_microgrid",
        {"microgrid_id": "int8", "party_cell_id": "int8"},
        [link for _, link in links],
        on_conflict="ON CONFLICT (microgrid_id) DO UPDATE SET party_cell_id = EXCLUDED.party_cell_id",
    )
    return _Touched()


# --- people -----------------------------------------------------------------------------------


def _validate_people(conn, level_name: str, frame, report: ImportReport) -> list[_Row]:
    rows, seen = [], {}
    for n, rec, _ in _records(frame):
        try:
            name = fields.text(rec.get("name"), "name", required=True, max_len=100)
            phone = fields.text(rec.get("phone"), "phone", required=True, max_len=20)
            if not _PHONE.match(phone):
                raise BadValue(f"phone {phone!r} is not a phone number")
            role = fields.choice(rec.get("role"), "role", PERSON_ROLE_NAMES)
            area = fields.text(rec.get("area"), "area", max_len=64)
            cell = fields.text(rec.get("party_cell"), "party_cell", max_len=64)
            if not area and not cell:
                raise BadValue("give the area or the party_cell the person works for")
            key = (role, area, cell, name)
            if key in seen:
                raise BadValue(f"the same person and role appear on row {seen[key]}")
            seen[key] = n
        except BadValue as exc:
            report.error(n, None, str(exc))
            continue
        rows.append(_Row(n, None, dict(name=name, phone=phone, role=role, area=area, cell=cell)))
    areas = _ids_by_code(conn, {r.values["area"] for r in rows if r.values["area"]})
    cells = dict(
        conn.execute(
            "SELECT code, id FROM party_cell WHERE code = ANY(%s)", ([r.values["cell"] for r in rows],)
        ).fetchall()
    )
    for r in rows:
        v = r.values
        v["area_id"], v["cell_id"] = areas.get(v["area"]), cells.get(v["cell"])
        if v["area"] and v["area_id"] is None:
            report.error(r.n, None, f"area {v['area']} is not a current area")
        if v["cell"] and v["cell_id"] is None:
            report.error(r.n, None, f"party cell {v['cell']} does not exist")
    return rows


def _write_people(conn, level_name: str, rows: list[_Row], report: ImportReport, progress: Progress) -> _Touched:
    areas = sorted({r.values["area_id"] for r in rows if r.values["area_id"] is not None})
    cells = sorted({r.values["cell_id"] for r in rows if r.values["cell_id"] is not None})
    current = {
        (role, area_id, cell_id, name): (pid, phone)
        for pid, name, phone, role, area_id, cell_id in conn.execute(
            "SELECT id, name, phone, role, area_id, party_cell_id FROM person "
            "WHERE area_id = ANY(%s) OR party_cell_id = ANY(%s)",
            (areas, cells),
        ).fetchall()
    }
    new = []
    for row in rows:
        v = row.values
        old = current.get((v["role"], v["area_id"], v["cell_id"], v["name"]))
        if old is None:
            new.append(row)
            report.created += 1
        elif old[1] == v["phone"]:
            report.unchanged += 1
        else:
            conn.execute("UPDATE person SET phone = %s WHERE id = %s", (v["phone"], old[0]))
            report.updated += 1
        progress(1)
    _insert_many(conn, new, "person", {"name": "text", "phone": "text", "role": "text", "area_id": "int8",
                                       "party_cell_id": "int8"},
                 [(r.values["name"], r.values["phone"], r.values["role"], r.values["area_id"], r.values["cell_id"])
                  for r in new])  # fmt: skip
    return _Touched()


_BULK_TABLES = {
    **{name: "area, area_piece" for name in AREA_LEVELS},
    "buildings": "building, microgrid_member",
}
_HANDLERS = {
    **{level: (_validate_areas, _write_areas) for level in AREA_LEVELS.values()},
    "buildings": (_validate_buildings, _write_buildings),
    "party-cells": (_validate_party_cells, _write_party_cells),
    "people": (_validate_people, _write_people),
}
