"""The in-process lookup index answers exactly as the SQL path does: on the demo city at every
micro-grid's representative point, every building's centroid, every midpoint of an edge two micro-grids
share, a lattice over the whole city (gaps, fallback owners, outside), and the split towers by unit and
floor; and it follows writes (patches) without a rebuild."""

from __future__ import annotations

import numpy as np
import orjson
import psycopg
import pytest
import shapely

from gridmap.db.epoch import announce_write
from gridmap.lookup import LookupOptions, lookup_now, lookup_sql
from gridmap.lookup.index import LookupIndex
from gridmap.lookup.live import LiveIndex

REPRESENTATIVE = """SELECT ST_X(p), ST_Y(p) FROM (
    SELECT ST_PointOnSurface(geom) AS p FROM area WHERE level = 'microgrid' AND valid_to IS NULL) s"""
CENTROIDS = "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM building) s"
MICROGRIDS = "SELECT layer, ST_AsBinary(geom) FROM area WHERE level = 'microgrid' AND valid_to IS NULL"
LATTICE = """
SELECT ST_X(p), ST_Y(p) FROM (
    SELECT ST_MakePoint(ST_XMin(e) + (ST_XMax(e) - ST_XMin(e) + 0.004) * i / 60.0 - 0.002,
                        ST_YMin(e) + (ST_YMax(e) - ST_YMin(e) + 0.004) * j / 60.0 - 0.002) AS p
    FROM (SELECT ST_Extent(geom)::geometry AS e FROM area WHERE level = 'subdistrict') x,
         generate_series(0, 60) i, generate_series(0, 60) j) s"""
SPLIT_CENTROIDS = """
SELECT ST_X(c), ST_Y(c) FROM (
    SELECT ST_PointOnSurface(b.geom) AS c FROM building b
    WHERE b.id IN (SELECT building_id FROM microgrid_member GROUP BY 1 HAVING count(DISTINCT microgrid_id) > 1)) s"""


def _shared_edge_midpoints(conn) -> list[tuple[float, float]]:
    """The middle of the first line each two touching micro-grids (of one layer) share."""
    rows = conn.execute(MICROGRIDS).fetchall()
    layers = np.array([r[0] for r in rows])
    boundaries = shapely.boundary(shapely.from_wkb([r[1] for r in rows]))
    left, right = shapely.STRtree(boundaries).query(boundaries, predicate="intersects")
    keep = (left < right) & (layers[left] == layers[right])
    lines = []
    for shared in shapely.intersection(boundaries[left[keep]], boundaries[right[keep]]):
        parts = [g for g in shapely.get_parts(shared) if g.geom_type == "LineString"]
        if parts:
            lines.append(shapely.get_parts(shapely.line_merge(shapely.multilinestrings(parts)))[0])
    return [(p.x, p.y) for p in shapely.line_interpolate_point(lines, 0.5, normalized=True)]


def _json(value):
    return orjson.loads(orjson.dumps(value))


def _compare(conn, index, points, options) -> tuple[int, int]:
    """(points the index answered, points it left to SQL); fails on the first answer that differs."""
    fast = lookup_now(index, points, options)
    slow = lookup_sql(conn, points, options)
    answered = 0
    for point, mine, truth in zip(points, fast, slow, strict=True):
        if mine is None:
            continue
        answered += 1
        assert _json(mine) == _json(truth), f"{point} {options}"
    return answered, len(points) - answered


@pytest.fixture(scope="module")
def demo_index(demo_db_shared):
    with psycopg.connect(demo_db_shared) as conn:
        yield conn, LookupIndex(conn)


@pytest.mark.parametrize("name", ["representative", "centroids", "shared_edges", "lattice"])
def test_index_answers_equal_sql(demo_index, name):
    conn, index = demo_index
    if name == "shared_edges":
        points = _shared_edge_midpoints(conn)
    else:
        query = {"representative": REPRESENTATIVE, "centroids": CENTROIDS, "lattice": LATTICE}[name]
        points = [tuple(p) for p in conn.execute(query).fetchall()]
    assert len(points) > 100
    answered, left = _compare(conn, index, points, LookupOptions())
    # Only points in a gap near a micro-grid ("nearest") are left to PostGIS.
    assert answered >= 0.8 * len(points), (answered, left)
    if name in ("representative", "centroids"):
        assert left == 0


