"""Import: dry run vs commit, versions on change, every class of bad input, CRS handling."""

from __future__ import annotations

import json

import geopandas as gpd
import psycopg
import pytest
import shapely

from gridmap.coords import from_wgs84
from gridmap.errors import InvalidInput
from gridmap.io.importer import import_file
from tests.support.helpers import COMM, GRID, SUB, cli, connect, count, feature, small_city, square, write_geojson


def _import(url, level, path, **kw):
    with psycopg.connect(url) as conn:
        return import_file(conn, level, path, **kw)


def _load_city(url, files):
    for level in ("subdistricts", "communities", "grids", "microgrids"):
        report = _import(url, level, files[level], commit=True)
        assert report.ok and report.committed, report.errors


def test_dry_run_reports_and_writes_nothing_then_commit_writes(empty_db, tmp_path):
    files = small_city(tmp_path)
    dry = _import(empty_db, "subdistricts", files["subdistricts"])
    assert dry.ok and not dry.committed and dry.created == 1
    with connect(empty_db) as conn:
        assert count(conn, "area") == 0
    done = _import(empty_db, "subdistricts", files["subdistricts"], commit=True)
    assert done.committed and done.created == 1
    again = _import(empty_db, "subdistricts", files["subdistricts"], commit=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    with connect(empty_db) as conn:
        assert count(conn, "area") == 1


# Every table an import writes (area_piece through the area trigger, audit_log on commit).
WRITTEN_TABLES = ("area", "area_identity", "area_piece", "building", "microgrid_member", "party_cell",
                  "party_cell_microgrid", "person", "audit_log")  # fmt: skip


def _everything(url: str) -> dict[str, tuple[int, str]]:
    """(row count, md5 of every row) of each table an import may write."""
    with connect(url) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t"  # noqa: S608
            ).fetchone()
            for table in WRITTEN_TABLES
        }


def _stocked_city(url, tmp_path) -> None:
    """The small city, one building in the first micro-grid, one party cell over it and one grid worker."""
    _load_city(url, small_city(tmp_path))
    base = {
        "buildings": write_geojson(tmp_path / "b0.geojson", [
            feature({"code": "B1", "households": 20, "floors": 6}, square(114.0302, 22.6002, 0.0002))]),
        "party-cells": tmp_path / "c0.csv",
        "people": tmp_path / "p0.csv",
    }  # fmt: skip
    base["party-cells"].write_text(f"code,name,branch,microgrids\nC1,第一党小组,支部,{GRID}001\n")
    base["people"].write_text(f"name,phone,role,area,party_cell\n张三,10000000001,grid_worker,{GRID},\n")
    for level, path in base.items():
        report = _import(url, level, path, commit=True)
        assert report.ok and report.committed and report.created == 1, (level, report.errors)


def _changes(level: str, tmp_path) -> tuple[object, int]:
    """A file for ``level`` against the stocked city: one stored row changed, one new row, and how many rows
    are the same as stored."""
    x, y = 114.03, 22.60
    area_rows = {
        "subdistricts": [
            feature({"code": SUB, "name": "测试街道（改名）"}, square(x, y, 0.01)),
            feature({"code": "440309902", "name": "新街道"}, square(114.05, y, 0.01)),
        ],
        "communities": [
            # renamed and shrunk to the south-west quarter, which leaves room for a new community
            feature({"code": COMM, "name": "测试社区（改名）", "parent": SUB}, square(x, y, 0.005)),
            feature({"code": SUB + "002", "name": "新社区", "parent": SUB}, square(114.035, 22.605, 0.001)),
        ],
        "grids": [
            feature({"code": GRID, "name": "第1网格", "parent": COMM}, square(x, y, 0.0025)),  # moved
            feature({"code": COMM + "002", "name": "第2网格", "parent": COMM}, square(114.035, 22.605, 0.001)),
        ],
        "microgrids": [
            feature({"code": GRID + "001", "name": "1号微网格（改名）", "parent": GRID}, square(x, y, 0.001)),
            feature({"code": GRID + "002", "name": "2号微网格", "parent": GRID}, square(x + 0.001, y, 0.001)),
            feature({"code": GRID + "003", "name": "3号微网格", "parent": GRID}, square(x, y + 0.001, 0.001)),
        ],
        "buildings": [
            feature({"code": "B1", "households": 25, "floors": 6}, square(114.0302, 22.6002, 0.0002)),
            feature({"code": "B2", "households": 40, "floors": 8}, square(114.0312, 22.6002, 0.0002)),
        ],
    }
    if level in area_rows:
        path = write_geojson(tmp_path / f"{level}.geojson", area_rows[level])
        return path, len(area_rows[level]) - 2
    path = tmp_path / f"{level}.csv"
    if level == "party-cells":
        path.write_text(
            f"code,name,branch,microgrids\nC1,第一党小组（改名）,支部,{GRID}001\nC2,第二党小组,,{GRID}002\n"
        )
    else:
        path.write_text(
            f"name,phone,role,area,party_cell\n张三,10000000009,grid_worker,{GRID},\n李四,10000000002,cell_leader,,C1\n"
        )
    return path, 0


