"""The megacity benchmark: every figure as a ratio against a floor measured in the same run.

    make bench          # scale 1: 120,000 micro-grids, ~1M buildings, 1M incidents
    make bench-quick    # scale 0.05
    .venv/bin/python bench/megacity.py --scale 0.05 [--seconds 10] [--keep]

Generates the city (bench/make_city.py), starts a fresh embedded PostGIS of its own under
.gridmap/bench/, and runs: ingest, single and batch lookups, bulk incident import, vector tiles,
folium maps, the partitioner and the area query. Every lookup and every routed incident is checked
against the generator's known owner; one wrong answer fails the run. Prints one table, writes
bench/results/<date>-scale<S>.json and the table into bench/README.md. The cluster is deleted at the end.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import psycopg
import shapely
from psycopg import sql as pgsql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ingest, make_city, writes  # noqa: E402
from bench.lookup import (  # noqa: E402
    FLOOR,
    GRIDMAP,
    Server,
    bench_batch,
    checked_pass,
    has_wrk,
    index_ready,
    single_figures,
    single_load,
    worker_memory,
    workers_default,
)
from bench.maps import best, map_figures, tile_figures  # noqa: E402
from bench.partition import run as partition_run  # noqa: E402
from bench.partition import synthetic_community  # noqa: E402
from gridmap import sql  # noqa: E402
from gridmap.db.embedded import EmbeddedCluster  # noqa: E402
from gridmap.db.migrate import migrate  # noqa: E402
from gridmap.incidents.bulk import import_incidents  # noqa: E402
from gridmap.incidents.calendar import calendar_from_settings  # noqa: E402
from gridmap.incidents.routing import policy_from_settings  # noqa: E402
from gridmap.io.read import read_table  # noqa: E402
from gridmap.lookup.area import circle  # noqa: E402
from gridmap.settings import Settings  # noqa: E402
from tests.support.partition_data import demo_grids  # noqa: E402

README = ROOT / "bench" / "README.md"
MARK_BEGIN, MARK_END = "<!-- megacity:begin -->", "<!-- megacity:end -->"
# Settings for the bench cluster only (the embedded default is sized for a laptop demo): both the
# project and every baseline run on it, so ratios stay fair.
SERVER_SETTINGS = {"shared_buffers": "2GB", "maintenance_work_mem": "1GB", "max_wal_size": "8GB",
                   "work_mem": "64MB", "effective_cache_size": "8GB"}  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1024 / 1024, 1),
            "os": platform.platform(), "python": platform.python_version()}  # fmt: skip


def fresh_cluster(directory: Path) -> tuple[EmbeddedCluster, str]:
    """A new embedded cluster in ``directory`` with the bench settings, migrated; its URL."""
    cluster = EmbeddedCluster(directory)
    cluster.destroy()
    url = cluster.start().url()
    with psycopg.connect(url, autocommit=True) as conn:
        for name, value in SERVER_SETTINGS.items():
            conn.execute(pgsql.SQL("ALTER SYSTEM SET {} = {}").format(pgsql.Identifier(name), pgsql.Literal(value)))
    cluster.stop()
    url = cluster.start().url()
    migrate(url)
    return cluster, url


def _known_points(city: Path) -> tuple[list[tuple[float, float]], list[str]]:
    with (city / "lookup_points.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [(float(r["lon"]), float(r["lat"])) for r in rows], [r["microgrid"] for r in rows]


# The columns of ``incident`` the bulk import writes, as the floor COPYs them (bench/ingest.py copy_floor).
INCIDENT_COPY = (("id", "int8"), ("category", "text"), ("description", "text"), ("channel", "text"), ("state", "text"),
                 ("geom", "bytea"), ("address", "text"), ("location_source", "text"), ("location_confidence", "float4"),
                 ("flags", "text[]"), ("route", "bytea"), ("microgrid_id", "int8"), ("grid_id", "int8"),
                 ("community_id", "int8"), ("subdistrict_id", "int8"), ("area_path", "int8[]"), ("level", "text"),
                 ("received_at", "timestamptz"), ("stage", "text"), ("stage_started_at", "timestamptz"),
                 ("due_at", "timestamptz"), ("deadline_at", "timestamptz"), ("closed_at", "timestamptz"),
                 ("external_id", "text"), ("updated_at", "timestamptz"))  # fmt: skip


def _stored_owners(url: str) -> tuple[dict[str, tuple], dict[str, tuple[int, int]]]:
    """For the incident floor, read from what the import stored (not timed): micro-grid code → the
    owner columns of one case routed there (flags, route as binary JSONB, the four ids, area path,
    level); and category → (dispatch minutes, minutes of all stages)."""
    with psycopg.connect(url) as conn:
        owners = {row[0]: (row[1], b"\x01" + row[2].encode(), *row[3:]) for row in conn.execute(
            "SELECT a.code, i.flags, i.route::text, i.microgrid_id, i.grid_id, i.community_id, i.subdistrict_id,"
            " i.area_path, i.level FROM incident i JOIN area a ON a.id = i.microgrid_id AND a.valid_to IS NULL"
            " WHERE i.id IN (SELECT min(id) FROM incident WHERE channel = 'import' GROUP BY microgrid_id)"
        )}  # fmt: skip
        minutes = {c: (d, t) for c, d, t in conn.execute(
            "SELECT category, sum(minutes) FILTER (WHERE stage = 'dispatch'), sum(minutes) FROM incident_deadline"
            " GROUP BY category")}  # fmt: skip
    return owners, minutes


def _incident_rows(frame: gpd.GeoDataFrame, microgrids: gpd.GeoDataFrame, owners: dict, minutes: dict) -> dict:
    """The floor's work for the incident import (timed): the sjoin of the points, then one ``incident``
    row per point with the owner columns of its micro-grid (prepared) and the same per-row fields."""
    joined = gpd.sjoin(frame[["geometry"]], microgrids, predicate="within", how="left")
    found = joined.loc[~joined.index.duplicated(keep="first"), "code"].sort_index().tolist()
    received = pd.to_datetime(frame["reported_at"], format="ISO8601", utc=True).dt.to_pydatetime()
    status = frame["status"] if "status" in frame else pd.Series([""] * len(frame))
    closed = (status.fillna("").str.lower() == "closed").tolist()
    geoms = shapely.to_wkb(shapely.set_srid(frame.geometry.array, 4326), include_srid=True)
    nobody = ([], b"\x01{}", None, None, None, None, [], None)
    rows = []
    each = zip(frame["external_id"], frame["category"], received, closed, geoms, found, strict=True)
    for n, (ext, category, at, done, geom, code) in enumerate(each, start=1):
        flags, route, mg, grid, community, subdistrict, path, level = owners.get(code, nobody)
        dispatch, total = minutes[category]
        rows.append((n, category, category, "import", "closed" if done else "received", geom, None, "point", 1.0,
                     flags, route, mg, grid, community, subdistrict, path, level, at, None if done else "dispatch",
                     at, None if done else at + timedelta(minutes=dispatch), at + timedelta(minutes=total),
                     at if done else None, ext, at))  # fmt: skip
    return {"incident": rows}


def bench_incidents(url: str, city: Path, microgrids: gpd.GeoDataFrame) -> dict:
    """``gridmap import incidents --commit`` of the whole file, each routed micro-grid checked against
    the expected one; floor: the sjoin of the same points plus a binary COPY of the same rows into a bare
    copy of the incident table, then its indexes (bench/ingest.py ``copy_floor``, as for ingest)."""
    t = time.perf_counter()
    frame = read_table(city / "incidents.csv")
    read_s = time.perf_counter() - t
    expected = dict(zip(frame["external_id"], frame["expected_microgrid"], strict=True))
    settings = Settings()
    with psycopg.connect(url) as conn:
        t = time.perf_counter()
        report, routed = import_incidents(conn, frame.drop(columns=["expected_microgrid"]),
                                          calendar_from_settings(settings), policy_from_settings(settings),
                                          settings.timezone, commit=True)  # fmt: skip
        import_s = time.perf_counter() - t
        if not report.committed:
            raise SystemExit(f"incident import refused: {report.errors[:3]}")
        got = dict(conn.execute("SELECT i.external_id, a.code FROM incident i JOIN area a ON a.id = i.microgrid_id"
                                " AND a.valid_to IS NULL WHERE i.channel = 'import'").fetchall())  # fmt: skip
    wrong = sum(got.get(ext) != code for ext, code in expected.items())
    if wrong:
        raise SystemExit(f"{wrong} incidents routed to the wrong micro-grid: the run fails")
    del got
    owners, minutes = _stored_owners(url)
    floor = ingest.copy_floor(url, ("incident",), {"incident": INCIDENT_COPY},
                              lambda: _incident_rows(frame, microgrids, owners, minutes))  # fmt: skip
    if floor["rows"] != len(frame):
        raise SystemExit(f"the incident floor copied {floor['rows']} rows of {len(frame)}")
    n = len(frame)
    return {
        "rows": n,
        "read_s": read_s,
        "routed": dict(routed),
        "gridmap": {"seconds": import_s, "points_per_s": n / import_s},
        "baseline": floor | {"points_per_s": n / floor["seconds"]},
        "ratio": import_s / floor["seconds"],
    }


def settle(url: str) -> None:
    """VACUUM ANALYZE the tables the bulk writes filled, now rather than by autovacuum during a later load."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("incident", "incident_report", "incident_event", "audit_log"):
            conn.execute(pgsql.SQL("VACUUM (ANALYZE) {}").format(pgsql.Identifier(table)))


