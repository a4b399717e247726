"""Checking coordinates and instants that callers give us, with messages that name the field and the fix;
and putting many points in an order that keeps neighbours together."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np

from gridmap.coords import CHINESE_CRS, to_wgs84
from gridmap.errors import InvalidInput


def check_crs(crs: str | None, field: str = "crs") -> str:
    """Return the CRS name in lower case (default wgs84), or raise InvalidInput naming the accepted ones."""
    name = (crs or "wgs84").strip().lower()
    if name not in CHINESE_CRS:
        raise InvalidInput(f"{field} must be one of {', '.join(CHINESE_CRS)}; got {crs!r}", field)
    return name


def check_point(lon: object, lat: object, field: str = "") -> tuple[float, float]:
    """Return (lon, lat) as floats when they are finite degrees in range, or raise InvalidInput.

    ``field`` prefixes the field names in messages (e.g. ``points[3].``). A latitude beyond ±90 with a
    longitude that would fit as one is reported as a probable lat/lon swap."""
    values = {}
    for name, value in (("lon", lon), ("lat", lat)):
        where = f"{field}{name}"
        if value is None or value == "":
            raise InvalidInput(f"{where} is required (decimal degrees)", where)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{where} must be a number in decimal degrees; got {value!r}", where) from None
        if not math.isfinite(number):
            raise InvalidInput(f"{where} must be a finite number; got {value!r}", where)
        values[name] = number
    x, y = values["lon"], values["lat"]
    if abs(y) > 90:
        hint = ""
        if abs(x) <= 90 and abs(y) <= 180:
            hint = f"; lon and lat look swapped: give lon={y}, lat={x} (longitude first)"
        raise InvalidInput(f"{field}lat {y} is outside [-90, 90]{hint}", f"{field}lat")
    if abs(x) > 180:
        raise InvalidInput(f"{field}lon {x} is outside [-180, 180]", f"{field}lon")
    return x, y


def point_to_wgs84(lon: object, lat: object, crs: str, field: str = "") -> tuple[float, float]:
    """Check a point given in ``crs`` and return it in WGS-84."""
    x, y = check_point(lon, lat, field)
    return to_wgs84(x, y, crs)


def optional_point_to_wgs84(lon: object, lat: object, crs: str) -> tuple[float | None, float | None]:
    """Like ``point_to_wgs84`` for a point that may be absent: (None, None) when neither lon nor lat is
    given; one without the other is InvalidInput."""
    if lon is None and lat is None:
        return None, None
    return point_to_wgs84(lon, lat, crs)


def parse_at(text: str | None, timezone: str, field: str = "at") -> datetime | None:
    """Parse an ISO-8601 date or date-time; a value without an offset is read in ``timezone``.

    Returns None for None/empty (meaning "now"). Raises InvalidInput with an example on a bad value."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        if len(raw) == 10:
            value = datetime.combine(date.fromisoformat(raw), time())
        else:
            value = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"{field} must be an ISO-8601 date or date-time, e.g. 2026-05-01 or 2026-05-01T08:30+08:00; got {text!r}",
            field,
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value


def spatial_order(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indexes of ``points`` along a Z-order (Morton) curve over their bounding box: neighbours in the
    list are mostly neighbours on the ground. Point-by-point index probes in that order reuse the same
    index pages and the same candidate polygons, and points sharing an owner land in the same batch."""
    if len(points) < 2:
        return list(range(len(points)))
    xy = np.asarray(points, dtype=float)
    low, span = xy.min(axis=0), np.ptp(xy, axis=0)
    cells = ((xy - low) / np.where(span > 0, span, 1) * 65535).astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:  # 16 bits → the even bits of 32
        v = (v | (v << 8)) & 0x00FF00FF
        v = (v | (v << 4)) & 0x0F0F0F0F
        v = (v | (v << 2)) & 0x33333333
        return (v | (v << 1)) & 0x55555555

    return np.argsort(spread(cells[:, 0]) | (spread(cells[:, 1]) << 1), kind="stable").tolist()