@pytest.mark.parametrize("level", ["subdistricts", "communities", "grids", "microgrids", "buildings",
                                   "party-cells", "people"])  # fmt: skip
def test_a_dry_run_of_every_level_reports_updates_and_creates_and_writes_nothing(empty_db, tmp_path, level):
    _stocked_city(empty_db, tmp_path)
    path, same = _changes(level, tmp_path)
    before = _everything(empty_db)
    dry = _import(empty_db, level, path)
    assert dry.ok and not dry.committed, dry.errors
    assert (dry.created, dry.updated, dry.unchanged) == (1, 1, same)
    assert _everything(empty_db) == before
    # The command line's default is the same dry run.
    shown = cli("import", level, str(path), "--json", GRIDMAP_DATABASE_URL=empty_db)
    assert shown.returncode == 0, shown.stderr
    said = json.loads(shown.stdout)
    assert said["committed"] is False and (said["created"], said["updated"], said["unchanged"]) == (1, 1, same)
    assert _everything(empty_db) == before
    # The commit does what the dry run said, so the fingerprint above would have seen these writes.
    done = _import(empty_db, level, path, commit=True)
    assert done.committed and (done.created, done.updated, done.unchanged) == (1, 1, same)
    after = _everything(empty_db)
    assert after != before and after["audit_log"][0] == before["audit_log"][0] + 1


def test_a_changed_area_gets_a_new_version_and_the_old_one_is_closed(empty_db, tmp_path):
    files = small_city(tmp_path)
    _load_city(empty_db, files)
    moved = write_geojson(
        tmp_path / "moved.geojson",
        [
            feature({"code": GRID + "001", "name": "1号微网格", "parent": GRID}, square(114.03, 22.60, 0.0012)),
            feature({"code": GRID + "002", "name": "2号微网格", "parent": GRID}, square(114.031, 22.60, 0.001)),
        ],
    )
    report = _import(empty_db, "microgrids", moved, commit=True)
    assert (report.updated, report.unchanged) == (1, 1)
    with connect(empty_db) as conn:
        versions = conn.execute(
            "SELECT version, valid_to IS NULL FROM area WHERE code = %s ORDER BY version", (GRID + "001",)
        ).fetchall()
        assert versions == [(1, False), (2, True)]
        # Children keep pointing at the same identity, whatever version the parent is on.
        assert count(conn, "area", f"code = '{GRID}002' AND valid_to IS NULL") == 1


BAD_POLYGONS = {
    "self-intersecting": (
        [[[114.0, 22.6], [114.01, 22.61], [114.01, 22.6], [114.0, 22.61], [114.0, 22.6]]],
        "Polygon",
        "invalid geometry",
    ),
    "empty": ([], "Polygon", "empty geometry"),
    "3D": ([[[114.0, 22.6, 5], [114.01, 22.6, 5], [114.01, 22.61, 5], [114.0, 22.6, 5]]], "Polygon", "3D"),
    "out-of-range": (square(200.0, 22.6), "Polygon", "out of range"),
    "swapped": ([[[22.6, 114.0], [22.61, 114.0], [22.61, 114.01], [22.6, 114.0]]], "Polygon", "swapped"),
    "point": ([114.0, 22.6], "Point", "expected a Polygon"),
}


@pytest.mark.parametrize("case", list(BAD_POLYGONS), ids=list(BAD_POLYGONS))
def test_bad_geometry_rows_are_named_and_nothing_is_written(empty_db, tmp_path, case):
    coords, gtype, reason = BAD_POLYGONS[case]
    path = write_geojson(
        tmp_path / "bad.geojson",
        [
            feature({"code": "440309901", "name": "好的"}, square(114.0, 22.6)),
            feature({"code": "440309902", "name": "坏的"}, coords, gtype),
        ],
    )
    report = _import(empty_db, "subdistricts", path, commit=True)
    assert not report.committed
    assert [(e.row, e.code) for e in report.errors] == [(2, "440309902")]
    assert reason in report.errors[0].reason
    with connect(empty_db) as conn:
        assert count(conn, "area") == 0 and count(conn, "area_identity") == 0


