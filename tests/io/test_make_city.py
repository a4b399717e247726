"""The megacity generator (bench/make_city.py): the same city for the same seed, areas that tile the
city and nest, and files that `gridmap import` takes whole, with every known owner found by lookup
and by incident routing. A small scale here; bench/megacity.py runs the big ones."""

from __future__ import annotations

import csv

import psycopg
import pytest
import shapely

from bench import ingest, make_city
from gridmap.incidents.bulk import import_incidents
from gridmap.io.read import read_table
from gridmap.lookup import LookupOptions, lookup
from gridmap.lookup.index import INDEX_FROM_ROWS
from gridmap.partition import coverage
from tests.support.incident_setup import CALENDAR, POLICY

SCALE = 0.004  # ~480 micro-grids


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city")
    counts = make_city.write(out, SCALE, seed=3, lookup_points=500, log=lambda m: None)
    return out, counts


def test_same_seed_same_files_other_seed_other_city(city, tmp_path):
    out, counts = city
    again = make_city.write(tmp_path / "again", SCALE, seed=3, lookup_points=500, log=lambda m: None)
    for name in ("microgrids", "buildings", "people", "incidents", "lookup_points"):
        assert (out / f"{name}.csv").read_bytes() == (tmp_path / "again" / f"{name}.csv").read_bytes(), name
    assert {k: again[k] for k in ("microgrids", "buildings", "households")} == {
        k: counts[k] for k in ("microgrids", "buildings", "households")
    }
    make_city.write(tmp_path / "other", SCALE, seed=4, lookup_points=500, log=lambda m: None)
    assert (out / "microgrids.csv").read_bytes() != (tmp_path / "other" / "microgrids.csv").read_bytes()


def test_areas_tile_the_city_and_nest(city):
    out, counts = city
    levels = {name: read_table(out / f"{name}.csv") for name in ("subdistricts", "communities", "grids", "microgrids")}
    whole = shapely.union_all(levels["subdistricts"].geometry.values)
    for name, frame in levels.items():
        geoms = frame.geometry.values
        assert shapely.is_valid(geoms).all(), name
        # No overlaps and no gaps: the parts' areas add up to the union's, which is the whole city.
        assert shapely.area(geoms).sum() == pytest.approx(whole.area, rel=1e-9), name
        assert shapely.union_all(geoms).symmetric_difference(whole).area < whole.area * 1e-9, name
    mg = levels["microgrids"]
    assert len(mg) == counts["microgrids"] and 0.8 * SCALE * 120_000 < len(mg) < 1.1 * SCALE * 120_000
    assert 20 <= counts["microgrid_vertices_median"] <= 30
    small, large = counts["microgrid_area_m2_centre_vs_edge"]
    assert large > 3 * small  # denser in the centre
    parents = {name: dict(zip(f["code"], f.geometry, strict=True)) for name, f in levels.items()}
    for child, parent in (("communities", "subdistricts"), ("grids", "communities"), ("microgrids", "grids")):
        for code, parent_code, geom in zip(levels[child]["code"], levels[child]["parent"], levels[child].geometry,
                                           strict=True):  # fmt: skip
            assert code.startswith(parent_code)
            assert geom.difference(parents[parent][parent_code]).area < geom.area * 1e-9, code


def test_the_city_imports_whole_and_every_known_owner_is_found(city, empty_db):
    out, counts = city
    frames = ingest.read_city(out)
    result = ingest.project(empty_db, frames, log=lambda m: None)
    assert set(result["levels"]) == set(ingest.FILES)
    with psycopg.connect(empty_db) as conn:
        stored = dict(conn.execute("SELECT level, count(*) FROM area GROUP BY level").fetchall())
        assert stored == {"subdistrict": counts["subdistricts"], "community": counts["communities"],
                          "grid": counts["grids"], "microgrid": counts["microgrids"]}  # fmt: skip
        assert conn.execute("SELECT count(*), sum(households) FROM building").fetchone() == (
            counts["buildings"], counts["households"])  # fmt: skip
        assert conn.execute("SELECT count(*) FROM person").fetchone()[0] == counts["people"]
        report = coverage.check(conn)
        assert not [f for f in report.findings if f.severity == "error"]

        with (out / "lookup_points.csv").open() as f:
            known = list(csv.DictReader(f))
        records = lookup(conn, [(float(r["lon"]), float(r["lat"])) for r in known], LookupOptions())
        assert [r["microgrid"]["code"] for r in records] == [r["microgrid"] for r in known]
        assert all(r["match"] == "inside" and r["people"] and r["party_cell"] for r in records)

        # Enough rows that the importer routes them through its own in-process lookup index.
        incidents = read_table(out / "incidents.csv").head(INDEX_FROM_ROWS)
        assert len(incidents) == INDEX_FROM_ROWS
        report, routed = import_incidents(conn, incidents.drop(columns=["expected_microgrid"]), CALENDAR, POLICY,
                                          "Asia/Shanghai", commit=True)  # fmt: skip
        assert report.committed and report.created == INDEX_FROM_ROWS and routed == {"inside": INDEX_FROM_ROWS}
        got = dict(conn.execute("SELECT i.external_id, a.code FROM incident i JOIN area a ON a.id = i.microgrid_id"
                                " AND a.valid_to IS NULL").fetchall())  # fmt: skip
        assert got == dict(zip(incidents["external_id"], incidents["expected_microgrid"], strict=True))
        # Routed in Z-order, numbered in file order.
        by_id = [r[0] for r in conn.execute("SELECT external_id FROM incident ORDER BY id").fetchall()]
        assert by_id == list(incidents["external_id"])
        # Each case has its report and its import event, written in bulk with it.
        assert conn.execute("SELECT count(*) FROM incident_report").fetchone()[0] == INDEX_FROM_ROWS
        assert (
            conn.execute("SELECT count(*) FROM incident_event WHERE action = 'import'").fetchone()[0] == INDEX_FROM_ROWS
        )
