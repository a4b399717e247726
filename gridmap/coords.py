"""WGS-84 ⇄ GCJ-02 ⇄ BD-09 at the edges of the system; storage is always WGS-84 (EPSG:4326).

Chinese web maps (AMap/Gaode, Tencent, WeChat) give GCJ-02, Baidu gives BD-09: a point from them read
as WGS-84 lands 100–700 m off. prcoords' "bored" inverses are exact to about a centimetre.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import prcoords
import shapely

ChineseCRS = Literal["wgs84", "gcj02", "bd09"]
CHINESE_CRS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_TO_WGS: dict[str, Callable] = {"gcj02": prcoords.gcj_wgs_bored, "bd09": prcoords.bd_wgs_bored}
_FROM_WGS: dict[str, Callable] = {"gcj02": prcoords.wgs_gcj, "bd09": prcoords.wgs_bd}


def in_china(lon: float, lat: float) -> bool:
    """True inside the rectangle where the GCJ-02/BD-09 offsets apply (prcoords' test); elsewhere
    the Chinese datums equal WGS-84 and no point is shifted."""
    return prcoords.sanity_in_china_p(prcoords.Coords(lat, lon))


def _convert(lon: float, lat: float, fn: Callable) -> tuple[float, float]:
    # prcoords' exact ("bored") inverses ignore its own check_china flag, so we test here, for both directions.
    if not in_china(lon, lat):
        return lon, lat
    out = fn(prcoords.Coords(lat, lon), False)
    return out.lon, out.lat


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Return the WGS-84 (lon, lat) of a point given in ``crs`` (wgs84, gcj02 or bd09)."""
    if crs == "wgs84":
        return lon, lat
    return _convert(lon, lat, _TO_WGS[crs])


def from_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Return the (lon, lat) in ``crs`` of a WGS-84 point."""
    if crs == "wgs84":
        return lon, lat
    return _convert(lon, lat, _FROM_WGS[crs])


def _array_transform(fn: Callable) -> Callable[[np.ndarray], np.ndarray]:
    def apply(xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        for i, (x, y) in enumerate(xy):
            if np.isfinite(x) and np.isfinite(y):
                out[i] = _convert(float(x), float(y), fn)
            else:
                out[i] = (x, y)  # leave NaN/inf for the validator to report
        return out

    return apply


def geometry_to_wgs84(geoms, crs: str):
    """Convert shapely geometries (one or an array) from ``crs`` to WGS-84."""
    if crs == "wgs84":
        return geoms
    return shapely.transform(geoms, _array_transform(_TO_WGS[crs]))


def geometry_from_wgs84(geoms, crs: str):
    """Convert shapely geometries (one or an array) from WGS-84 to ``crs``."""
    if crs == "wgs84":
        return geoms
    return shapely.transform(geoms, _array_transform(_FROM_WGS[crs]))
