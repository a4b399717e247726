"""Small helpers shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

GRIDMAP_COMMAND = str(Path(sys.executable).parent / "gridmap")

SUB = "440309901"
COMM = SUB + "001"
GRID = COMM + "001"


def connect(url: str) -> psycopg.Connection:
    """A connection in autocommit mode for setting up and asserting."""
    return psycopg.connect(url, autocommit=True)


def with_database(url: str, dbname: str) -> str:
    """The same server URL with another database name (URLs stay URLs: yoyo needs the scheme)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """(Re)create database ``name``, optionally as a copy of ``template``; return its URL."""
    drop_database(server_url, name)
    query = "CREATE DATABASE {} TEMPLATE {}" if template else "CREATE DATABASE {}"
    ids = [sql.Identifier(name)] + ([sql.Identifier(template)] if template else [])
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL(query).format(*ids))
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, closing its sessions."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def square(x: float, y: float, size: float = 0.001) -> list:
    """A closed counter-clockwise square ring at (x, y) as GeoJSON coordinates."""
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def feature(props: dict, coordinates, gtype: str = "Polygon") -> dict:
    return {"type": "Feature", "properties": props, "geometry": {"type": gtype, "coordinates": coordinates}}


def write_geojson(path: Path, features: list[dict]) -> Path:
    """Write a FeatureCollection (no crs member: WGS-84)."""
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def count(conn: psycopg.Connection, table: str, where: str = "TRUE") -> int:
    return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]  # noqa: S608 - test literals


def small_city(tmp: Path) -> dict[str, Path]:
    """A subdistrict, a community, a grid and two micro-grids side by side, as GeoJSON files."""
    x, y = 114.03, 22.60
    files = {
        "subdistricts": [feature({"code": SUB, "name": "测试街道"}, square(x, y, 0.01))],
        "communities": [feature({"code": COMM, "name": "测试社区", "parent": SUB}, square(x, y, 0.01))],
        "grids": [feature({"code": GRID, "name": "第1网格", "parent": COMM}, square(x, y, 0.002))],
        "microgrids": [
            feature({"code": GRID + "001", "name": "1号微网格", "parent": GRID}, square(x, y, 0.001)),
            feature({"code": GRID + "002", "name": "2号微网格", "parent": GRID}, square(x + 0.001, y, 0.001)),
        ],
    }
    return {level: write_geojson(tmp / f"{level}.geojson", feats) for level, feats in files.items()}


def cli_env(**extra) -> dict[str, str]:
    """The environment without our own GRIDMAP_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update(extra)
    return env


def cli(*args, **env) -> subprocess.CompletedProcess[str]:
    """Run the installed ``gridmap`` command as a user would, with ``env`` added to a clean environment."""
    return subprocess.run([GRIDMAP_COMMAND, *args], capture_output=True, text=True, env=cli_env(**env), timeout=300)
