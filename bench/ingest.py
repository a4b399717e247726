"""Ingest benchmark: ``gridmap import --commit`` of a whole generated city, level by level (validation,
versions, area pieces, memberships, household totals, audit), against the raw floor: a binary COPY of
the same rows with EWKB geometries into bare copies of the same tables, then the same indexes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import geopandas as gpd
import psycopg
import shapely
from psycopg import sql as pgsql

from gridmap.areas.geometry import as_multipolygon
from gridmap.io.importer import import_frame
from gridmap.io.read import read_table

# File name → import level, in the order parents must exist.
FILES = {
    "subdistricts": "subdistricts",
    "communities": "communities",
    "grids": "grids",
    "microgrids": "microgrids",
    "buildings": "buildings",
    "party_cells": "party-cells",
    "people": "people",
}
TABLES = ("area_identity", "area", "building", "microgrid_member", "party_cell", "party_cell_microgrid", "person")
LEVEL_OF = {"subdistricts": "subdistrict", "communities": "community", "grids": "grid", "microgrids": "microgrid"}


def read_city(directory: Path) -> dict[str, gpd.GeoDataFrame]:
    """Every import file of a generated city, read as ``gridmap import`` reads it."""
    return {name: read_table(directory / f"{name}.csv") for name in FILES}


def project(url: str, frames: dict[str, gpd.GeoDataFrame], log=print) -> dict:
    """Import every level with commit; seconds per level, and the seconds of each spent on the geometry
    rules (gridmap.areas.rules). Fails the run when any row is refused."""
    seconds, rules = {}, {}
    with psycopg.connect(url) as conn:
        for name, level in FILES.items():
            t = time.perf_counter()
            report = import_frame(conn, level, frames[name], commit=True)
            seconds[name] = time.perf_counter() - t
            if not report.committed:
                raise SystemExit(f"import of {name} refused: {report.errors[:3]}")
            rules[name] = report.rules_s
            log(f"  import {name}: {len(frames[name]):,} rows in {seconds[name]:.1f} s"
                f" (geometry rules {report.rules_s:.1f} s of it)")  # fmt: skip
    # Every row is new, so the rules judge every area and building: the import without them is the rest.
    return {"seconds": sum(seconds.values()), "levels": seconds, "rules": rules}


def _ewkb(geoms) -> list[bytes]:
    multi = [as_multipolygon(g) for g in geoms]
    return list(shapely.to_wkb(shapely.set_srid(multi, 4326), include_srid=True))


def _rows(frames: dict[str, gpd.GeoDataFrame]) -> dict[str, list[tuple]]:
    """The rows the import stores, with ids given here (COPY writes identity columns as given)."""
    ids: dict[str, int] = {}
    identity, areas = [], []
    for name, level in LEVEL_OF.items():
        f = frames[name]
        for code, nm, parent, kind, layer, geom in zip(f["code"], f["name"], f["parent"], f["kind"], f["layer"],
                                                        _ewkb(f.geometry), strict=True):  # fmt: skip
            ids[code] = len(ids) + 1
            identity.append((ids[code], level))
            areas.append((ids[code], 1, level, code, ids.get(parent), nm, kind, layer, geom))
    b = frames["buildings"]
    buildings, members = [], []
    for i, (code, hh, floors, mg, geom) in enumerate(
        zip(b["code"], b["households"].astype(int), b["floors"].astype(int), b["microgrid"], _ewkb(b.geometry),
            strict=True), start=1):  # fmt: skip
        buildings.append((i, code, int(hh), int(floors), 1, geom))
        members.append((i, ids[mg], i, int(hh)))
    p = frames["party_cells"]
    cells = [(i, code, nm, br) for i, (code, nm, br) in enumerate(zip(p["code"], p["name"], p["branch"],
                                                                      strict=True), start=1)]  # fmt: skip
    cell_id = {c[1]: c[0] for c in cells}
    cell_mg = [(ids[mg], cell_id[code]) for code, mgs in zip(p["code"], p["microgrids"], strict=True)
               for mg in mgs.split(";")]  # fmt: skip
    q = frames["people"]
    people = [(nm, ph, role, ids.get(area), cell_id.get(cell))
              for nm, ph, role, area, cell in zip(q["name"], q["phone"], q["role"], q["area"], q["party_cell"],
                                                  strict=True)]  # fmt: skip
    return {
        "area_identity": identity, "area": areas, "building": buildings, "microgrid_member": members,
        "party_cell": cells, "party_cell_microgrid": cell_mg, "person": people,
    }  # fmt: skip


_COPY = {
    "area_identity": (("id", "int8"), ("level", "text")),
    "area": (("id", "int8"), ("version", "int4"), ("level", "text"), ("code", "text"), ("parent_id", "int8"),
             ("name", "text"), ("kind", "text"), ("layer", "text"), ("geom", "bytea")),
    "building": (("id", "int8"), ("code", "text"), ("households", "int4"), ("floors", "int4"), ("units", "int4"),
                 ("geom", "bytea")),
    "microgrid_member": (("id", "int8"), ("microgrid_id", "int8"), ("building_id", "int8"), ("households", "int4")),
    "party_cell": (("id", "int8"), ("code", "text"), ("name", "text"), ("branch", "text")),
    "party_cell_microgrid": (("microgrid_id", "int8"), ("party_cell_id", "int8")),
    "person": (("name", "text"), ("phone", "text"), ("role", "text"), ("area_id", "int8"), ("party_cell_id", "int8")),
}  # fmt: skip


def baseline(url: str, frames: dict[str, gpd.GeoDataFrame], log=print) -> dict:
    """Binary COPY of the same rows into schema ``bench_copy`` (tables like the real ones, with their
    CHECKs but no indexes), then the real tables' indexes; seconds for each step."""
    figures = copy_floor(url, TABLES, _COPY, lambda: _rows(frames))
    log(f"  baseline: rows prepared in {figures['prepare']:.1f} s, COPY {figures['copy']:.1f} s, "
        f"{figures['index_count']} indexes {figures['indexes']:.1f} s")  # fmt: skip
    return figures


