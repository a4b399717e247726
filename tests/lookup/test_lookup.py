"""Lookup rules on the hand-made city (tests/support/handmade.py): inside, edges and corners, holes, gaps
within and beyond the tolerance, outside, unit-split buildings, layers, time travel."""

from __future__ import annotations

import psycopg
import pytest

from gridmap.errors import InvalidInput
from gridmap.lookup import LookupOptions, lookup
from gridmap.points import spatial_order
from tests.support.handmade import CELL, M_LON, PS_MICRO, X0, Y0, M, redraw_m1_m2
from tests.support.helpers import COMM, GRID, SUB

EDGE = (X0 + 0.001, Y0 + 0.0005)  # shared by M1 and M2
CORNER = (X0 + 0.001, Y0 + 0.001)  # shared by M1..M5
HOLE = (X0 + 0.0015, Y0 + 0.0015)  # in M4's hole, 20 m from its edge
TOWER = (X0 + 0.0004, Y0 + 0.0014)  # inside building T1 (units 1 → M3, 2 → M5)


def _one(url: str, point, **options) -> dict:
    with psycopg.connect(url) as conn:
        return lookup(conn, [point], LookupOptions(**options))[0]


def _code(record: dict, key: str = "microgrid") -> str | None:
    return record[key]["code"] if record[key] else None


def test_interior_point_gets_the_whole_chain_and_people(handmade_db):
    r = _one(handmade_db, (X0 + 0.0002, Y0 + 0.0002))
    assert r["match"] == "inside" and r["distance_m"] is None and not r["fallback"]
    assert [_code(r, k) for k in ("microgrid", "grid", "community", "subdistrict")] == [M[1], GRID, COMM, SUB]
    assert r["owner"]["code"] == M[1]
    assert r["party_cell"]["code"] == CELL
    roles = {p["role"]: p for p in r["people"]}
    assert set(roles) == {"microgrid_worker", "building_chief", "cell_leader", "grid_worker"}
    assert roles["grid_worker"]["area"] == GRID and roles["cell_leader"]["party_cell"] == CELL
    assert r["microgrid"]["households"] == 40 and r["grid"]["households"] == 130


def test_point_in_a_building_names_it(handmade_db):
    r = _one(handmade_db, (X0 + 0.0004, Y0 + 0.0004))
    assert r["building"]["code"] == "B1" and _code(r) == M[1]


@pytest.mark.parametrize("point", [EDGE, CORNER], ids=["edge", "corner"])
def test_shared_edges_and_corners_resolve_to_the_lowest_code_every_time(handmade_db, point):
    with psycopg.connect(handmade_db) as conn:
        answers = {_code(r) for r in lookup(conn, [point] * 100, LookupOptions())}
        answers |= {_code(lookup(conn, [point], LookupOptions())[0]) for _ in range(5)}
    assert answers == {M[1]}
    # a new connection (a restarted service) answers the same
    assert _code(_one(handmade_db, point)) == M[1]


def test_edge_between_m2_and_m4_goes_to_m2(handmade_db):
    r = _one(handmade_db, (X0 + 0.0015, Y0 + 0.001))
    assert _code(r) == M[2]


def test_hole_is_unassigned_with_the_grid_as_fallback_owner(handmade_db):
    r = _one(handmade_db, HOLE)
    assert r["match"] == "unassigned" and r["microgrid"] is None and r["fallback"]
    assert r["owner"]["code"] == GRID and _code(r, "community") == COMM and _code(r, "subdistrict") == SUB
    assert {p["role"] for p in r["people"]} == {"grid_worker"}
    assert "属地兜底" in r["note"]


def test_gap_within_tolerance_goes_to_the_nearest_micro_grid(handmade_db):
    r = _one(handmade_db, (X0 + 0.002 + 3 * M_LON, Y0 + 0.0005))
    assert r["match"] == "nearest" and _code(r) == M[2]
    assert 2.5 < r["distance_m"] < 3.5
    assert _code(r, "grid") == GRID


def test_gap_beyond_tolerance_falls_back_to_the_community(handmade_db):
    r = _one(handmade_db, (X0 + 0.002 + 8 * M_LON, Y0 + 0.0005))
    assert r["match"] == "unassigned" and r["owner"]["code"] == COMM and r["grid"] is None
    # a wider tolerance reaches M2
    assert _code(_one(handmade_db, (X0 + 0.002 + 8 * M_LON, Y0 + 0.0005), nearest_m=10)) == M[2]


def test_subdistrict_only_and_outside_everything(handmade_db):
    sub_only = _one(handmade_db, (X0 + 0.008, Y0 + 0.005))
    assert sub_only["owner"]["code"] == SUB and sub_only["community"] is None and sub_only["fallback"]
    outside = _one(handmade_db, (X0 - 0.01, Y0))
    assert outside["match"] == "unassigned" and outside["owner"] is None and not outside["fallback"]
    assert all(outside[k] is None for k in ("microgrid", "grid", "community", "subdistrict"))


