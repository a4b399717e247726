"""One set of geometry rules for every write path: an import is judged like the API, a draft save and a
partition apply, and a file read in the wrong datum is stopped before it moves the map."""

from __future__ import annotations

import math

import geopandas as gpd
import pytest
import shapely

from gridmap.access.rules import cli_principal
from gridmap.areas import rules
from gridmap.areas.edit import AreaFields, update_area
from gridmap.coords import geometry_from_wgs84
from gridmap.io.export import export_frame
from gridmap.io.importer import import_file
from gridmap.partition import coverage
from tests.support.helpers import connect, feature, write_geojson

SHIFT_M = 60.0


def _state(url: str) -> tuple:
    """Everything the rules guard: current areas with their shapes, and every membership."""
    with connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT md5(string_agg(code || ST_AsText(geom), ',' ORDER BY code)) FROM area"
            " WHERE valid_to IS NULL),"
            " (SELECT md5(string_agg(m::text, ',' ORDER BY m.id)) FROM microgrid_member m)"
        ).fetchone()


def _errors(url: str) -> int:
    with connect(url) as conn:
        return coverage.check(conn).errors


def _busiest_grid(conn) -> str:
    """A grid of the comprehensive layer with the most same-layer neighbours (so a shift overlaps them)."""
    return conn.execute(
        "SELECT g.code FROM area g JOIN area o ON o.level = 'grid' AND o.valid_to IS NULL AND o.id <> g.id"
        " AND o.layer = g.layer AND ST_Touches(o.geom, g.geom)"
        " WHERE g.level = 'grid' AND g.valid_to IS NULL AND g.layer = 'comprehensive'"
        " GROUP BY g.code ORDER BY count(*) DESC, g.code LIMIT 1"
    ).fetchone()[0]


def _shift_east(geom: shapely.Geometry, metres: float) -> shapely.Geometry:
    lat = shapely.centroid(geom).y
    return shapely.affinity.translate(geom, xoff=metres / (111_320 * math.cos(math.radians(lat))))


def test_a_shifted_grid_is_refused_naming_its_rows_and_square_metres(demo_db, tmp_path):
    before, errors_before = _state(demo_db), _errors(demo_db)
    with connect(demo_db) as conn:
        grids = export_frame(conn, "grids")
        code = _busiest_grid(conn)
        children = conn.execute(
            "SELECT count(*) FROM area k JOIN area g ON g.id = k.parent_id AND g.valid_to IS NULL"
            " WHERE k.valid_to IS NULL AND g.code = %s",
            (code,),
        ).fetchone()[0]
    at = grids.index[grids["code"] == code][0]
    grids.loc[at, "geometry"] = _shift_east(grids.loc[at, "geometry"], SHIFT_M)
    path = tmp_path / "grids.geojson"
    grids.to_file(path, engine="pyogrio")
    for commit in (False, True):
        with connect(demo_db) as conn:
            report = import_file(conn, "grids", path, commit=commit)
        assert not report.ok and not report.committed and report.updated == 1
        problems = {e.reason.split(" ")[1] for e in report.errors if e.code == code}
        assert {"overlaps", "sticks"} <= problems, report.errors  # neighbours and the community
        row = at + 1
        mine = [e for e in report.errors if e.code == code]
        assert all(e.row == row and e.field == "geometry" for e in mine)
        overlaps = [e for e in mine if " overlaps " in e.reason]
        assert overlaps and all(float(e.reason.split(" by ")[1].split(" ")[0].replace(",", "")) > 1 for e in overlaps)
        assert all("(row " in e.reason for e in overlaps)  # the neighbours are rows of this file too
        left_outside = [e for e in report.errors if "left sticking out" in e.reason]
        assert 0 < len(left_outside) <= children  # the micro-grids the shift left outside their grid
        assert all(e.text("zh").startswith(e.code) and "平方米" in e.text("zh") for e in report.errors)
    assert _state(demo_db) == before
    assert _errors(demo_db) == errors_before


def test_the_api_refuses_the_same_shift_with_the_same_rules(demo_db):
    with connect(demo_db) as conn:
        code = _busiest_grid(conn)
        area_id, version, wkb = conn.execute(
            "SELECT id, version, ST_AsBinary(geom) FROM area WHERE code = %s AND valid_to IS NULL", (code,)
        ).fetchone()
        moved = _shift_east(shapely.from_wkb(wkb), SHIFT_M)
        with pytest.raises(rules.RulesBroken) as refused:
            update_area(conn, cli_principal(), area_id, version, AreaFields(geometry=moved))
    found = {b.problem for b in refused.value.breaches}
    assert {"overlap", "outside_parent", "child_outside"} <= found
    assert all(b.code for b in refused.value.breaches)


def test_a_small_edit_inside_the_tolerances_is_imported(demo_db, tmp_path):
    with connect(demo_db) as conn:
        grids = export_frame(conn, "grids")
    code = grids["code"].iloc[0]
    grids.loc[grids.index[0], "name"] = "新名称网格"
    path = write_geojson(tmp_path / "g.geojson", [])
    grids.to_file(path, engine="pyogrio")
    with connect(demo_db) as conn:
        report = import_file(conn, "grids", path, commit=True)
        assert report.ok and report.committed and report.updated == 1, report.errors
        assert conn.execute("SELECT name FROM area WHERE code = %s AND valid_to IS NULL", (code,)).fetchone()[0] == (
            "新名称网格"
        )


