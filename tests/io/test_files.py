"""Files as Chinese offices send them: every level through every format in WGS-84 and GCJ-02 comes back
unchanged (the datum label read back), GBK and GB18030 text without a declaration is detected, Chinese
column names are recognised or mapped, and what cannot be read gets a clear error, never a traceback."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import psycopg
import pytest

from gridmap.areas.levels import HAS_GEOMETRY, LEVELS
from gridmap.errors import InvalidInput
from gridmap.io import encoding
from gridmap.io.columns import load_mapping, parse_mapping
from gridmap.io.export import export_file, export_frame
from gridmap.io.importer import import_file
from gridmap.io.read import read_source
from tests.support.helpers import cli

FORMATS = (".geojson", ".gpkg", ".shp", ".csv")


def _zero_language_byte(shp) -> None:
    """Make the .dbf say nothing of its encoding (byte 29 = 0), as older Chinese software leaves it."""
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = 0
    dbf.write_bytes(bytes(data))


@pytest.mark.parametrize("datum", ["wgs84", "gcj02"])
@pytest.mark.parametrize("suffix", FORMATS)
def test_every_level_round_trips_through_every_format_and_datum(demo_db_module, tmp_path, suffix, datum):
    with psycopg.connect(demo_db_module) as conn:
        for level in LEVELS:
            path = tmp_path / f"{level.replace('-', '_')}{suffix if HAS_GEOMETRY[level] else '.csv'}"
            n = export_file(conn, level, path, crs=datum)
            source = read_source(path, level=level)
            if HAS_GEOMETRY[level]:
                expected = "label" if datum == "gcj02" else ("file" if suffix in (".gpkg", ".shp") else "none")
                assert (source.crs, source.crs_source) == (datum, expected), (level, suffix)
            report = import_file(conn, level, path)  # no --crs: the file says what it holds
            assert report.ok, (level, report.errors[:3])
            assert (report.rows, report.created, report.updated, report.unchanged) == (n, 0, 0, n), level


def test_a_gbk_shapefile_without_cpg_is_detected_and_changes_nothing(demo_db_module, tmp_path):
    with psycopg.connect(demo_db_module) as conn:
        frame = export_frame(conn, "grids")
    path = tmp_path / "grids.shp"
    frame.to_file(path, engine="pyogrio", encoding="GBK")
    path.with_suffix(".cpg").unlink()
    _zero_language_byte(path)
    source = read_source(path, level="grids")
    assert (source.encoding, source.encoding_source) == ("gbk", "detected")
    assert list(source.frame["name"]) == list(frame["name"])
    assert source.sample and all("网格" in name for name in source.sample)
    with psycopg.connect(demo_db_module) as conn:
        report = import_file(conn, "grids", path)
    assert report.ok and report.unchanged == len(frame) and report.updated == 0
    assert report.source["encoding_source"] == "detected"
    # --encoding overrides: read as Latin-1 the names are mojibake, and the dry run shows it in its sample
    wrong = read_source(path, encoding="latin-1", level="grids")
    assert wrong.encoding_source == "given" and "网格" not in "".join(wrong.sample)


def test_encodings_are_told_apart_by_their_bytes():
    text = "民乐社区第1网格,龙华区民治街道"
    assert encoding.detect(text.encode("utf-8")) == "utf-8"
    assert encoding.detect(text.encode("gbk")) == "gbk"
    # 䶮 (CJK extension A) has no GBK code: only GB18030 holds it
    assert encoding.detect(("刘䶮" + text).encode("gb18030")) == "gb18030"
    # a character cut in half at the end of a sample is not held against the text
    assert encoding.detect(text.encode("gbk")[:-1]) == "gbk"


def test_a_gbk_csv_with_chinese_columns_and_a_datum_note_imports_unchanged(demo_db_module, tmp_path):
    with psycopg.connect(demo_db_module) as conn:
        export_file(conn, "microgrids", tmp_path / "m.csv", crs="gcj02")
    lines = (tmp_path / "m.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "# crs=gcj02"
    header = lines[1].split(",")
    chinese = {"code": "微网格编码", "name": "微网格名称", "parent": "所属网格", "kind": "类型", "layer": "图层"}
    lines[1] = ",".join(chinese.get(c, c) for c in header)
    path = tmp_path / "微网格.csv"
    path.write_bytes("\r\n".join(lines).encode("gbk"))  # no BOM, as Excel saves it on a Chinese Windows
    source = read_source(path, level="microgrids")
    assert (source.encoding, source.encoding_source, source.crs, source.crs_source) == ("gbk", "detected", "gcj02",
                                                                                        "label")  # fmt: skip
    assert source.renamed == {"微网格编码": "code", "微网格名称": "name", "所属网格": "parent", "类型": "kind",
                              "图层": "layer"}  # fmt: skip
    with psycopg.connect(demo_db_module) as conn:
        report = import_file(conn, "microgrids", path)
    assert report.ok and report.updated == report.created == 0 and report.unchanged == report.rows


def test_a_mapping_renames_columns_and_a_bad_one_is_refused(tmp_path):
    path = tmp_path / "grids.csv"
    square = "POLYGON((114 22,114.001 22,114.001 22.001,114 22))"
    pd.DataFrame({"网格号": ["440309002001001"], "网格名": ["第1网格"], "社区号": ["440309002001"],
                  "geometry": [square]}).to_csv(path, index=False)  # fmt: skip
    mapping = parse_mapping("网格号=code，网格名=name; 社区号: parent")
    assert mapping == {"网格号": "code", "网格名": "name", "社区号": "parent"}
    source = read_source(path, mapping=mapping, level="grids")
    assert list(source.frame.columns) == ["code", "name", "parent", "geometry"]
    saved = tmp_path / "map.json"
    saved.write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    assert load_mapping(saved) == mapping
    (tmp_path / "map.txt").write_text("# 网格文件\n网格号=code\n网格名=name\n", encoding="utf-8")
    assert load_mapping(tmp_path / "map.txt") == {"网格号": "code", "网格名": "name"}
    for bad, says in (({"网格编号": "code"}, "not in the file"), ({"网格号": "households"}, "not a column"),
                      ({"网格号": "code", "网格名": "code"}, "both be read as code")):  # fmt: skip
        with pytest.raises(InvalidInput, match=says) as refused:
            read_source(path, mapping=bad, level="grids")
        assert refused.value.field == "map"
    with pytest.raises(InvalidInput, match="cannot read column mapping"):
        parse_mapping("网格号")


def test_the_cli_reads_a_gbk_csv_maps_columns_and_reports_in_chinese(empty_db, tmp_path):
    path = tmp_path / "街道.csv"
    square = "POLYGON((114 22.6,114.01 22.6,114.01 22.61,114 22.6))"
    rows = f'街道代码,街道名称,geometry\r\n440309002,民治街道,"{square}"\r\n'
    path.write_bytes(rows.encode("gbk"))
    dry = cli("import", "subdistricts", str(path), GRIDMAP_DATABASE_URL=empty_db)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "gbk" in dry.stdout and "民治街道" in dry.stdout and "街道代码→code" in dry.stdout
    # a file that is not what --encoding says: a clear message and exit code, no traceback
    wrong = cli("import", "subdistricts", str(path), "--encoding", "utf-8", GRIDMAP_DATABASE_URL=empty_db)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stdout + wrong.stderr
    assert "--encoding" in wrong.stdout + wrong.stderr
    mapped = cli("import", "subdistricts", str(path), "--map", "街道代码=code,街道名称=name", "--lang", "en",
                 GRIDMAP_DATABASE_URL=empty_db)  # fmt: skip
    assert mapped.returncode == 0 and "dry run" in mapped.stdout
    unknown = cli("import", "subdistricts", str(path), "--map", "编号=code", GRIDMAP_DATABASE_URL=empty_db)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stdout + unknown.stderr
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM area").fetchone()[0] == 0  # dry runs and refusals wrote nothing


def test_a_geojson_in_gbk_is_read_by_its_bytes(tmp_path):
    gdf = gpd.GeoDataFrame({"code": ["440309002"], "name": ["民治街道"]},
                           geometry=gpd.GeoSeries.from_wkt(["POLYGON((114 22.6,114.01 22.6,114.01 22.61,114 22.6))"]),
                           crs=4326)  # fmt: skip
    path = tmp_path / "s.geojson"
    path.write_bytes(gdf.to_json(ensure_ascii=False).encode("gbk"))
    source = read_source(path, level="subdistricts")
    assert source.encoding == "gbk" and list(source.frame["name"]) == ["民治街道"]
