"""Coverage checks on hand-made layers with one defect of each kind, and on the demo city."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import psycopg
import pytest
import shapely

from gridmap.io.importer import import_file
from gridmap.partition.algorithm import Band
from gridmap.partition.coverage import Tolerances, check
from tests.conftest import SESSION_TAG
from tests.support.coverage_layers import CV, DD, EXPECTED, EXPECTED_COMMUNITY, G2, GAP_M2, B, C, load_layers
from tests.support.helpers import GRIDMAP_COMMAND, create_database, drop_database, feature, write_geojson

DEMO_COMMUNITY = "440309002005"


@pytest.fixture(scope="module")
def layers_db(server_url: str, empty_template: str, tmp_path_factory) -> Iterator[str]:
    name = f"gm_coverage_layers_{SESSION_TAG}"  # one per session: sessions may share the server
    url = create_database(server_url, name, empty_template)
    load_layers(url, tmp_path_factory.mktemp("coverage"))
    yield url
    drop_database(server_url, name)


def _found(report) -> set[tuple[str, tuple[str, ...]]]:
    return {(f.problem, f.codes) for f in report.findings}


def test_each_kind_of_defect_is_found_and_nothing_else(layers_db):
    with psycopg.connect(layers_db) as conn:
        report = check(conn)
    assert _found(report) == EXPECTED
    assert len(report.findings) == len(EXPECTED)
    by = {(f.problem, f.codes[-1]): f for f in report.findings}
    # The 0.2 m² sliver between A and B is not a gap of its own; the real gap is measured.
    assert by[("gap", "440309902001001")].detail["area_m2"] == pytest.approx(GAP_M2, rel=0.03)
    assert by[("overlap", DD)].detail["area_m2"] == pytest.approx(0.2 * 102.7 * 2 * 111.0 * 1, rel=0.03)
    assert by[("building_unassigned", "CV-UNASSIGNED")].severity == "error"
    assert by[("building_unassigned", "CV-SHED")].severity == "warning"  # no households left unserved
    assert by[("out_of_band", B)].detail["households"] == 55
    assert report.errors == 6 and not report.summary()["ok"]
    for f in report.findings:  # every finding can be drawn where it is
        assert f.geometry.is_valid and not f.geometry.is_empty
        assert f.geometry.intersects(shapely.box(114.049, 22.619, 114.056, 22.623))


def test_scope_of_one_community_or_grid(layers_db):
    with psycopg.connect(layers_db) as conn:
        assert _found(check(conn, CV)) == EXPECTED_COMMUNITY
        grid = check(conn, G2)
    assert _found(grid) == {
        ("overlap", (C, DD)), ("outside_parent", (DD, G2)), ("building_elsewhere", (B, C, "CV-ELSEWHERE")),
        ("out_of_band", (C,)), ("no_party_cell", (C,)), ("no_people", (C,)),
    }  # fmt: skip
    assert grid.checked == {"communities": 0, "grids": 1, "microgrids": 2, "buildings": 2}


def test_tolerances_and_band_change_what_is_reported(layers_db):
    with psycopg.connect(layers_db) as conn:
        loose = check(conn, CV, tolerances=Tolerances(gap_m2=10_000, overlap_m2=10_000, outside_m=20))
        wide = check(conn, CV, band=Band(30, 60))
    assert {f.problem for f in loose.findings}.isdisjoint({"gap", "overlap", "outside_parent"})
    assert _found(loose) == {x for x in EXPECTED_COMMUNITY if x[0] not in ("gap", "overlap", "outside_parent")}
    assert _found(wide) == EXPECTED_COMMUNITY - {("out_of_band", (B,))}


def test_bad_scope_is_refused(layers_db):
    from gridmap.errors import InvalidInput, NotFound

    with psycopg.connect(layers_db) as conn:
        with pytest.raises(NotFound):
            check(conn, "440309902777")
        with pytest.raises(InvalidInput):
            check(conn, "12ab")
        with pytest.raises(InvalidInput, match="micro-grid"):
            check(conn, DD)
    with pytest.raises(InvalidInput):
        Tolerances(gap_m2=float("nan"))


def test_demo_city_has_full_coverage_and_its_warnings_are_true(demo_db_shared):
    with psycopg.connect(demo_db_shared) as conn:
        report = check(conn)
        out_of_band = set(conn.execute(
            "SELECT a.code FROM area a LEFT JOIN area_households h ON h.id = a.id"
            " WHERE a.level = 'microgrid' AND a.valid_to IS NULL AND coalesce(h.households, 0) NOT BETWEEN 30 AND 50"
        ).fetchall())  # fmt: skip
        split = [f for f in report.findings if f.problem == "building_split"]
        assert split, "the demo city should have buildings split between micro-grids to check"
        for f in split[:40]:  # the footprint really reaches into a micro-grid that does not hold it
            reach = conn.execute(
                "SELECT max(ST_Area(ST_Intersection(a.geom, b.geom)::geography)) FROM building b JOIN area a"
                " ON a.level = 'microgrid' AND a.valid_to IS NULL AND ST_Intersects(a.geom, b.geom)"
                " WHERE b.code = %s"
                " AND a.id NOT IN (SELECT microgrid_id FROM microgrid_member WHERE building_id = b.id)",
                (f.codes[-1],),
            ).fetchone()[0]  # fmt: skip
            assert reach >= 5, f.message
    assert report.errors == 0, [f.message for f in report.findings if f.severity == "error"][:5]
    assert report.checked["microgrids"] > 1000 and report.checked["buildings"] > 1000
    assert {f.codes for f in report.findings if f.problem == "out_of_band"} == {(c,) for (c,) in out_of_band}


def test_a_redrawn_micro_grid_leaves_a_gap_that_is_found(demo_db, tmp_path):
    with psycopg.connect(demo_db) as conn:
        code, name, parent, wkb = conn.execute(
            "SELECT a.code, a.name, p.code, ST_AsBinary(a.geom) FROM area a JOIN area p ON p.id = a.parent_id"
            " AND p.valid_to IS NULL WHERE a.level = 'microgrid' AND a.valid_to IS NULL AND a.code LIKE %s"
            " AND ST_NumGeometries(a.geom) = 1 AND NOT EXISTS (SELECT 1 FROM microgrid_member m JOIN microgrid_member o"
            " ON o.building_id = m.building_id AND o.microgrid_id <> m.microgrid_id WHERE m.microgrid_id = a.id)"
            " ORDER BY ST_Area(a.geom) DESC LIMIT 1",
            (DEMO_COMMUNITY + "%",),
        ).fetchone()  # fmt: skip
        before = check(conn, DEMO_COMMUNITY)
        old = shapely.from_wkb(wkb)
        shrunk = old.buffer(-0.0001).buffer(0)  # about 10 m in from every edge: stays inside, touches no one
        path = write_geojson(tmp_path / "m.geojson", [feature({"code": code, "name": name, "parent": parent},
                                                              json.loads(shapely.to_geojson(shrunk))["coordinates"],
                                                              shrunk.geom_type)])  # fmt: skip
        assert import_file(conn, "microgrids", path, commit=True).ok
        after = check(conn, DEMO_COMMUNITY)
    new = _found(after) - _found(before)
    gaps = [f for f in after.findings if f.problem == "gap"]
    assert [f.codes for f in gaps] == [(DEMO_COMMUNITY, parent)]
    lost_m2 = sum(f.detail["area_m2"] for f in gaps)
    assert lost_m2 == pytest.approx(_m2(old) - _m2(shrunk), rel=0.02)
    # Buildings whose land was cut off may now be reported; nothing else is new.
    assert {p for p, _ in new} <= {"gap", "building_split", "building_elsewhere"}


def _m2(geom) -> float:
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").geometry_area_perimeter(geom)[0])


def test_cli_check_exit_codes_and_formats(layers_db, demo_db_shared):
    def run(url, *args):
        env = {"GRIDMAP_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
        return subprocess.run([GRIDMAP_COMMAND, "check", *args], capture_output=True, text=True, env=env, timeout=120)

    table = run(layers_db, "--community", CV)
    assert table.returncode == 1, table.stderr
    assert "gap" in table.stdout and "6 error(s)" in table.stdout
    geo = run(layers_db, "--area", CV, "--format", "geojson")
    assert geo.returncode == 1
    collection = json.loads(geo.stdout)
    found = {(f["properties"]["problem"], tuple(f["properties"]["codes"])) for f in collection["features"]}
    assert found == EXPECTED_COMMUNITY
    loose = run(layers_db, "--area", G2, "--format", "json", "--gap-m2", "100000")
    assert json.loads(loose.stdout)["summary"]["problems"]["overlap"] == 0
    clean = run(demo_db_shared, "--community", DEMO_COMMUNITY, "--format", "json")
    assert clean.returncode == 0, clean.stdout[-500:]
    assert json.loads(clean.stdout)["summary"]["ok"] is True
    bad = run(layers_db, "--community", "440309902999")
    assert bad.returncode == 2 and "no area has code" in bad.stderr
