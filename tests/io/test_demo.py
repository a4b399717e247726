"""The Minzhi demo city as loaded: counts against the fixture files, households, memberships, cells."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pandas as pd
import psycopg

from gridmap.areas.membership import allocate, parse
from gridmap.io.demo import DEMO_DIR, load_demo
from tests.support.helpers import connect


def test_counts_match_the_fixture_files(demo_db_shared):
    files = {"subdistrict": "subdistricts", "community": "communities", "grid": "grids", "microgrid": "microgrids"}
    expected = {level: len(gpd.read_file(DEMO_DIR / f"{name}.geojson")) for level, name in files.items()}
    with connect(demo_db_shared) as conn:
        got = dict(conn.execute("SELECT level, count(*) FROM area WHERE valid_to IS NULL GROUP BY level").fetchall())
        assert got == expected
        assert conn.execute("SELECT count(*) FROM building").fetchone()[0] == len(
            gpd.read_file(DEMO_DIR / "buildings.geojson")
        )
        assert conn.execute("SELECT count(*) FROM party_cell").fetchone()[0] == len(
            pd.read_csv(DEMO_DIR / "party_cells.csv")
        )
        assert conn.execute("SELECT count(*) FROM person").fetchone()[0] == len(pd.read_csv(DEMO_DIR / "people.csv"))
        assert expected["community"] >= 10


def test_every_microgrid_households_equal_the_fixture_memberships(demo_db_shared):
    """Recompute each micro-grid's households from the buildings file and compare with the database."""
    buildings = gpd.read_file(DEMO_DIR / "buildings.geojson")
    expected: Counter[str] = Counter()
    for spec, hh, units, floors in zip(
        buildings["microgrid"], buildings["households"], buildings["units"], buildings["floors"], strict=True
    ):
        entries = parse(spec or "")
        floors = None if pd.isna(floors) else int(floors)
        for entry, share in zip(entries, allocate(entries, int(hh), int(units), floors), strict=True):
            expected[entry.microgrid] += share
    with connect(demo_db_shared) as conn:
        got = dict(
            conn.execute(
                "SELECT a.code, coalesce(sum(m.households), 0)::int FROM area a "
                "LEFT JOIN microgrid_member m ON m.microgrid_id = a.id "
                "WHERE a.level = 'microgrid' AND a.valid_to IS NULL GROUP BY a.code"
            ).fetchall()
        )
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}
    in_band = sum(30 <= v <= 50 for v in got.values())
    residential = sum(v > 0 for v in got.values())
    # The simple demo partition may miss the band where the arithmetic forbids it, but rarely.
    assert in_band / residential > 0.85, (in_band, residential)


def test_every_building_is_in_exactly_one_microgrid_or_split_by_unit(demo_db_shared):
    with connect(demo_db_shared) as conn:
        rows = conn.execute(
            "SELECT b.code, b.households, count(m.id), coalesce(sum(m.households), 0), "
            "bool_and(m.unit_from IS NULL AND m.floor_from IS NULL) "
            "FROM building b LEFT JOIN microgrid_member m ON m.building_id = b.id GROUP BY b.id"
        ).fetchall()
        unassigned = [code for code, _, n, _, _ in rows if n == 0]
        # A building in several micro-grids must be split by unit/floor (the exclusion constraint keeps
        # the parts disjoint) and its parts must add up to its households.
        for code, hh, n, total, whole in rows:
            if n > 1:
                assert not whole, code
            if n:
                assert total == hh, code
        assert unassigned == [], unassigned  # the demo assigns every building
        shared = conn.execute(
            "SELECT count(DISTINCT microgrid_id) FROM microgrid_member "
            "WHERE unit_from IS NOT NULL OR floor_from IS NOT NULL"
        ).fetchone()[0]
        assert shared > 0  # towers are split by unit (单元) into several micro-grids


def test_hierarchy_codes_cells_and_people(demo_db_shared):
    with connect(demo_db_shared) as conn:
        bad_prefix = conn.execute(
            "SELECT count(*) FROM area c JOIN area p ON p.id = c.parent_id AND p.valid_to IS NULL "
            "WHERE c.valid_to IS NULL AND left(c.code, length(p.code)) <> p.code"
        ).fetchone()[0]
        assert bad_prefix == 0
        microgrids, cells, without_cell = conn.execute(
            "SELECT count(*), count(DISTINCT pc.party_cell_id), count(*) FILTER (WHERE pc.party_cell_id IS NULL) "
            "FROM area a LEFT JOIN party_cell_microgrid pc ON pc.microgrid_id = a.id "
            "WHERE a.level = 'microgrid' AND a.valid_to IS NULL"
        ).fetchone()
        assert without_cell == 0
        assert 1.5 <= microgrids / cells <= 2.0  # about two micro-grids per party cell, as in Chengdu
        kinds = dict(
            conn.execute(
                "SELECT kind, count(*) FROM area WHERE level = 'grid' AND valid_to IS NULL GROUP BY kind"
            ).fetchall()
        )
        assert kinds.get("comprehensive", 0) > 0 and kinds.get("specialised", 0) > 0
        roles = dict(conn.execute("SELECT role, count(*) FROM person GROUP BY role").fetchall())
        assert set(roles) == {"grid_worker", "microgrid_worker", "building_chief", "cell_leader"}
        fake = conn.execute("SELECT count(*) FROM person WHERE phone NOT LIKE '100%%'").fetchone()[0]
        assert fake == 0  # every phone is clearly fake: no Chinese mobile number starts with 100


def test_microgrids_lie_inside_their_grid(demo_db_shared):
    with connect(demo_db_shared) as conn:
        outside = conn.execute(
            "SELECT count(*) FROM area m JOIN area g ON g.id = m.parent_id AND g.valid_to IS NULL "
            "WHERE m.level = 'microgrid' AND m.valid_to IS NULL "
            # The write path's rule: inside the grid give or take 1 m (coordinates are stored to ≈1 cm).
            "AND NOT ST_Covers(ST_Buffer(g.geom::geography, 1)::geometry, m.geom)"
        ).fetchone()[0]
        assert outside == 0


def test_loading_the_demo_twice_changes_nothing(demo_db):
    with connect(demo_db) as conn:
        before = conn.execute("SELECT count(*), max(row_id) FROM area").fetchone()
    with psycopg.connect(demo_db) as conn:
        reports = load_demo(conn)
    assert all(r.created == 0 and r.updated == 0 and r.unchanged == r.rows for r in reports)
    with connect(demo_db) as conn:
        assert conn.execute("SELECT count(*), max(row_id) FROM area").fetchone() == before