def test_unit_split_building_lists_its_micro_grids_and_picks_by_unit(handmade_db):
    r = _one(handmade_db, TOWER)
    assert r["match"] == "inside" and r["microgrid"] is None and r["building"]["code"] == "T1"
    assert sorted(u["microgrid"]["code"] for u in r["units"]) == [M[3], M[5]]
    assert [(u["unit_from"], u["households"]) for u in r["units"]] == [(1, 45), (2, 45)]
    assert r["owner"]["code"] == GRID and "unit" in r["note"]
    assert {p["name"] for p in r["people"]} >= {"微网格员戊", "网格员甲"}
    picked = _one(handmade_db, TOWER, unit=2)
    assert _code(picked) == M[5] and picked["owner"]["code"] == M[5]
    assert {p["name"] for p in picked["people"]} == {"微网格员戊", "网格员甲"}
    missing = _one(handmade_db, TOWER, unit=7)
    assert missing["microgrid"] is None and "unit=7" in missing["note"]


def test_outside_the_tower_but_on_its_territory_the_lowest_code_wins(handmade_db):
    r = _one(handmade_db, (X0 + 0.0001, Y0 + 0.0019))
    assert r["units"] is None and _code(r) == M[3]


def test_layers(handmade_db):
    point = (X0 + 0.0002, Y0 + 0.0002)
    assert _code(_one(handmade_db, point, layer="public_security")) == PS_MICRO
    with psycopg.connect(handmade_db) as conn:
        both = lookup(conn, [point, HOLE], LookupOptions(layer="all"))
        assert [[r["layer"] for r in per] for per in both] == [["comprehensive", "public_security"]] * 2
        assert [_code(r) for r in both[0]] == [M[1], PS_MICRO]
        assert [_code(r) for r in both[1]] == [None, PS_MICRO]
        with pytest.raises(InvalidInput, match="known layers"):
            lookup(conn, [point], LookupOptions(layer="nope"))


def test_batch_keeps_input_order(handmade_db):
    points = [HOLE, (X0 + 0.0002, Y0 + 0.0002), (X0 - 1, Y0), (X0 + 0.0012, Y0 + 0.0002), TOWER] * 3
    with psycopg.connect(handmade_db) as conn:
        batch = lookup(conn, points, LookupOptions())
        singles = [lookup(conn, [p], LookupOptions())[0] for p in points]
    assert [_code(r) for r in batch] == [None, M[1], None, M[2], None] * 3
    assert batch == singles


def test_at_answers_with_the_versions_valid_then(handmade_db_writable, tmp_path):
    point = (X0 + 0.0012, Y0 + 0.0005)
    with psycopg.connect(handmade_db_writable, autocommit=True) as conn:
        before = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    redraw_m1_m2(handmade_db_writable, tmp_path)
    old = _one(handmade_db_writable, point, at=before)
    new = _one(handmade_db_writable, point)
    assert (_code(old), old["microgrid"]["version"]) == (M[2], 1)
    assert (_code(new), new["microgrid"]["version"]) == (M[1], 2)
    assert old["microgrid"]["valid_to"] is not None and new["microgrid"]["valid_to"] is None
    # before anything existed
    with psycopg.connect(handmade_db_writable) as conn:
        created = conn.execute("SELECT min(valid_from) FROM area").fetchone()[0]
    ancient = _one(handmade_db_writable, point, at=created.replace(year=created.year - 1))
    assert ancient["match"] == "unassigned" and ancient["owner"] is None


def test_totals_follow_membership_changes_at_commit(handmade_db_writable):
    with psycopg.connect(handmade_db_writable) as conn:
        conn.execute("UPDATE microgrid_member SET households = households + 5 WHERE microgrid_id = "
                     "(SELECT id FROM area WHERE code = %s)", (M[1],))  # fmt: skip
        conn.commit()
    r = _one(handmade_db_writable, (X0 + 0.0002, Y0 + 0.0002))
    assert r["microgrid"]["households"] == 45 and r["subdistrict"]["households"] == 135


def test_unit_and_floor_are_range_checked(handmade_db):
    with psycopg.connect(handmade_db) as conn, pytest.raises(InvalidInput, match="unit"):
        lookup(conn, [TOWER], LookupOptions(unit=0))


def test_spatial_order_is_a_permutation_that_keeps_neighbours_together():
    # A 4×4 lattice listed row by row: a Z-order walk finishes each 2×2 quadrant before the next.
    lattice = [(x, y) for y in range(4) for x in range(4)]
    order = spatial_order(lattice)
    assert sorted(order) == list(range(16))
    quadrants = [{(lattice[i][0] // 2, lattice[i][1] // 2) for i in order[q : q + 4]} for q in range(0, 16, 4)]
    assert all(len(q) == 1 for q in quadrants)
    assert spatial_order([(1.0, 2.0)]) == [0] and spatial_order([]) == []