def test_nan_coordinates_are_refused(empty_db, tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text(
        "code,name,geometry\n"
        '440309901,甲,"POLYGON((114 22.6, 114.01 22.6, 114.01 22.61, 114 22.6))"\n'
        '440309902,乙,"POLYGON((114 22.6, NaN 22.6, 114.01 22.61, 114 22.6))"\n'
    )
    report = _import(empty_db, "subdistricts", path, commit=True)
    assert [e.row for e in report.errors] == [2] and "NaN" in report.errors[0].reason
    with connect(empty_db) as conn:
        assert count(conn, "area") == 0


def test_nul_byte_in_text_is_refused(empty_db, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(
        b'code,name,geometry\n440309901,a\x00b,"POLYGON((114 22.6, 114.01 22.6, 114.01 22.61, 114 22.6))"\n'
    )
    report = _import(empty_db, "subdistricts", path, commit=True)
    assert "NUL" in report.errors[0].reason
    with connect(empty_db) as conn:
        assert count(conn, "area") == 0


def test_duplicate_codes_orphans_bad_codes_and_kinds(empty_db, tmp_path):
    files = small_city(tmp_path)
    _import(empty_db, "subdistricts", files["subdistricts"], commit=True)
    path = write_geojson(
        tmp_path / "communities.geojson",
        [
            feature({"code": COMM, "name": "甲", "parent": SUB}, square(114.03, 22.6)),
            feature({"code": COMM, "name": "乙", "parent": SUB}, square(114.04, 22.6)),  # duplicate
            feature({"code": "440309999001", "name": "丙", "parent": "440309999"}, square(114.05, 22.6)),  # orphan
            feature({"code": "4403", "name": "丁", "parent": SUB}, square(114.06, 22.6)),  # bad code
            feature({"code": SUB + "006", "name": "己", "parent": SUB, "kind": "weird"}, square(114.08, 22.6)),
        ],
    )
    report = _import(empty_db, "communities", path, commit=True)
    reasons = {e.row: e.reason for e in report.errors}
    assert set(reasons) == {2, 3, 4, 5}
    assert "duplicate code" in reasons[2] and "row 1" in reasons[2]
    assert "orphan" in reasons[3] or "start with" in reasons[3]
    assert "12 digits" in reasons[4]
    assert "kind" in reasons[5]
    with connect(empty_db) as conn:
        assert count(conn, "area", "level = 'community'") == 0


def test_orphan_parent_with_matching_prefix(empty_db, tmp_path):
    path = write_geojson(
        tmp_path / "c.geojson", [feature({"code": COMM, "name": "甲", "parent": SUB}, square(114, 22.6))]
    )
    report = _import(empty_db, "communities", path, commit=True)
    assert "orphan" in report.errors[0].reason


def test_unknown_level_and_unreadable_file(empty_db, tmp_path):
    files = small_city(tmp_path)
    with pytest.raises(InvalidInput, match="unknown level"):
        _import(empty_db, "districts", files["subdistricts"])
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(InvalidInput, match="cannot read"):
        _import(empty_db, "subdistricts", broken)


def test_buildings_join_the_microgrid_that_contains_them_or_are_listed_unassigned(empty_db, tmp_path):
    files = small_city(tmp_path)
    _load_city(empty_db, files)
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            feature({"code": "B1", "households": 20, "floors": 6}, square(114.0302, 22.6002, 0.0002)),
            feature(
                {
                    "code": "B2",
                    "households": 90,
                    "floors": 10,
                    "units": 2,
                    "microgrid": f"{GRID}001#u1-1;{GRID}002#u2-2",
                },
                square(114.0305, 22.6005, 0.0002),
            ),
            # in no micro-grid: listed as unassigned, and refused while it has households (the rules)
            feature({"code": "B3", "households": 0}, square(114.05, 22.605, 0.0002)),
        ],
    )
    report = _import(empty_db, "buildings", path, commit=True)
    assert report.ok, report.errors
    assert report.unassigned == ["B3"]
    with connect(empty_db) as conn:
        rows = conn.execute(
            "SELECT b.code, a.code, m.unit_from, m.households FROM microgrid_member m "
            "JOIN building b ON b.id = m.building_id JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL "
            "ORDER BY b.code, a.code"
        ).fetchall()
    assert rows == [("B1", GRID + "001", None, 20), ("B2", GRID + "001", 1, 45), ("B2", GRID + "002", 2, 45)]
    again = _import(empty_db, "buildings", path, commit=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_bad_building_rows(empty_db, tmp_path):
    files = small_city(tmp_path)
    _load_city(empty_db, files)
    sq = square(114.0302, 22.6002, 0.0002)
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            feature({"code": "B1", "households": -3}, sq),
            feature({"code": "B2", "households": 10, "units": 2, "microgrid": f"{GRID}001#u1-3"}, sq),
            feature({"code": "B3", "households": 10, "units": 2, "microgrid": f"{GRID}001#u1-2;{GRID}002#u2-2"}, sq),
            feature({"code": "B4", "households": 10, "microgrid": "440309901001001999"}, sq),
            feature({"code": "B5", "households": "many"}, sq),
            feature({"code": "B6 <script>", "households": 1}, sq),
        ],
    )
    report = _import(empty_db, "buildings", path, commit=True)
    reasons = {e.row: e.reason for e in report.errors}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert "between 0" in reasons[1] and "exceeds" in reasons[2] and "same units" in reasons[3]
    assert "not a current micro-grid" in reasons[4] and "whole number" in reasons[5]
    with connect(empty_db) as conn:
        assert count(conn, "building") == 0