def bench_area_query(url: str, port: int, lon: float, lat: float) -> dict:
    """POST /api/v1/area with a 1 km circle against the same SQL run bare over psycopg."""
    body = {"lon": lon, "lat": lat, "radius_m": 1000}
    geom = circle(lon, lat, 1000, "wgs84")
    query = sql.load("area_query")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client, psycopg.connect(url) as conn:
        answer = client.post("/api/v1/area", json=body)
        answer.raise_for_status()
        totals = answer.json()["totals"]
        ours = best(lambda: client.post("/api/v1/area", json=body).raise_for_status())
        bare = best(lambda: conn.execute(query, {"wkb": shapely.to_wkb(geom), "layer": "comprehensive"}).fetchone())
    return {"totals": totals, "project_ms": ours * 1000, "bare_ms": bare * 1000, "ratio": ours / bare}


def bench_partition() -> dict:
    """The partitioner on the demo city's grids and on one synthetic 5,000-household community."""
    return {"demo_city": partition_run("demo city (Minzhi)", [(g, b) for _, g, b in demo_grids()]),
            "community_5000": partition_run("community, 5,000 households", synthetic_community(5000))}  # fmt: skip


def centre_areas(url: str) -> tuple[str, str]:
    """The community and the subdistrict holding the city's centre."""
    with psycopg.connect(url) as conn:
        return tuple(conn.execute(
            "SELECT a.code FROM area a WHERE a.valid_to IS NULL AND a.level IN ('community', 'subdistrict')"
            " AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY a.level",
            (make_city.LON0, make_city.LAT0)).fetchall()[i][0] for i in (0, 1))  # fmt: skip


