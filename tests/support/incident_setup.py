"""Shared pieces of the incident tests: a frozen clock, the default calendar and policy, spots of the demo
city (points well inside distinct micro-grids), and a digest of every incident table."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg

from gridmap.incidents.calendar import calendar_from_settings
from gridmap.incidents.routing import policy_from_settings
from gridmap.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Wednesday 10:00 in Shanghai: inside working hours, far from a weekend.
WEDNESDAY_10 = datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI)
CALENDAR = calendar_from_settings(Settings())
POLICY = policy_from_settings(Settings())


def spots(conn: psycopg.Connection, n: int, offset: int = 0) -> list[tuple[float, float, str]]:
    """``n`` points, each the centre of the largest inscribed circle of a different micro-grid (so at
    least several metres from any edge) and in no building, spread over the city: (lon, lat, micro-grid code)."""
    rows = conn.execute(
        "SELECT ST_X(c.center), ST_Y(c.center), a.code FROM area a, ST_MaximumInscribedCircle(a.geom) c"
        " WHERE a.valid_to IS NULL AND a.level = 'microgrid' AND c.radius > 0.0002"
        " AND NOT EXISTS (SELECT 1 FROM building b WHERE ST_Covers(b.geom, c.center))"
        # unit micro-grids of one tower share its footprint, and so their centre
        " AND NOT EXISTS (SELECT 1 FROM microgrid_member m WHERE m.microgrid_id = a.id"
        "   AND (m.unit_from IS NOT NULL OR m.floor_from IS NOT NULL))"
        " ORDER BY md5(a.code) OFFSET %s LIMIT %s",
        (offset, n),
    ).fetchall()
    assert len(rows) == n, "the demo city has fewer roomy micro-grids than the test needs"
    return rows


def unassigned_spot(conn: psycopg.Connection) -> tuple[float, float]:
    """A point inside the subdistrict that no micro-grid covers (the bridge-culvert case)."""
    return conn.execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Difference(s.geom, m.geom)) p"
        " FROM area s, (SELECT ST_Union(geom) geom FROM area WHERE level = 'microgrid' AND valid_to IS NULL) m"
        " WHERE s.level = 'subdistrict' AND s.valid_to IS NULL) x"
    ).fetchone()


def incident_digest(url: str) -> tuple:
    """A fingerprint of every incident table, the categories, idempotency keys and login sessions: equal
    before and after = nothing written."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT md5(coalesce(string_agg(i::text, ',' ORDER BY id), '')) FROM incident i),"
            " (SELECT count(*) FROM incident_report), (SELECT count(*) FROM incident_event),"
            " (SELECT count(*) FROM incident_photo), (SELECT count(*) FROM idempotency_key),"
            " (SELECT md5(string_agg(c::text, ',' ORDER BY code)) FROM incident_category c),"
            " (SELECT count(*) FROM user_session)"
        ).fetchone()


def seed_incidents(url: str, rows: list[dict]) -> None:
    """Import past incidents (dicts with lon, lat, category, description, reported_at and optionally
    closed_at, external_id) through the real bulk importer, routed like live ones."""
    import geopandas as gpd
    import shapely

    from gridmap.incidents.bulk import import_incidents

    frame = gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k not in ("lon", "lat")} for r in rows],
        geometry=[shapely.Point(r["lon"], r["lat"]) for r in rows],
        crs=4326,
    )
    with psycopg.connect(url) as conn:
        report, _ = import_incidents(conn, frame, CALENDAR, POLICY, "Asia/Shanghai", commit=True)
    assert report.ok and report.created == len(rows), report.errors


def auth(tokens: dict, who: str | None) -> dict:
    """The Authorization header of principal ``who`` (none for None: anonymous)."""
    return {"Authorization": f"Bearer {tokens[who]}"} if who else {}


def body(lon, lat, **kw) -> dict:
    """An intake body at (lon, lat): a sanitation report from WeChat with a reporter; ``kw`` overrides."""
    return {"category": "sanitation", "description": "垃圾没人清", "channel": "wechat", "lon": lon, "lat": lat,
            "reporter": {"name": "李四", "phone": "13912345678"}} | kw  # fmt: skip


def post(client, tokens, who, payload, headers=None, **params):
    """POST /api/v1/incidents as ``who``."""
    return client.post("/api/v1/incidents", json=payload, params=params, headers=auth(tokens, who) | (headers or {}))


def act(client, tokens, who, incident_id, action, **extra):
    """POST an action on a case as ``who``."""
    return client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": action} | extra,
                       headers=auth(tokens, who))  # fmt: skip


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
