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
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import httpx
import psycopg
import shapely
from psycopg import sql as pgsql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ingest, make_city  # noqa: E402
from bench.lookup import _serve, bench_batch, bench_single, server_env  # noqa: E402
from bench.maps import best, map_figures, tile_figures  # noqa: E402
from bench.partition import run as partition_run  # noqa: E402
from bench.partition import synthetic_community  # noqa: E402
from gridmap import sql  # noqa: E402
from gridmap.area_query import circle  # noqa: E402
from gridmap.db.embedded import EmbeddedCluster, free_port  # noqa: E402
from gridmap.db.migrate import migrate  # noqa: E402
from gridmap.incidents.bulk import import_incidents  # noqa: E402
from gridmap.incidents.calendar import calendar_from_settings  # noqa: E402
from gridmap.incidents.routing import policy_from_settings  # noqa: E402
from gridmap.io.read import read_table  # noqa: E402
from gridmap.settings import Settings  # noqa: E402
from tests.partition_data import demo_grids  # noqa: E402

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


def bench_incidents(url: str, city: Path, microgrids: gpd.GeoDataFrame) -> dict:
    """``gridmap import incidents --commit`` of the whole file, each routed micro-grid checked against
    the expected one; baseline: the polygon-driven sjoin of the same points."""
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
    t = time.perf_counter()
    gpd.sjoin(frame[["geometry"]], microgrids, predicate="within", how="left")
    sjoin_s = time.perf_counter() - t
    n = len(frame)
    return {
        "rows": n,
        "read_s": read_s,
        "routed": dict(routed),
        "gridmap": {"seconds": import_s, "points_per_s": n / import_s},
        "baseline": {"seconds": sjoin_s, "points_per_s": n / sjoin_s},
        "ratio_points_per_s": sjoin_s / import_s,
    }


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

        log("bulk incident import")
        results["incidents"] = bench_incidents(url, city, microgrids)
        points, codes = _known_points(city)
        log(f"single lookups over HTTP ({len(points):,} points, {connections} connections, {seconds:g} s)")
        results["single"] = bench_single(url, points, codes, seconds, connections)
        log("batch lookup, 10,000 points")
        results["batch"] = bench_batch(url, points, codes, microgrids)

        community, subdistrict = centre_areas(url)
        port = free_port()
        server = _serve(["--factory", "api.app:create_app"], port, server_env(url), 1)
        try:
            log("vector tiles z13–z16 over HTTP against bare ST_AsMVT")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client, psycopg.connect(url) as conn:

                def fetch(layer, z, x, y):
                    r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
                    r.raise_for_status()
                    return r.content

                results["tiles"] = tile_figures(conn, make_city.LON0, make_city.LAT0, range(13, 17), fetch)
            log("area query, 1 km around the centre")
            results["area_query"] = bench_area_query(url, port, make_city.LON0, make_city.LAT0)
        finally:
            server.terminate()
            server.wait(timeout=30)
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


def table(r: dict) -> str:
    """The results as one Markdown table: project, baseline, ratio, target."""
    ing, inc, s, b, aq = r["ingest"], r["incidents"], r["single"], r["batch"], r["area_query"]
    tiles = r["tiles"]
    maps = {m["area"]: m for m in r["maps"]}
    p = r["partition"]
    mark = {True: "met", False: "**missed**"}
    rows = [
        ("ingest (whole city)", f"{ing['gridmap']['seconds']:.1f} s", f"{ing['baseline']['seconds']:.1f} s",
         f"{ing['ratio']:.2f}×", "≤ 2.0×", mark[ing["ratio"] <= 2.0]),
        ("single lookup, HTTP", f"{s['gridmap']['rps']:,.0f} req/s, p99 {s['gridmap']['p99_ms']:.1f} ms",
         f"{s['baseline']['rps']:,.0f} req/s, p99 {s['baseline']['p99_ms']:.1f} ms", f"{s['ratio_rps']:.2f}×",
         "≥ 0.5×, p99 ≤ 5 ms", mark[s["ratio_rps"] >= 0.5 and s["gridmap"]["p99_ms"] <= 5]),
        ("batch lookup, 10,000 points", f"{b['gridmap']['points_per_s']:,.0f} pts/s",
         f"{b['baseline']['points_per_s']:,.0f} pts/s (sjoin)", f"{b['ratio_points_per_s']:.2f}×", "≥ 0.5×",
         mark[b["ratio_points_per_s"] >= 0.5]),
        (f"incident import, {inc['rows']:,} rows", f"{inc['gridmap']['points_per_s']:,.0f} pts/s",
         f"{inc['baseline']['points_per_s']:,.0f} pts/s (sjoin)", f"{inc['ratio_points_per_s']:.2f}×", "≥ 0.5×",
         mark[inc["ratio_points_per_s"] >= 0.5]),
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
            f"{m['os']}, Python {m['python']}; {r['postgres']}. Single lookups driven by "
            f"{r['single']['client']} with {r['single']['workers']} uvicorn workers. Whole run "
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
