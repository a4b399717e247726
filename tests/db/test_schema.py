"""Migrations from empty and the database-side rules that back up the import checks."""

from __future__ import annotations

import psycopg
import pytest

from gridmap.db.migrate import migrate, pending
from tests.conftest import SESSION_TAG
from tests.support.helpers import COMM, SUB, connect, create_database, drop_database

POLY = "SRID=4326;MULTIPOLYGON(((114 22.6,114.01 22.6,114.01 22.61,114 22.61,114 22.6)))"


def test_migrations_apply_from_empty_then_nothing_pending(server_url, tmp_path):
    name = f"gm_migrate_from_empty_{SESSION_TAG}"  # one per session: sessions may share the server
    url = create_database(server_url, name)
    try:
        assert pending(url) != []
        applied = migrate(url)
        assert "0001.schema" in applied
        assert pending(url) == [] and migrate(url) == []
        with connect(url) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            assert {
                "area",
                "area_identity",
                "area_piece",
                "building",
                "microgrid_member",
                "party_cell",
                "party_cell_microgrid",
                "person",
            } <= tables
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0]
            geom_type = conn.execute(
                "SELECT type, srid FROM geometry_columns WHERE f_table_name = 'area' AND f_geometry_column = 'geom'"
            ).fetchone()
            assert geom_type == ("MULTIPOLYGON", 4326)
    finally:
        drop_database(server_url, name)


def _subdistrict(conn, code=SUB, geom=POLY) -> int:
    area_id = conn.execute("INSERT INTO area_identity (level) VALUES ('subdistrict') RETURNING id").fetchone()[0]
    conn.execute(
        "INSERT INTO area (id, version, level, code, name, geom) VALUES (%s, 1, 'subdistrict', %s, 'x', %s)",
        (area_id, code, geom),
    )
    return area_id


@pytest.mark.parametrize(
    "geom",
    [
        "SRID=4326;MULTIPOLYGON(((114 22.6,114.01 22.61,114.01 22.6,114 22.61,114 22.6)))",  # bow-tie
        "SRID=4326;MULTIPOLYGON EMPTY",
        "SRID=3857;MULTIPOLYGON(((0 0,1 0,1 1,0 1,0 0)))",
        "SRID=4326;POINT(114 22.6)",
    ],
    ids=["self-intersecting", "empty", "wrong-srid", "point"],
)
def test_bad_geometry_is_refused_by_the_database(empty_db, geom):
    with connect(empty_db) as conn, pytest.raises(psycopg.errors.Error):
        _subdistrict(conn, geom=geom)


def test_code_pattern_parent_level_and_current_uniqueness(empty_db):
    with connect(empty_db) as conn:
        sub = _subdistrict(conn)
        with pytest.raises(psycopg.errors.CheckViolation):
            _subdistrict(conn, code="12345")  # not 9 digits
        with pytest.raises(psycopg.errors.UniqueViolation):
            _subdistrict(conn)  # same code, both current
        comm = conn.execute("INSERT INTO area_identity (level) VALUES ('community') RETURNING id").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation, match="start with its parent"):
            conn.execute(
                "INSERT INTO area (id, version, level, code, parent_id, name, geom) "
                "VALUES (%s, 1, 'community', '999999999001', %s, 'c', %s)",
                (comm, sub, POLY),
            )
        conn.execute(
            "INSERT INTO area (id, version, level, code, parent_id, name, geom) "
            "VALUES (%s, 1, 'community', %s, %s, 'c', %s)",
            (comm, COMM, sub, POLY),
        )
        grid = conn.execute("INSERT INTO area_identity (level) VALUES ('grid') RETURNING id").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation, match="cannot have a subdistrict"):
            conn.execute(
                "INSERT INTO area (id, version, level, code, parent_id, name, geom) "
                "VALUES (%s, 1, 'grid', %s, %s, 'g', %s)",
                (grid, COMM + "001", sub, POLY),
            )


def test_versions_are_history(empty_db):
    with connect(empty_db) as conn:
        sub = _subdistrict(conn)
        with pytest.raises(psycopg.errors.CheckViolation, match="new version"):
            conn.execute("UPDATE area SET name = 'changed' WHERE id = %s", (sub,))
        with pytest.raises(psycopg.errors.CheckViolation, match="never deleted"):
            conn.execute("DELETE FROM area WHERE id = %s", (sub,))
        conn.execute("UPDATE area SET valid_to = now() WHERE id = %s", (sub,))
        assert (
            conn.execute("SELECT count(*) FROM area_piece WHERE id = %s AND valid_to IS NULL", (sub,)).fetchone()[0]
            == 0
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="closed"):
            conn.execute("UPDATE area SET valid_to = now() WHERE id = %s", (sub,))


def test_lookup_pieces_are_subdivided(empty_db):
    big = "SRID=4326;MULTIPOLYGON((({})))".format(
        ",".join(f"{114 + 0.01 * i / 400} {22.6 + 0.001 * (i % 2)}" for i in range(400))
        + ",114.01 22.7,114 22.7,114 22.6"
    )
    with connect(empty_db) as conn:
        sub = _subdistrict(conn, geom=big)
        pieces, max_points = conn.execute(
            "SELECT count(*), max(ST_NPoints(geom)) FROM area_piece WHERE id = %s", (sub,)
        ).fetchone()
        assert pieces > 1 and max_points <= 64


def test_membership_units_cannot_overlap(demo_db):
    with connect(demo_db) as conn:
        building, microgrid = conn.execute(
            "SELECT building_id, microgrid_id FROM microgrid_member WHERE unit_from IS NOT NULL LIMIT 1"
        ).fetchone()
        with pytest.raises(psycopg.errors.ExclusionViolation):
            conn.execute(
                "INSERT INTO microgrid_member (microgrid_id, building_id, unit_from, unit_to, households) "
                "VALUES (%s, %s, 1, 1, 1)",
                (microgrid, building),
            )
        grid = conn.execute("SELECT id FROM area WHERE level = 'grid' LIMIT 1").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation, match="not a micro-grid"):
            conn.execute(
                "INSERT INTO party_cell_microgrid (microgrid_id, party_cell_id) SELECT %s, id FROM party_cell LIMIT 1",
                (grid,),
            )