def bench_http(url: str, city: Path, points, codes, microgrids, scale: float, seconds: float, connections: int,
               community: str) -> dict:  # fmt: skip
    """Everything over HTTP, on servers of one uvicorn worker per core: first the floor (constant
    ``async def`` endpoints), then gridmap, loaded only once every worker's lookup index is ready.
    Single lookups with ``connections`` connections and with one, batch, tiles and the area query, then
    what writes: intake, and last (it changes areas) the single-lookup load under writes."""
    out: dict = {}
    intake_s = seconds if scale >= 0.5 else max(3.0, seconds / 2)
    intake_lines = writes.intake_lines(points)
    single = {"client": "wrk" if has_wrk() else "httpx asyncio", "workers": workers_default(),
              "connections": connections, "points": len(points)}  # fmt: skip
    log(f"HTTP floor: constant async endpoints, {workers_default()} uvicorn workers")
    with Server(FLOOR, url) as floor:
        single["floor_rss_mb"] = max(worker_memory(floor).values())
        log(f"  single lookups: {connections} connections, then 1, {seconds:g} s each")
        base = single_load(floor.port, points, codes, seconds, connections, check=False)
        if has_wrk():
            log(f"  intake POSTs: 8 connections, {intake_s:g} s")
            intake_base = writes.intake_load(floor.port, intake_lines, intake_s, 8, None)
    log("gridmap: waiting until every worker's lookup index is ready")
    with Server(GRIDMAP, url) as server:
        out["index"] = index_ready(server)
        out["index"]["floor_rss_mb"] = single["floor_rss_mb"]
        log(f"  ready after {out['index']['ready_after_s']:.1f} s: build {out['index']['build_s']:.1f} s, "
            f"{out['index']['rss_mb']:,.0f} MB per worker (max)")  # fmt: skip
        log(f"  every one of the {len(points):,} points asked once, each answer checked")
        single["checked"] = checked_pass(server.port, points, codes, connections)
        log(f"  single lookups: {connections} connections, then 1, {seconds:g} s each")
        ours = single_load(server.port, points, codes, seconds, connections, check=True)
        out["single"] = single | single_figures(base, ours)
        log("  batch lookup, 10,000 points")
        out["batch"] = bench_batch(server.port, points, codes, microgrids)
        log("  vector tiles z13–z16 against bare ST_AsMVT")
        with httpx.Client(base_url=server.base, timeout=60) as client, psycopg.connect(url) as conn:

            def fetch(layer, z, x, y):
                r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
                r.raise_for_status()
                return r.content

            out["tiles"] = tile_figures(conn, make_city.LON0, make_city.LAT0, range(13, 17), fetch)
        log("  area query, 1 km around the centre")
        out["area_query"] = bench_area_query(url, server.port, make_city.LON0, make_city.LAT0)
        if has_wrk():
            log(f"  intake POSTs with an intake key: 8 connections, {intake_s:g} s")
            ours_intake = writes.intake_load(server.port, intake_lines, intake_s, 8, writes.api_key(url, "intake"))
            out["intake"] = {"client": "wrk", "connections": 8, "seconds": intake_s, "gridmap": ours_intake,
                             "baseline": intake_base, "ratio_rps": ours_intake["rps"] / intake_base["rps"],
                             "stored": writes.check_intake(url)}  # fmt: skip
        if has_wrk():
            rows = min(3000, results_rows(city))
            log(f"  single lookups under writes: {connections} connections while `gridmap import incidents` of "
                f"{rows:,} rows and a draft save run")  # fmt: skip
            out["mixed"] = writes.mixed_load(server, points, seconds, connections, url, city, community, rows,
                                             log=log) | {"quiet_p99_ms": ours["load"]["p99_ms"]}  # fmt: skip
        out["index"]["rss_mb_after"] = worker_memory(server)
    return out


