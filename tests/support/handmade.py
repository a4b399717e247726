"""A hand-made city for lookup tests, drawn so that every lookup rule has a place to be tried.

      y0+0.003 ┌───────────────────────────── public_security grid + micro-grid (another layer)
               │
      y0+0.002 ┌─────────┬─────────┐  grid G (comprehensive), 0.002° square, inside community C
               │ M3 = M5 │   M4    │  M3 and M5: unit micro-grids of building T (same territory)
               │  [T]    │  (hole) │  M4 has a hole of 0.0004° in its middle
      y0+0.001 ├─────────┼─────────┤
               │   M1    │   M2    │  shared edge at x0+0.001, shared corner at (x0+0.001, y0+0.001)
               │  [B]    │         │
            y0 └─────────┴─────────┘
               x0     x0+0.001   x0+0.002
Community C covers x0 … x0+0.005; subdistrict S covers x0 … x0+0.01 (both y0 … y0+0.01).
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from gridmap.io.importer import import_file
from tests.support.helpers import COMM, GRID, SUB, feature, square, write_geojson

X0, Y0 = 114.03, 22.60
M = {n: f"{GRID}{n:03d}" for n in range(1, 6)}
PS_GRID = COMM + "901"
PS_MICRO = PS_GRID + "001"
CELL = "TEST-P01"
# one metre east-west at this latitude, in degrees of longitude
M_LON = 1 / 102_780


def rect(x0: float, y0: float, x1: float, y1: float, holes: tuple = ()) -> list:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return [ring, *holes]


def _files(tmp: Path) -> dict[str, Path]:
    hole = [[X0 + 0.0013, Y0 + 0.0013], [X0 + 0.0013, Y0 + 0.0017], [X0 + 0.0017, Y0 + 0.0017],
            [X0 + 0.0017, Y0 + 0.0013], [X0 + 0.0013, Y0 + 0.0013]]  # fmt: skip
    levels = {
        "subdistricts": [feature({"code": SUB, "name": "测试街道"}, rect(X0, Y0, X0 + 0.01, Y0 + 0.01))],
        "communities": [
            feature({"code": COMM, "name": "测试社区", "parent": SUB}, rect(X0, Y0, X0 + 0.005, Y0 + 0.01))
        ],
        "grids": [
            feature({"code": GRID, "name": "第1网格", "parent": COMM}, square(X0, Y0, 0.002)),
            feature(
                {"code": PS_GRID, "name": "综治网格", "parent": COMM, "layer": "public_security"},
                square(X0, Y0, 0.003),
            ),
        ],
        # M2 before M1 on purpose: the edge rule must follow codes, not the order of insertion.
        "microgrids": [
            feature({"code": M[2], "name": "2号微网格", "parent": GRID}, square(X0 + 0.001, Y0, 0.001)),
            feature({"code": M[1], "name": "1号微网格", "parent": GRID}, square(X0, Y0, 0.001)),
            feature({"code": M[3], "name": "3号微网格", "parent": GRID}, square(X0, Y0 + 0.001, 0.001)),
            feature(
                {"code": M[4], "name": "4号微网格", "parent": GRID},
                rect(X0 + 0.001, Y0 + 0.001, X0 + 0.002, Y0 + 0.002, holes=(hole,)),
            ),
            feature({"code": M[5], "name": "5号微网格", "parent": GRID}, square(X0, Y0 + 0.001, 0.001)),
            feature(
                {"code": PS_MICRO, "name": "综治微网格", "parent": PS_GRID, "layer": "public_security"},
                square(X0, Y0, 0.003),
            ),
        ],
        "buildings": [
            feature(
                {"code": "B1", "name": "1栋", "households": 40, "floors": 6, "units": 1, "microgrid": M[1]},
                square(X0 + 0.0003, Y0 + 0.0003, 0.0002),
            ),
            feature(
                {
                    "code": "T1",
                    "name": "塔楼",
                    "households": 90,
                    "floors": 30,
                    "units": 2,
                    "microgrid": f"{M[3]}#u1-1=45;{M[5]}#u2-2=45",
                },
                square(X0 + 0.0003, Y0 + 0.0013, 0.0002),
            ),  # fmt: skip
        ],
    }
    paths = {level: write_geojson(tmp / f"{level}.geojson", feats) for level, feats in levels.items()}
    cells = tmp / "party_cells.csv"
    cells.write_text(f"code,name,branch,microgrids\n{CELL},第1党小组,第1网格党支部,{M[1]};{M[2]}\n", encoding="utf-8")
    people = tmp / "people.csv"
    people.write_text(
        "name,phone,role,area,party_cell\n"
        f"网格员甲,13800000001,grid_worker,{GRID},\n"
        f"微网格员乙,13800000002,microgrid_worker,{M[1]},\n"
        f"楼栋长丙,13800000003,building_chief,{M[1]},\n"
        f"组长丁,13800000004,cell_leader,,{CELL}\n"
        f"微网格员戊,13800000005,microgrid_worker,{M[5]},\n",
        encoding="utf-8",
    )
    return paths | {"party-cells": cells, "people": people}


def load_handmade(url: str, tmp: Path) -> None:
    """Import the hand-made city into the (migrated, empty) database at ``url``."""
    files = _files(tmp)
    order = ("subdistricts", "communities", "grids", "microgrids", "buildings", "party-cells", "people")
    with psycopg.connect(url) as conn:
        for level in order:
            report = import_file(conn, level, files[level], commit=True)
            assert report.ok and report.committed, (level, report.errors)


def redraw_m1_m2(url: str, tmp: Path) -> None:
    """Move the M1|M2 edge east by 0.0005° (new versions of both)."""
    feats = [
        feature({"code": M[1], "name": "1号微网格", "parent": GRID}, rect(X0, Y0, X0 + 0.0015, Y0 + 0.001)),
        feature({"code": M[2], "name": "2号微网格", "parent": GRID}, rect(X0 + 0.0015, Y0, X0 + 0.002, Y0 + 0.001)),
    ]
    path = write_geojson(tmp / "redraw.geojson", feats)
    with psycopg.connect(url) as conn:
        report = import_file(conn, "microgrids", path, commit=True)
    assert report.ok and report.updated == 2, report.errors
