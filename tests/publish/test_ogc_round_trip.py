"""What a GIS client saves from the OGC API – Features imports back unchanged: GDAL's own OAPIF driver
(``ogr2ogr``, Debian's gdal-bin) copies every area collection and the buildings from the real app over
HTTP into a GeoPackage, and ``gridmap import`` (a dry run into the same database) finds every row
unchanged. The buildings carry every unit/floor part of their micro-grid membership, written as
``gridmap export buildings`` writes it; the demo city has towers split that way, counted here from the
database."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest

from gridmap.areas.levels import AREA_LEVELS, COLUMNS
from gridmap.io.export import export_frame
from gridmap.io.importer import import_file
from gridmap.settings import Settings
from tests.conftest import LiveServer

# The collection ids are the import's level names.
COLLECTIONS = [*AREA_LEVELS, "buildings"]
OGR2OGR = shutil.which("ogr2ogr")


@pytest.fixture(scope="module")
def served(demo_db_shared: str) -> Iterator[tuple[str, str]]:
    settings = Settings(database_url=demo_db_shared, rate_limit_anonymous=0)
    with LiveServer(settings) as server:
        yield server.url, demo_db_shared


def _copy_with_gdal(url: str, collection: str, path: Path) -> None:
    """``ogr2ogr -f GPKG path OAPIF:url/ogc collection``, a thousand features a request."""
    assert OGR2OGR, "ogr2ogr is missing: apt-get install gdal-bin (scripts/ensure-system.sh installs it)"
    done = subprocess.run(
        [OGR2OGR, "-f", "GPKG", str(path), f"OAPIF:{url}/ogc", collection, "-oo", "PAGE_SIZE=1000"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _stored_count(conn: psycopg.Connection, collection: str) -> int:
    if collection == "buildings":
        return conn.execute("SELECT count(*) FROM building").fetchone()[0]
    query = "SELECT count(*) FROM area WHERE level = %s AND valid_to IS NULL"
    return conn.execute(query, (AREA_LEVELS[collection],)).fetchone()[0]


def _plain(value) -> object:
    """A cell as import reads it: blank (None, NaN, '') is None, a whole float is an int."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _by_code(frame, columns) -> dict[str, tuple]:
    return {row["code"]: tuple(_plain(row[c]) for c in columns) for row in frame[list(columns)].to_dict("records")}


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_gdal_copy_of_a_collection_imports_back_unchanged(served, tmp_path, collection):
    url, db = served
    path = tmp_path / f"{collection}.gpkg"
    _copy_with_gdal(url, collection, path)
    copied = gpd.read_file(path, engine="pyogrio")
    columns = COLUMNS[collection]
    assert set(columns) <= set(copied.columns), sorted(copied.columns)
    with psycopg.connect(db) as conn:
        stored = _stored_count(conn, collection)
        exported = export_frame(conn, collection)
        report = import_file(conn, collection, path)  # a dry run: rolled back
    assert stored > 0 and len(copied) == stored == len(exported)
    # The same values as `gridmap export` writes, column by column (the microgrid text included).
    assert _by_code(copied, columns) == _by_code(exported, columns)
    assert report.ok, [str(e) for e in report.errors[:5]]
    assert not report.committed
    assert report.rows == report.unchanged == stored and report.created == report.updated == 0
    # Only extra properties (id, level, version, …) may be noted, never a missing or renamed column.
    assert all(w.startswith("ignored column(s): ") for w in report.warnings), report.warnings
    ignored = {c for w in report.warnings for c in w.removeprefix("ignored column(s): ").split(", ")}
    assert not ignored & set(columns)


def test_buildings_split_between_micro_grids_keep_every_part(served, tmp_path):
    url, db = served
    with psycopg.connect(db) as conn:
        split = dict(
            conn.execute(
                "SELECT b.code, count(*) FROM microgrid_member m JOIN building b ON b.id = m.building_id"
                " GROUP BY b.code HAVING count(*) > 1"
            ).fetchall()
        )
        by_part = conn.execute(
            "SELECT count(DISTINCT building_id) FROM microgrid_member"
            " WHERE unit_from IS NOT NULL OR floor_from IS NOT NULL"
        ).fetchone()[0]
    assert split and by_part > 0  # the demo city has towers split by unit or floor
    path = tmp_path / "buildings.gpkg"
    _copy_with_gdal(url, "buildings", path)
    copied = gpd.read_file(path, engine="pyogrio").set_index("code")
    parts = copied["microgrid"].str.split(";").str.len()
    assert dict(parts[parts > 1]) == split
    assert copied["microgrid"].str.contains("#").sum() == by_part