def test_gcj02_input_is_stored_as_wgs84(empty_db, tmp_path):
    lon, lat = 114.03, 22.60
    glon, glat = from_wgs84(lon, lat, "gcj02")
    assert abs(glon - lon) > 1e-3  # the shift is real here (hundreds of metres)
    path = write_geojson(tmp_path / "s.geojson", [feature({"code": SUB, "name": "甲"}, square(glon, glat, 0.01))])
    report = _import(empty_db, "subdistricts", path, crs="gcj02", commit=True)
    assert report.ok
    with connect(empty_db) as conn:
        nearest = conn.execute(
            "SELECT min(ST_Distance((dp).geom::geography, ST_MakePoint(%s, %s)::geography)) "
            "FROM (SELECT ST_DumpPoints(geom) AS dp FROM area) p",
            (lon, lat),
        ).fetchone()[0]
    assert nearest < 0.05  # the corner given in GCJ-02 is stored within 5 cm of its WGS-84 position


def test_epsg_reprojection_and_csv_lonlat(empty_db, tmp_path):
    poly = shapely.Polygon([(0, 0), (1000, 0), (1000, 1000), (0, 1000)])
    frame = gpd.GeoDataFrame(
        {"code": [SUB], "name": ["甲"]}, geometry=[shapely.affinity.translate(poly, 200000, 2500000)], crs="EPSG:32650"
    )
    frame.to_file(tmp_path / "utm.gpkg")
    report = _import(empty_db, "subdistricts", tmp_path / "utm.gpkg", commit=True)
    assert report.ok, report.errors
    with connect(empty_db) as conn:
        x = conn.execute("SELECT ST_X(ST_Centroid(geom)) FROM area").fetchone()[0]
    assert 114.0 < x < 114.2  # UTM 50N (central meridian 117°E): easting 200.5 km is near 114.09°E
    people = tmp_path / "p.csv"
    people.write_text("code,name,lon,lat\n" + f"{SUB},甲,114.0,22.6\n")
    report = _import(empty_db, "subdistricts", people)
    assert "expected a Polygon" in report.errors[0].reason


def test_party_cells_and_people(empty_db, tmp_path):
    files = small_city(tmp_path)
    _load_city(empty_db, files)
    cells = tmp_path / "cells.csv"
    cells.write_text(f"code,name,branch,microgrids\nC1,第一党小组,支部,{GRID}001;{GRID}002\nC2,二,,{GRID}001\n")
    report = _import(empty_db, "party-cells", cells, commit=True)
    assert [e.row for e in report.errors] == [2] and "already given" in report.errors[0].reason
    cells.write_text(f"code,name,branch,microgrids\nC1,第一党小组,支部,{GRID}001;{GRID}002\n")
    assert _import(empty_db, "party-cells", cells, commit=True).created == 1
    people = tmp_path / "people.csv"
    people.write_text(
        "name,phone,role,area,party_cell\n"
        f"张三,10000000001,网格员,{GRID},\n"
        "李四,10000000002,cell_leader,,C1\n"
        "王五,not-a-phone,grid_worker,{GRID},\n"
        "赵六,10000000003,mayor,{GRID},\n"
    )
    report = _import(empty_db, "people", people, commit=True)
    assert [e.row for e in report.errors] == [3, 4]
    people.write_text(
        f"name,phone,role,area,party_cell\n张三,10000000001,网格员,{GRID},\n李四,10000000002,cell_leader,,C1\n"
    )
    report = _import(empty_db, "people", people, commit=True)
    assert report.created == 2
    again = _import(empty_db, "people", people, commit=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT role FROM person WHERE name = '张三'").fetchone()[0] == "grid_worker"


def test_report_is_json_serialisable(empty_db, tmp_path):
    files = small_city(tmp_path)
    report = _import(empty_db, "subdistricts", files["subdistricts"])
    assert json.loads(json.dumps(report.as_dict()))["ok"] is True
