"""`gridmap locate`: one point as a table or JSON, a CSV file in and out, bad rows refused."""

from __future__ import annotations

import csv
import json

from gridmap.coords import from_wgs84
from tests.support.handmade import X0, Y0, M
from tests.support.helpers import GRID, cli


def test_one_point_in_gcj02_prints_the_chain(handmade_db):
    lon, lat = from_wgs84(X0 + 0.0002, Y0 + 0.0002, "gcj02")
    table = cli("locate", str(lon), str(lat), "--crs", "gcj02", GRIDMAP_DATABASE_URL=handmade_db)
    assert table.returncode == 0, table.stderr
    assert M[1] in table.stdout and GRID in table.stdout and "网格员甲" in table.stdout
    as_json = cli("locate", str(lon), str(lat), "--crs", "gcj02", "--json", GRIDMAP_DATABASE_URL=handmade_db)
    assert json.loads(as_json.stdout)["microgrid"]["code"] == M[1]


def test_file_in_file_out_keeps_rows_and_ids(handmade_db, tmp_path):
    points = tmp_path / "points.csv"
    rows = [("a", X0 + 0.0002, Y0 + 0.0002), ("b", X0 - 1, Y0), ("c", X0 + 0.0012, Y0 + 0.0002)]
    points.write_text("id,lon,lat\n" + "".join(f"{i},{x},{y}\n" for i, x, y in rows), encoding="utf-8")
    out = tmp_path / "owners.csv"
    done = cli("locate", "--file", str(points), "--out", str(out), GRIDMAP_DATABASE_URL=handmade_db)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stderr.split())  # rich wraps lines at the terminal width
    assert "inside 2" in said and "unassigned 1" in said
    with out.open(encoding="utf-8") as handle:
        got = list(csv.DictReader(handle))
    assert [(r["id"], r["match"], r["microgrid_code"]) for r in got] == [
        ("a", "inside", M[1]), ("b", "unassigned", ""), ("c", "inside", M[2])]  # fmt: skip
    assert "网格员甲|grid_worker|13800000001" in got[0]["people"]


def test_a_file_with_bad_rows_writes_nothing(handmade_db, tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("lon,lat\n114.03,22.60\n22.60,114.03\nnan,22.6\n", encoding="utf-8")
    out = tmp_path / "owners.csv"
    failed = cli("locate", "--file", str(points), "--out", str(out), GRIDMAP_DATABASE_URL=handmade_db)
    assert failed.returncode == 1
    said = " ".join(failed.stderr.split())
    assert "row 2" in said and "swapped" in said and "row 3" in said
    assert not out.exists() and not (tmp_path / "owners.csv.part").exists()


def test_bad_arguments(handmade_db):
    assert cli("locate", "114.0", "95", GRIDMAP_DATABASE_URL=handmade_db).returncode == 2
    assert cli("locate", GRIDMAP_DATABASE_URL=handmade_db).returncode == 2
    assert cli("locate", "114", "22", "--crs", "utm", GRIDMAP_DATABASE_URL=handmade_db).returncode == 2