def copy_floor(url: str, tables, columns: dict[str, tuple], make_rows) -> dict:
    """The raw floor of a write: ``make_rows()`` (timed: it builds ``{table: [row tuples]}``, in the
    order of ``columns[table]``, a sequence of (column, COPY type)), a binary COPY of them into bare
    copies of ``tables`` in schema ``bench_copy`` (same columns, defaults, identities and CHECKs, no
    foreign keys, no indexes), then the real tables' indexes built on them. Seconds for each step; the
    schema is dropped afterwards. Geometries travel as EWKB under the type ``bytea`` (PostGIS's binary
    input), JSONB as ``b"\\x01" + text`` under ``bytea`` (its binary input: a version byte, then the text)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_copy CASCADE")
        conn.execute("CREATE SCHEMA bench_copy")
        for table in tables:
            conn.execute(
                pgsql.SQL(
                    "CREATE TABLE bench_copy.{t} (LIKE public.{t} INCLUDING DEFAULTS "
                    "INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
                ).format(t=pgsql.Identifier(table))
            )
        indexes = [re.sub(r" ON public\.", " ON bench_copy.", d, count=1).replace("INDEX ", "INDEX bench_", 1)
                   for (d,) in conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' "
                                            "AND tablename = ANY(%s)", (list(tables),))]  # fmt: skip
        t = time.perf_counter()
        rows = make_rows()
        prepare_s = time.perf_counter() - t
        t = time.perf_counter()
        with conn.cursor() as cur:
            for table in tables:
                cols = columns[table]
                statement = pgsql.SQL("COPY bench_copy.{} ({}) FROM STDIN (FORMAT BINARY)").format(
                    pgsql.Identifier(table), pgsql.SQL(", ").join(pgsql.Identifier(c) for c, _ in cols)
                )
                with cur.copy(statement) as copy:
                    copy.set_types([t for _, t in cols])
                    for row in rows[table]:
                        copy.write_row(row)
        copy_s = time.perf_counter() - t
        t = time.perf_counter()
        for statement in indexes:
            conn.execute(statement)
        index_s = time.perf_counter() - t
        conn.execute("DROP SCHEMA bench_copy CASCADE")
    return {"seconds": prepare_s + copy_s + index_s, "prepare": prepare_s, "copy": copy_s, "indexes": index_s,
            "index_count": len(indexes), "rows": sum(len(r) for r in rows.values())}  # fmt: skip