@pytest.mark.parametrize("unit,floor", [(None, None), (1, None), (2, None), (1, 1), (1, 30), (9, None)])
def test_split_towers_by_unit_and_floor_equal_sql(demo_index, unit, floor):
    conn, index = demo_index
    points = [tuple(p) for p in conn.execute(SPLIT_CENTROIDS).fetchall()]
    assert points, "the demo city has towers split by unit or floor"
    answered, left = _compare(conn, index, points, LookupOptions(unit=unit, floor=floor))
    assert answered == len(points)


def test_other_layers_equal_sql(demo_index):
    conn, index = demo_index
    layers = sorted(index.layers - {"comprehensive"})
    points = [tuple(p) for p in conn.execute(REPRESENTATIVE).fetchall()]
    for layer in layers:
        answered, _ = _compare(conn, index, points, LookupOptions(layer=layer))
        assert answered > 0


def test_past_instants_and_all_layers_are_left_to_sql(demo_index):
    conn, index = demo_index
    from datetime import UTC, datetime

    point = conn.execute(REPRESENTATIVE + " LIMIT 1").fetchone()
    assert lookup_now(index, [point], LookupOptions(at=datetime.now(UTC))) == [None]
    assert lookup_now(index, [point], LookupOptions(layer="all")) == [None]
    assert lookup_now(None, [point], LookupOptions()) == [None]


def test_live_index_follows_writes_by_patching(demo_db):
    """A write committed before current() is in the answer: a renamed micro-grid, a moved person, a
    building's households, each applied as a patch (the build is not repeated)."""
    live = LiveIndex(demo_db)
    live.start()
    try:
        assert live.wait_ready(120)
        first = live.current()
        with psycopg.connect(demo_db) as conn:
            point = conn.execute(REPRESENTATIVE + " LIMIT 1").fetchone()
            before = lookup_now(first, [point], LookupOptions())[0]
            mg = before["microgrid"]
            conn.execute("UPDATE area SET valid_to = now() WHERE id = %s AND valid_to IS NULL", (mg["id"],))
            conn.execute(
                "INSERT INTO area (id, version, level, code, parent_id, name, kind, layer, geom, attrs)"
                " SELECT id, version + 1, level, code, parent_id, '改名微网格', kind, layer, geom, attrs"
                " FROM area WHERE id = %s AND valid_to = (SELECT max(valid_to) FROM area WHERE id = %s)",
                (mg["id"], mg["id"]),
            )
            conn.execute(
                "UPDATE person SET name = '新网格员' WHERE area_id = %s AND role = 'microgrid_worker'", (mg["id"],)
            )
            conn.commit()
            announce_write(demo_db)
            index = live.current()
            assert index is first  # patched in place, not rebuilt
            after = lookup_now(index, [point], LookupOptions())[0]
            assert after["microgrid"]["name"] == "改名微网格" and after["microgrid"]["version"] == mg["version"] + 1
            assert "新网格员" in {p["name"] for p in after["people"]}
            assert _json(after) == _json(lookup_sql(conn, [point], LookupOptions())[0])
    finally:
        live.close()


@pytest.mark.parametrize("unit,floor", [(None, None), (1, None), (2, None), (2, 3)])
def test_handmade_city_edges_corners_holes_gaps_and_towers_equal_sql(handmade_db, unit, floor):
    """The hand-made city's lookup cases (tests/lookup/test_lookup.py) on a fine lattice, through the index."""
    from tests.lookup.test_lookup import CORNER, EDGE, HOLE, TOWER

    with psycopg.connect(handmade_db) as conn:
        index = LookupIndex(conn)
        lattice = [tuple(p) for p in conn.execute(LATTICE.replace("generate_series(0, 60)", "generate_series(0, 40)"))]
        points = [EDGE, CORNER, HOLE, TOWER, *lattice]
        answered, left = _compare(conn, index, points, LookupOptions(unit=unit, floor=floor))
        assert answered >= 4 and left < len(points)
        assert lookup_now(index, [EDGE, CORNER, TOWER], LookupOptions(unit=unit, floor=floor)).count(None) == 0