def test_a_building_with_households_in_no_microgrid_is_refused_and_a_shed_is_listed(demo_db, tmp_path):
    with connect(demo_db) as conn:
        (minx, miny, maxx, maxy) = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM area"
            " WHERE valid_to IS NULL) x"
        ).fetchone()
    outside = shapely.box(maxx + 0.01, maxy + 0.01, maxx + 0.0103, maxy + 0.0103)  # beyond every micro-grid
    for households, ok in ((12, False), (0, True)):
        path = write_geojson(
            tmp_path / f"b{households}.geojson",
            [
                feature(
                    {"code": f"NEW-{households}", "households": households},
                    shapely.geometry.mapping(outside)["coordinates"],
                )
            ],
        )
        with connect(demo_db) as conn:
            report = import_file(conn, "buildings", path, commit=True)
        assert report.ok is ok, report.errors
        if not ok:
            (error,) = report.errors
            assert error.row == 1 and "in no micro-grid" in error.reason and "不属于任何微网格" in error.text("zh")
        else:
            assert report.unassigned == [f"NEW-{households}"]


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_an_unlabelled_file_in_a_chinese_datum_is_stopped_and_crs_decides(demo_db, tmp_path, datum):
    before = _state(demo_db)
    with connect(demo_db) as conn:
        grids = export_frame(conn, "grids")
    shifted = gpd.GeoDataFrame(grids.drop(columns="geometry"), geometry=geometry_from_wgs84(
        grids.geometry.to_numpy(), datum), crs=4326)  # fmt: skip
    path = tmp_path / "grids.geojson"
    shifted.to_file(path, engine="pyogrio")  # labelled WGS-84 by GeoJSON's rule, as offices' files are
    with connect(demo_db) as conn:
        stopped = import_file(conn, "grids", path, commit=True)
        (error,) = stopped.errors
        name = {"gcj02": "GCJ-02", "bd09": "BD-09"}[datum]
        assert error.row == 0 and error.field == "crs" and name in error.reason and f"--crs {datum}" in error.reason
        assert name in error.text("zh") and stopped.created == stopped.updated == 0
        told = import_file(conn, "grids", path, crs=datum)
        assert told.ok and told.updated == 0 and told.unchanged == len(grids), told.errors
    # New rows are compared with the parent they name: shifted micro-grids under new codes.
    with connect(demo_db) as conn:
        mgs = export_frame(conn, "microgrids").head(40)
    mgs["code"] = [c[:-3] + str(900 + i) for i, c in enumerate(mgs["code"])]
    moved = gpd.GeoDataFrame(mgs.drop(columns="geometry"), geometry=geometry_from_wgs84(
        mgs.geometry.to_numpy(), datum), crs=4326)  # fmt: skip
    new_path = tmp_path / "new.geojson"
    moved.to_file(new_path, engine="pyogrio")
    with connect(demo_db) as conn:
        fresh = import_file(conn, "microgrids", new_path)
    assert [e.field for e in fresh.errors] == ["crs"], fresh.errors
    assert _state(demo_db) == before


def test_a_new_micro_grid_over_one_that_holds_buildings_is_refused(demo_db, tmp_path):
    """An empty micro-grid may share only building footprints with a filled one (a new unit part of a tower):
    a copy of three filled micro-grids under new codes covers their whole land and is refused."""
    with connect(demo_db) as conn:
        filled = conn.execute(
            "SELECT a.code FROM area a WHERE a.level = 'microgrid' AND a.valid_to IS NULL AND a.layer = 'comprehensive'"
            " AND EXISTS (SELECT 1 FROM microgrid_member m WHERE m.microgrid_id = a.id)"
            " AND NOT EXISTS (SELECT 1 FROM microgrid_member m JOIN microgrid_member o ON o.building_id = m.building_id"
            " AND o.microgrid_id <> m.microgrid_id WHERE m.microgrid_id = a.id) ORDER BY a.code LIMIT 3"
        ).fetchall()
        mgs = export_frame(conn, "microgrids")
    copies = mgs[mgs["code"].isin([c for (c,) in filled])].copy()
    copies["code"] = [c[:-3] + str(990 + i) for i, c in enumerate(copies["code"])]
    path = tmp_path / "copies.gpkg"
    copies.to_file(path, engine="pyogrio")
    before = _state(demo_db)
    with connect(demo_db) as conn:
        report = import_file(conn, "microgrids", path, crs="wgs84", commit=True)
    assert not report.committed and report.created == 3
    overlapped = {e.code for e in report.errors if " overlaps " in e.reason}
    assert overlapped == set(copies["code"]), report.errors  # each copy, on its own row
    assert all(e.field == "geometry" and e.row > 0 for e in report.errors)
    assert _state(demo_db) == before


def test_a_new_unit_micro_grid_on_a_stored_tower_is_accepted(demo_db, tmp_path):
    """The other side of the rule: an empty micro-grid drawn on one stored building's footprint (a new unit part
    of a tower) overlaps the filled micro-grid holding it only on that footprint, and is imported."""
    with connect(demo_db) as conn:
        grid, code, wkb = conn.execute(
            "SELECT g.code, a.code, ST_AsBinary(b.geom) FROM building b"
            " JOIN microgrid_member m ON m.building_id = b.id"
            " JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL AND a.layer = 'comprehensive'"
            " JOIN area g ON g.id = a.parent_id AND g.valid_to IS NULL"
            " WHERE ST_Covers(a.geom, b.geom) AND ST_Area(b.geom::geography) > 200 ORDER BY b.code LIMIT 1"
        ).fetchone()
    new = gpd.GeoDataFrame({"code": [grid + "990"], "name": ["新单元微网格"], "parent": [grid]},
                           geometry=[shapely.from_wkb(wkb)], crs=4326)  # fmt: skip
    path = tmp_path / "unit.gpkg"
    new.to_file(path, engine="pyogrio")
    with connect(demo_db) as conn:
        report = import_file(conn, "microgrids", path, crs="wgs84")
    assert report.ok and report.created == 1, (code, report.errors)
