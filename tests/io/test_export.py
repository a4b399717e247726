"""Export → import round-trips: same rows, same memberships, identical geometries."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely

from gridmap.areas.levels import AREA_LEVELS, LEVELS
from gridmap.io.export import export_file, export_frame
from gridmap.io.importer import import_file
from tests.support.helpers import connect


def _geometries(url: str, level: str) -> dict[str, bytes]:
    with connect(url) as conn:
        if level == "buildings":
            rows = conn.execute("SELECT code, ST_AsBinary(geom) FROM building").fetchall()
        else:
            rows = conn.execute(
                "SELECT code, ST_AsBinary(geom) FROM area WHERE valid_to IS NULL AND level = %s",
                (AREA_LEVELS[level],),
            ).fetchall()
    return {code: bytes(wkb) for code, wkb in rows}


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".csv"])  # ~30 s each: the whole city twice
def test_whole_city_round_trip(demo_db_shared, empty_db, tmp_path, suffix):
    with psycopg.connect(demo_db_shared) as src, psycopg.connect(empty_db) as dst:
        for level in LEVELS:
            path = tmp_path / f"{level}{suffix if level not in ('party-cells', 'people') else '.csv'}"
            n = export_file(src, level, path)
            report = import_file(dst, level, path, commit=True)
            assert report.ok and report.created == n, (level, report.errors[:3])
        for level in LEVELS:
            a = pd.DataFrame(export_frame(src, level).drop(columns="geometry"))
            b = pd.DataFrame(export_frame(dst, level).drop(columns="geometry"))
            pd.testing.assert_frame_equal(a, b, check_dtype=False)
    for level in ("subdistricts", "communities", "grids", "microgrids", "buildings"):
        before, after = _geometries(demo_db_shared, level), _geometries(empty_db, level)
        assert before.keys() == after.keys()
        # Identical: same vertices in the same order, bit for bit (the demo is stored at 1e-7°).
        assert before == after, level
    # And importing the export again changes nothing.
    with psycopg.connect(empty_db) as dst:
        path = tmp_path / f"again{suffix}"
        export_file(dst, "microgrids", path)
        again = import_file(dst, "microgrids", path, commit=True)
        assert again.created == again.updated == 0 and again.unchanged == again.rows


def test_shapefile_and_gcj02_export(demo_db_shared, tmp_path):
    with psycopg.connect(demo_db_shared) as conn:
        export_file(conn, "communities", tmp_path / "c.shp")
        export_file(conn, "communities", tmp_path / "c_gcj.geojson", crs="gcj02")
        wgs = gpd.read_file(tmp_path / "c.shp").to_crs(32650)
        gcj = gpd.read_file(tmp_path / "c_gcj.geojson").to_crs(32650)
        assert list(wgs["code"]) == list(gcj["code"]) and len(wgs) > 0
        shift = shapely.distance(wgs.geometry.centroid.to_numpy(), gcj.geometry.centroid.to_numpy())
        assert ((shift > 100) & (shift < 700)).all()  # GCJ-02 sits 100–700 m off WGS-84
        report = import_file(conn, "communities", tmp_path / "c_gcj.geojson", crs="gcj02")
        assert report.ok and report.unchanged == report.rows  # back to WGS-84 within the tolerance