def results_rows(city: Path) -> int:
    """Rows of the city's incident file (from city.json)."""
    return json.loads((city / "city.json").read_text())["incidents"]


def run(scale: float, seconds: float, connections: int, keep: bool) -> dict:
    """Generate, load and measure; the results as one dict (also written to bench/results/)."""
    started = time.perf_counter()
    results: dict = {"scale": scale, "machine": machine(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
    city = ROOT / "bench" / f"city-{scale:g}"
    log(f"generating the city at scale {scale:g} into {city.relative_to(ROOT)}")
    digest = hashlib.sha256(Path(make_city.__file__).read_bytes()).hexdigest()[:16]
    made = json.loads((city / "city.json").read_text()) if (city / "city.json").exists() else {}
    if made.get("generator") == digest and made.get("scale") == scale:
        log("  the same generator made these files already: reused")
        results["city"] = made
    else:
        results["city"] = make_city.write(city, scale, log=lambda m: log("  " + m)) | {"generator": digest}
        (city / "city.json").write_text(json.dumps(results["city"], indent=2))
    cluster, url = fresh_cluster(ROOT / ".gridmap" / "bench")
    # The servers started below run as a deployment would: production mode with a key of their own.
    os.environ.update(GRIDMAP_DATABASE_URL=url, GRIDMAP_ENV="production", GRIDMAP_SECRET_KEY=secrets.token_urlsafe(48))
    try:
        with psycopg.connect(url) as conn:
            version = conn.execute("SELECT version() || ', PostGIS ' || postgis_lib_version()").fetchone()[0]
            results["postgres"] = version.split(" on ")[0] + ", PostGIS " + version.rsplit(" ", 1)[1]
        log("ingest: reading the files")
        t = time.perf_counter()
        frames = ingest.read_city(city)
        results["ingest_read_s"] = time.perf_counter() - t
        log("ingest: baseline (binary COPY + indexes)")
        base = ingest.baseline(url, frames, log=lambda m: log(m))
        log("ingest: gridmap import --commit, level by level")
        ours = ingest.project(url, frames, log=lambda m: log(m))
        results["ingest"] = {"gridmap": ours, "baseline": base, "ratio": ours["seconds"] / base["seconds"]}
        microgrids = frames["microgrids"][["code", "geometry"]]
        del frames

        log("bulk incident import, then its floor (sjoin + binary COPY + indexes)")
        results["incidents"] = bench_incidents(url, city, microgrids)
        settle(url)
        points, codes = _known_points(city)
        community, subdistrict = centre_areas(url)
        results.update(bench_http(url, city, points, codes, microgrids, scale, seconds, connections, community))
        log("folium density maps")
        with psycopg.connect(url) as conn:
            results["maps"] = map_figures(conn, ("density",), (community, subdistrict))
        log("partition")
        results["partition"] = bench_partition()
    finally:
        if not keep:
            cluster.destroy()
        else:
            log(f"cluster kept: {url}")
    results["total_s"] = time.perf_counter() - started
    return results


def _http_rows(r: dict, mark: dict) -> list[tuple]:
    """The rows of the lookup index and of the HTTP loads."""
    ix, s, b = r["index"], r["single"], r["batch"]
    one, load = s["one_connection"], s["connections"]
    rss = max(ix["rss_mb"], *ix["rss_mb_after"].values()) if ix.get("rss_mb_after") else ix["rss_mb"]
    rows = [
        (
            f"lookup index: build, memory per worker ({len(ix['workers'])} workers)",
            f"{ix['build_s']:.1f} s, {ix['rss_mb'] / 1024:.2f} GB (after the loads {rss / 1024:.2f} GB)",
            f"{ix['floor_rss_mb']:.0f} MB (constant app worker)",
            "—",
            "≤ 30 s, ≤ 1.5 GB",
            mark[ix["build_s"] <= 30 and ix["rss_mb"] <= 1536],
        ),
        (
            f"single lookup, HTTP, {load} connections",
            f"{s['gridmap']['rps']:,.0f} req/s, p99 {s['gridmap']['p99_ms']:.1f} ms",
            f"{s['baseline']['rps']:,.0f} req/s, p99 {s['baseline']['p99_ms']:.1f} ms (async constant)",
            f"{s['ratio_rps']:.2f}×",
            "≥ 0.5×, p99 ≤ 10 ms",
            mark[s["ratio_rps"] >= 0.5 and s["gridmap"]["p99_ms"] <= 10],
        ),
        (
            "single lookup, HTTP, 1 connection",
            f"p50 {one['gridmap']['p50_ms']:.2f} ms, p99 {one['gridmap']['p99_ms']:.2f} ms",
            f"p50 {one['baseline']['p50_ms']:.2f} ms, p99 {one['baseline']['p99_ms']:.2f} ms (async constant)",
            f"{one['ratio_p50']:.2f}× p50",
            "p50 ≤ 0.5 ms, p99 ≤ 2 ms",
            mark[one["gridmap"]["p50_ms"] <= 0.5 and one["gridmap"]["p99_ms"] <= 2],
        ),
    ]
    m = r.get("mixed")
    if m:
        w = m["writes"]
        rows.append(
            (
                f"single lookup under writes, {load} connections",
                f"p99 {m['p99_ms']:.1f} ms, {m['errors']} errors, {m['rps']:,.0f} req/s",
                f"quiet p99 {m['quiet_p99_ms']:.1f} ms; import of {w['import']['rows']:,} rows "
                f"{w['import']['seconds']:.1f} s, draft save {w['draft_save']['steps']['save']['seconds']:.1f} s",
                "—",
                "p99 ≤ 20 ms, 0 errors",
                mark[m["p99_ms"] <= 20 and m["errors"] == 0],
            )
        )
    else:
        rows.append(
            (
                f"single lookup under writes, {load} connections",
                "not run (needs wrk)",
                "—",
                "—",
                "p99 ≤ 20 ms, 0 errors",
                "",
            )
        )
    rows.append(
        (
            "batch lookup, 10,000 points",
            f"{b['gridmap']['points_per_s']:,.0f} pts/s",
            f"{b['baseline']['points_per_s']:,.0f} pts/s (sjoin + prepared answers + orjson)",
            f"{b['ratio_points_per_s']:.2f}×",
            "≥ 0.5×",
            mark[b["ratio_points_per_s"] >= 0.5],
        )
    )
    i = r.get("intake")
    if i:
        rows.append(
            (
                f"intake, POST /api/v1/incidents, {i['connections']} connections",
                f"{i['gridmap']['rps']:,.0f} req/s, p99 {i['gridmap']['p99_ms']:.1f} ms",
                f"{i['baseline']['rps']:,.0f} req/s, p99 {i['baseline']['p99_ms']:.1f} ms (async constant)",
                f"{i['ratio_rps']:.2f}×",
                "— (reported)",
                "",
            )
        )
    return rows


def _rules_row(ingest: dict, name: str) -> tuple:
    """One level's import with the geometry rules, against the same import less the seconds they took."""
    total, rules = ingest["levels"][name], ingest["rules"][name]
    return (
        f"import {name} (geometry rules on)",
        f"{total:.1f} s",
        f"{total - rules:.1f} s without the rules",
        f"{total / max(total - rules, 1e-9):.2f}×",
        "—",
        "",
    )


def table(r: dict) -> str:
    """The results as one Markdown table: project, baseline, ratio, target."""
    ing, inc, aq = r["ingest"], r["incidents"], r["area_query"]
    tiles = r["tiles"]
    maps = {m["area"]: m for m in r["maps"]}
    p = r["partition"]
    mark = {True: "met", False: "**missed**"}
    rows = [
        ("ingest (whole city)", f"{ing['gridmap']['seconds']:.1f} s", f"{ing['baseline']['seconds']:.1f} s",
         f"{ing['ratio']:.2f}×", "≤ 2.0×", mark[ing["ratio"] <= 2.0]),
        *[_rules_row(ing["gridmap"], name) for name in ("grids", "microgrids", "buildings")],
        *_http_rows(r, mark),
        (f"incident import, {inc['rows']:,} rows", f"{inc['gridmap']['seconds']:.1f} s "
         f"({inc['gridmap']['points_per_s']:,.0f} rows/s)",
         f"{inc['baseline']['seconds']:.1f} s (sjoin + binary COPY + {inc['baseline']['index_count']} indexes)",
         f"{inc['ratio']:.2f}×", "≤ 2.0×", mark[inc["ratio"] <= 2.0]),
        *[(f"vector tile z{t['zoom']} (3×3)", f"{t['project_ms']:.1f} ms", f"{t['bare_ms']:.1f} ms (ST_AsMVT)",
           f"{t['ratio']:.2f}×", "≤ 1.3×", mark[t["ratio"] <= 1.3]) for t in tiles],
        ("area query, 1 km radius", f"{aq['project_ms']:.0f} ms", f"{aq['bare_ms']:.0f} ms (bare SQL)",
         f"{aq['ratio']:.2f}×", "≤ 1.5×", mark[aq["ratio"] <= 1.5]),
        *[(f"folium density map, {'community' if len(code) == 12 else 'subdistrict'}",
           f"{m['seconds']:.1f} s, {m['mb']:.1f} MB, {m['shapes']:,} shapes", "—", "—",
           "subdistrict ≤ 10 MB" if len(code) == 9 else "", mark[m["mb"] <= 10] if len(code) == 9 else "")
          for code, m in maps.items()],
        *[(f"partition, {name}", f"{x['seconds']:.1f} s, {x['microgrids']:,} micro-grids", "—", "—",
           f"band share ≥ 98% (got {100 * x['in_band']:.1f}%, PP median {x['polsby_popper_median']:.2f})",
           mark[x["in_band"] >= 0.98]) for name, x in (("demo city", p["demo_city"]),
                                                       ("5,000-household community", p["community_5000"]))],
    ]  # fmt: skip
    lines = ["| benchmark | gridmap | baseline (same run) | ratio | target | |", "|---|---|---|---:|---|---|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def describe(r: dict) -> str:
    """The machine and the city, for the README above the table."""
    m, c = r["machine"], r["city"]
    return (f"Scale {r['scale']:g}, {r['started']}: {c['microgrids']:,} micro-grids (median "
            f"{c['microgrid_vertices_median']:.0f} vertices), {c['grids']:,} grids, {c['communities']:,} communities, "
            f"{c['subdistricts']:,} subdistricts, {c['buildings']:,} buildings, {c['households']:,} households, "
            f"{c['incidents']:,} incidents. Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
            f"{m['os']}, Python {m['python']}; {r['postgres']}. Every HTTP load (single lookups, intake) driven by "
            f"{r['single']['client']} against {r['single']['workers']} uvicorn workers, loaded once each worker's "
            f"lookup index was ready ({r['index']['ready_after_s']:.0f} s after start). Whole run "
            f"{r['total_s'] / 60:.1f} min.")  # fmt: skip


def write_results(r: dict) -> Path:
    """bench/results/<date>-scale<S>.json, and the table in bench/README.md between the markers."""
    out = ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y-%m-%dT%H%M%SZ}-scale{r['scale']:g}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(r, indent=2, default=str))
    if README.exists():
        text = README.read_text()
        head, rest = text.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1]
        raw = f"Raw figures: `{out.relative_to(ROOT / 'bench')}`."
        block = f"{MARK_BEGIN}\n{describe(r)}\n\n{table(r)}\n\n{raw}\n{MARK_END}"
        README.write_text(head + block + tail)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="City size: 0.01 … 1 (default 1)")
    ap.add_argument("--seconds", type=float, default=10, help="Length of each single-lookup load (default 10)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--keep", action="store_true", help="Keep the bench cluster running afterwards")
    args = ap.parse_args()
    if not 0.001 <= args.scale <= 1:
        ap.error("--scale must be between 0.001 and 1")
    results = run(args.scale, args.seconds, args.connections, args.keep)
    out = write_results(results)
    print("\n" + describe(results) + "\n\n" + table(results) + f"\n\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
