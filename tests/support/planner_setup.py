"""Targets for the planner tests on a copy of the demo city, found by their shape, not by id: a community
with a micro-grid that overlaps nobody and holds two or more whole buildings next to a neighbour of the
same grid, a foreign community, and planners for each."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import shapely

from gridmap.access import accounts
from gridmap.access.rules import cli_principal

PASSWORD = "a long enough password"

_PAIR = """
WITH clean AS (
    SELECT a.id, a.code, a.parent_id, a.geom FROM area a
    WHERE a.valid_to IS NULL AND a.level = 'microgrid' AND a.layer = 'comprehensive'
      AND NOT EXISTS (SELECT 1 FROM area o WHERE o.valid_to IS NULL AND o.level = 'microgrid' AND o.id <> a.id
                      AND o.geom && a.geom AND ST_Area(ST_Intersection(o.geom, a.geom)) > 1e-10)
), whole AS (
    SELECT microgrid_id, count(*) AS n FROM microgrid_member
    WHERE unit_from IS NULL AND floor_from IS NULL GROUP BY microgrid_id
)
SELECT c.id, c.code, d.id, d.code, ST_AsBinary(c.geom)
FROM clean c JOIN whole w ON w.microgrid_id = c.id
JOIN clean d ON d.parent_id = c.parent_id AND d.id <> c.id AND ST_Intersects(d.geom, c.geom)
WHERE w.n >= 3 AND ST_NumGeometries(c.geom) = 1
  AND NOT EXISTS (SELECT 1 FROM microgrid_member m WHERE m.microgrid_id = c.id AND m.unit_from IS NOT NULL)
ORDER BY ST_Area(c.geom) DESC, c.code, d.code
LIMIT 1
"""


@dataclass(frozen=True)
class Target:
    """The micro-grid to split (``a``), its neighbour (``b``), their community, and a foreign community."""

    community: str
    foreign: str
    a_id: int
    a_code: str
    b_id: int
    b_code: str
    a_geom: shapely.Geometry


def find(url: str) -> Target:
    """The largest clean micro-grid with three or more whole buildings and a clean neighbour."""
    with psycopg.connect(url) as conn:
        a_id, a_code, b_id, b_code, wkb = conn.execute(_PAIR).fetchone()
        foreign = conn.execute(
            "SELECT code FROM area WHERE valid_to IS NULL AND level = 'community' AND code <> %s ORDER BY code LIMIT 1",
            (a_code[:12],),
        ).fetchone()[0]
    return Target(a_code[:12], foreign, a_id, a_code, b_id, b_code, shapely.from_wkb(wkb))


def add_planners(url: str, target: Target) -> None:
    """Planners ``ana`` and ``bo`` for the target's community, ``cy`` for the foreign one."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name, scope in (("ana", target.community), ("bo", target.community), ("cy", target.foreign)):
            accounts.add_user(conn, cli_principal(), name, PASSWORD, "planner", [scope])


def across(geom: shapely.Geometry, margin: float = 0.0005) -> list[list[float]]:
    """A north–south line through a point inside ``geom``, reaching past it on both sides."""
    x = shapely.point_on_surface(geom).x
    _, south, _, north = geom.bounds
    return [[x, south - margin], [x, north + margin]]
