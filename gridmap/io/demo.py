"""The Minzhi demo city: real OSM buildings with illustrative grids (see fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from gridmap.errors import InvalidInput
from gridmap.io.importer import Progress, import_frame
from gridmap.io.read import read_table
from gridmap.io.report import ImportReport

DEMO_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "minzhi"
# Parents before children, areas before the buildings, cells and people that point at them.
DEMO_FILES: tuple[tuple[str, str], ...] = (
    ("subdistricts", "subdistricts.geojson"),
    ("communities", "communities.geojson"),
    ("grids", "grids.geojson"),
    ("microgrids", "microgrids.geojson"),
    ("buildings", "buildings.geojson"),
    ("party-cells", "party_cells.csv"),
    ("people", "people.csv"),
)


def is_empty(conn: psycopg.Connection) -> bool:
    """True when no area has ever been stored."""
    return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM area)").fetchone()[0]


def load_demo(
    conn: psycopg.Connection,
    directory: Path = DEMO_DIR,
    on_level=None,
    progress: Progress | None = None,
) -> list[ImportReport]:
    """Import every demo file in one transaction; all of it lands or none of it.

    ``on_level(level, rows)`` is called before each file, ``progress(n)`` as rows are written.
    Loading twice changes nothing the second time.
    """
    reports = []
    with conn.transaction():
        for level, name in DEMO_FILES:
            frame = read_table(directory / name)
            if on_level:
                on_level(level, len(frame))
            report = import_frame(conn, level, frame, commit=True, progress=progress)
            reports.append(report)
            if not report.ok:
                shown = "; ".join(str(e) for e in report.errors[:5])
                raise InvalidInput(f"demo file {name} has {len(report.errors)} bad row(s): {shown}", level)
    return reports
