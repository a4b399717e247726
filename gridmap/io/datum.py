"""Is a file that says nothing about its coordinates really in GCJ-02 or BD-09?

Chinese offices often send GCJ-02 (高德/腾讯) or BD-09 (百度) coordinates in files labelled WGS-84 or not
labelled at all; read as WGS-84 they land 100–700 m off. Before such a file is imported its shapes are
compared with what is already stored: the same codes' current geometry when the file updates them, or
else the parents the rows name (the micro-grids, for buildings). When reading the file as GCJ-02 or BD-09
fits clearly better than as WGS-84, the import stops and names the system, and ``--crs`` decides.
"""

from __future__ import annotations

import numpy as np
import psycopg
import shapely
from pyproj import Geod

from gridmap.areas.levels import AREA_LEVELS
from gridmap.coords import geometry_to_wgs84

# Read as WGS-84, the file must be this far (median, metres) from the stored shapes before anything is
# suspected: real edits move a shape by metres, the Chinese datums by 100–700 m.
SUSPECT_M = 50.0
# A datum explains the offset when it brings the points at least this much closer than WGS-84 does.
BETTER_BY = 4.0
# For new rows only parents can be compared: the share of points inside their parent that WGS-84 must
# fall below, and a datum must reach, for the file to look shifted.
INSIDE_AT_MOST, INSIDE_AT_LEAST = 0.5, 0.9
SAMPLE = 500
_GEOD = Geod(ellps="WGS84")
_DATUMS = ("gcj02", "bd09")


def looks_shifted(conn: psycopg.Connection, level: str, frame) -> str | None:
    """'gcj02' or 'bd09' when the rows of ``frame`` (an import's rows read as WGS-84) fit the stored map
    clearly better in that system than in WGS-84; None when they fit as they are or there is nothing to
    compare with. Rows updating a stored code are compared with its shape; new rows with the parent they
    name (the first micro-grid they name, for buildings)."""
    codes = [c.strip() if isinstance(c, str) else None for c in frame.get("code", [None] * len(frame))]
    above = frame.get("microgrid" if level == "buildings" else "parent")
    parents = [_first_code(p) for p in above] if above is not None else [None] * len(frame)
    geoms = frame.geometry.to_numpy()
    keep = [i for i, g in enumerate(geoms) if _usable(g) and (codes[i] or parents[i])]
    if not keep:
        return None
    keep = keep[:: max(1, len(keep) // SAMPLE)][:SAMPLE]
    points = shapely.point_on_surface(np.asarray([geoms[i] for i in keep], dtype=object))
    stored = _stored_points(conn, level, [codes[i] for i in keep if codes[i]])
    matched = [k for k, i in enumerate(keep) if codes[i] in stored]
    if matched:
        theirs = np.asarray([stored[codes[keep[k]]] for k in matched], dtype=object)
        return _by_distance(points[matched], theirs)
    return _by_containment(conn, points, [parents[i] for i in keep])


def _first_code(value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.replace(",", ";").split(";")[0].split("#")[0].strip() or None


def _usable(geom) -> bool:
    return geom is not None and not shapely.is_empty(geom) and shapely.is_valid(geom)


def _stored_points(conn: psycopg.Connection, level: str, codes: list[str]) -> dict[str, shapely.Point]:
    if level in AREA_LEVELS:
        query = "SELECT code, ST_AsBinary(ST_PointOnSurface(geom)) FROM area WHERE valid_to IS NULL AND code = ANY(%s)"
    elif level == "buildings":
        query = "SELECT code, ST_AsBinary(ST_PointOnSurface(geom)) FROM building WHERE code = ANY(%s)"
    else:
        return {}
    return {code: shapely.from_wkb(wkb) for code, wkb in conn.execute(query, (codes,)).fetchall()}


def _median_m(a: np.ndarray, b: np.ndarray) -> float:
    _, _, d = _GEOD.inv(shapely.get_x(a), shapely.get_y(a), shapely.get_x(b), shapely.get_y(b))
    return float(np.median(d))


def _by_distance(mine: np.ndarray, theirs: np.ndarray) -> str | None:
    as_is = _median_m(mine, theirs)
    if as_is < SUSPECT_M:
        return None
    fits = {datum: _median_m(geometry_to_wgs84(mine, datum), theirs) for datum in _DATUMS}
    best = min(fits, key=fits.get)
    return best if fits[best] * BETTER_BY < as_is else None


def _by_containment(conn: psycopg.Connection, points: np.ndarray, parents: list[str | None]) -> str | None:
    """New rows: the share of points inside the current area each row names as its parent."""
    named = [k for k, p in enumerate(parents) if p]
    if not named:
        return None
    points, parents = points[named], [parents[k] for k in named]

    def inside(candidates: np.ndarray) -> float:
        (found, known) = conn.execute(
            "SELECT count(*) FILTER (WHERE ST_Intersects(a.geom, ST_GeomFromWKB(p.wkb, 4326))), count(a.id)"
            " FROM unnest(%s::bytea[], %s::text[]) p (wkb, parent)"
            " LEFT JOIN area a ON a.code = p.parent AND a.valid_to IS NULL",
            (list(shapely.to_wkb(candidates)), parents),
        ).fetchone()
        return found / known if known else 1.0

    as_is = inside(points)
    if as_is > INSIDE_AT_MOST:
        return None
    fits = {datum: inside(geometry_to_wgs84(points, datum)) for datum in _DATUMS}
    best = max(fits, key=fits.get)
    return best if fits[best] >= INSIDE_AT_LEAST else None
