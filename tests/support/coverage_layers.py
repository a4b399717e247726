"""Hand-made layers with known coverage defects, one of each kind, and the findings they must give.

    y0+2d ┌─────────────┬─────────────┬───────┬─────────────┬─┐
          │             │ gap (G1)    │       │             │ │ ← D sticks out of G2 (and C)
    y0+1.5├             ├─────────────┤   C   │C∩D│   D     │ │
          │      A      │      B      │       │overlap      │ │
          │ [ok][twice] │ [un][shed]  │ [else]│             │ │
          │          [sp│lit]         │       │             │ │
       y0 └─────────────┴─────────────┴───────┴───┴─────────┴─┘
          x0            x0+d          x0+2d   x0+3d   x0+3.2d  x0+4d  (d = 0.001°)

Community CV = x0…x0+4d; grid G1 = x0…x0+2d holds A and B, grid G2 = x0+2d…x0+4d holds C and D.
A and B meet 1 mm apart (a sliver of ~0.2 m², below the 1 m² tolerance: not a finding)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from gridmap.io.importer import import_file
from tests.support.helpers import feature, write_geojson

X0, Y0 = 114.05, 22.62
D = 0.001
SUB = "440309902"
CV = SUB + "001"
G1, G2 = CV + "001", CV + "002"
A, B, C, DD = G1 + "001", G1 + "002", G2 + "001", G2 + "002"
# one metre east-west at this latitude, in degrees of longitude
M_LON = 1 / 102_700
SLIVER = 1e-8


def rect(x0: float, y0: float, x1: float, y1: float) -> list:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def box(cx: float, cy: float, half: float = 0.0001) -> list:
    return rect(cx - half, cy - half, cx + half, cy + half)


def _files(tmp: Path) -> dict[str, Path]:
    x, y = X0, Y0
    areas = {
        "subdistricts": [feature({"code": SUB, "name": "覆盖测试街道"}, rect(x - D, y - D, x + 6 * D, y + 3 * D))],
        "communities": [feature({"code": CV, "name": "覆盖测试社区", "parent": SUB}, rect(x, y, x + 4 * D, y + 2 * D))],
        "grids": [
            feature({"code": G1, "name": "第1网格", "parent": CV}, rect(x, y, x + 2 * D, y + 2 * D)),
            feature({"code": G2, "name": "第2网格", "parent": CV}, rect(x + 2 * D, y, x + 4 * D, y + 2 * D)),
        ],
        "microgrids": [
            feature({"code": A, "name": "A", "parent": G1}, rect(x, y, x + D, y + 2 * D)),
            feature({"code": B, "name": "B", "parent": G1}, rect(x + D + SLIVER, y, x + 2 * D, y + 1.5 * D)),
            # imported clean (the rules refuse the defects); _break() then gives C and D their overlap
            feature({"code": C, "name": "C", "parent": G2}, rect(x + 2 * D, y, x + 3 * D, y + 2 * D)),
            feature({"code": DD, "name": "D", "parent": G2}, rect(x + 3 * D, y, x + 4 * D, y + 2 * D)),
        ],
        "buildings": [
            feature({"code": "CV-OK", "households": 30, "microgrid": A}, box(x + 0.3 * D, y + 1.5 * D)),
            feature(
                {"code": "CV-TWICE", "households": 30, "units": 2, "microgrid": f"{A}#u1-1=15;{B}#u2-2=15"},
                box(x + 0.5 * D, y + 0.5 * D),
            ),  # fmt: skip
            feature({"code": "CV-SPLIT", "households": 0, "microgrid": A}, box(x + D, y + 0.2 * D)),
            feature({"code": "CV-UNASSIGNED", "households": 35}, box(x + 1.5 * D, y + 0.5 * D)),
            feature({"code": "CV-SHED", "households": 0}, box(x + 1.5 * D, y + 1.1 * D, 0.00005)),
            feature({"code": "CV-ELSEWHERE", "households": 35, "microgrid": C}, box(x + 2.5 * D, y + 1.0 * D)),
            feature({"code": "CV-D", "households": 40, "microgrid": DD}, box(x + 3.6 * D, y + 1.0 * D)),
        ],
    }
    paths = {level: write_geojson(tmp / f"{level}.geojson", feats) for level, feats in areas.items()}
    cells = tmp / "party_cells.csv"
    cells.write_text(f"code,name,microgrids\nCV-P1,第1党小组,{A};{B};{DD}\n", encoding="utf-8")
    people = tmp / "people.csv"
    people.write_text(
        f"name,phone,role,area,party_cell\n微网格员甲,13900000001,microgrid_worker,{A},\n组长乙,13900000002,cell_leader,,CV-P1\n",
        encoding="utf-8",
    )
    return paths | {"party-cells": cells, "people": people}


# The defects the geometry rules keep every write path from committing, written as psql (or data older than
# the rules) would leave them: C widened onto D, D sticking out of G2 and the community, CV-TWICE counted
# 20 + 20 of its 30 households, CV-ELSEWHERE held by B although it lies in C, and the two unassigned
# buildings without the membership the importer gave them.
_BREAK = (
    ("WITH old AS (UPDATE area SET valid_to = now() WHERE code = %(code)s AND valid_to IS NULL RETURNING *)"
     " INSERT INTO area (id, version, level, code, parent_id, name, kind, layer, attrs, valid_from, geom)"
     " SELECT id, version + 1, level, code, parent_id, name, kind, layer, attrs, now(),"
     " ST_Multi(ST_GeomFromText(%(wkt)s, 4326)) FROM old"),
)  # fmt: skip


def _wkt(ring: list) -> str:
    return "POLYGON((" + ",".join(f"{px} {py}" for px, py in ring[0]) + "))"


def load_layers(url: str, tmp: Path) -> None:
    """Import the layers into the (migrated) database at ``url`` clean, then break them in SQL as listed
    above (the importer refuses each defect, and puts a building given without a micro-grid into the one
    covering it)."""
    files = _files(tmp)
    order = ("subdistricts", "communities", "grids", "microgrids", "buildings", "party-cells", "people")
    x, y = X0, Y0
    with psycopg.connect(url) as conn:
        for level in order:
            report = import_file(conn, level, files[level], commit=True)
            assert report.ok and report.committed, (level, report.errors)
        with conn.transaction():
            for code, ring in ((C, rect(x + 2 * D, y, x + 3.2 * D, y + 2 * D)),
                               (DD, rect(x + 3 * D, y, x + 4.1 * D, y + 2 * D))):  # fmt: skip
                conn.execute(_BREAK[0], {"code": code, "wkt": _wkt(ring)})
            conn.execute(
                "UPDATE microgrid_member SET households = 20"
                " WHERE building_id = (SELECT id FROM building WHERE code = 'CV-TWICE')"
            )
            conn.execute(
                "UPDATE microgrid_member SET microgrid_id = (SELECT id FROM area WHERE code = %s AND valid_to IS NULL)"
                " WHERE building_id = (SELECT id FROM building WHERE code = 'CV-ELSEWHERE')",
                (B,),
            )
            conn.execute(
                "DELETE FROM microgrid_member WHERE building_id IN"
                " (SELECT id FROM building WHERE code IN ('CV-UNASSIGNED', 'CV-SHED'))"
            )


# (problem, codes) of every finding the layers must give, and nothing else.
EXPECTED = {
    ("gap", (CV, G1)),
    ("no_community", (SUB,)),  # the subdistrict is larger than its one community
    ("overlap", (C, DD)),
    ("outside_parent", (DD, G2)),
    ("building_unassigned", (B, "CV-UNASSIGNED")),
    ("building_unassigned", (B, "CV-SHED")),
    ("building_twice", (A, B, "CV-TWICE")),
    ("building_elsewhere", (B, C, "CV-ELSEWHERE")),
    ("building_split", (A, B, "CV-SPLIT")),
    ("out_of_band", (B,)),  # 20 + 35 = 55 households
    ("out_of_band", (C,)),  # no households
    ("no_party_cell", (C,)),
    ("no_people", (C,)),
}
GAP_M2 = (D * 102_700) * (0.5 * D * 111_000)  # ≈ 5,700 m²
# A community's own check does not look at the subdistrict's land outside communities.
EXPECTED_COMMUNITY = EXPECTED - {("no_community", (SUB,))}
