"""Lookup benchmark: single lookups over HTTP against a constant FastAPI endpoint, and batch lookups
against an in-process geopandas sjoin, each baseline measured in the same run. Every answer is checked
against the micro-grid the point was drawn from (100% required, else the run fails).

    .venv/bin/python bench/lookup.py [--seconds 10] [--connections 16] [--points 20000]

Uses GRIDMAP_DATABASE_URL, or the embedded cluster (started and loaded with the demo city if needed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import psycopg
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.db.connect import database_url  # noqa: E402
from gridmap.db.embedded import EmbeddedCluster, free_port  # noqa: E402
from gridmap.db.migrate import migrate  # noqa: E402
from gridmap.demo import is_empty, load_demo  # noqa: E402
from gridmap.lookup import LookupOptions, lookup  # noqa: E402
from gridmap.settings import Settings  # noqa: E402


def _database() -> str:
    settings = Settings()
    if not settings.database_url:
        EmbeddedCluster(settings.embedded_dir).start()
    url = database_url(settings)
    migrate(url)
    with psycopg.connect(url) as conn:
        if is_empty(conn):
            print("loading the demo city …", flush=True)
            load_demo(conn)
    return url


def _sample(url: str, n: int, seed: int = 7) -> tuple[list[tuple[float, float]], list[str], gpd.GeoDataFrame]:
    """n points strictly inside micro-grids that own their territory alone (no unit split), with the
    code each must resolve to; and every current micro-grid as a GeoDataFrame for the sjoin baseline."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT a.code, ST_AsBinary(a.geom),
                      EXISTS (SELECT 1 FROM microgrid_member m WHERE m.microgrid_id = a.id
                              AND (m.unit_from IS NOT NULL OR m.floor_from IS NOT NULL)) AS split
               FROM area a WHERE a.level = 'microgrid' AND a.valid_to IS NULL AND a.layer = 'comprehensive'"""
        ).fetchall()
    frame = gpd.GeoDataFrame(
        {"code": [r[0] for r in rows]}, geometry=shapely.from_wkb([r[1] for r in rows]), crs="EPSG:4326"
    )
    rng = np.random.default_rng(seed)
    usable = [i for i, r in enumerate(rows) if not r[2]]
    points, codes = [], []
    while len(points) < n:
        i = usable[rng.integers(len(usable))]
        inner = frame.geometry.iloc[i].buffer(-0.00001)
        if inner.is_empty:
            continue
        x0, y0, x1, y1 = inner.bounds
        for _ in range(20):
            p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
            if inner.contains(p):
                points.append((p.x, p.y))
                codes.append(frame.code.iloc[i])
                break
    return points, codes, frame


def server_env(url: str) -> dict[str, str]:
    """The environment of a benchmarked server: this database, and no anonymous rate limit (the load
    comes from one address and would be refused after 100 requests)."""
    return {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_RATE_LIMIT_ANONYMOUS": "0"}


def _serve(target: list[str], port: int, env: dict, workers: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/lookup?lon=114.04&lat=22.62", timeout=2).status_code < 500:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{target} did not start")


async def _hammer(port: int, points, codes, seconds: float, connections: int, check: bool, once: bool = False) -> dict:
    """GET /api/v1/lookup from ``connections`` asyncio clients cycling through ``points`` for ``seconds``
    (or each point exactly once with ``once``); with ``check``, every answer is compared with ``codes``."""
    latencies: list[float] = []
    wrong = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:

        async def worker(k: int) -> None:
            nonlocal wrong
            i = k
            while (i < len(points)) if once else time.perf_counter() < stop:
                lon, lat = points[i % len(points)]
                t = time.perf_counter()
                r = await client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
                latencies.append(time.perf_counter() - t)
                if check and (
                    r.status_code != 200 or (r.json()["microgrid"] or {}).get("code") != codes[i % len(codes)]
                ):
                    wrong += 1
                i += connections

        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "wrong": wrong,
    }


def _wrk(port: int, points, seconds: float, connections: int) -> dict:
    """The same load from wrk (C, two threads): far less client CPU than Python, so the server is measured."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.writelines(f"/api/v1/lookup?lon={lon!r}&lat={lat!r}\n" for lon, lat in points)
    try:
        out = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "--latency", "-s",
             str(ROOT / "bench" / "lookup.lua"), f"http://127.0.0.1:{port}", "--", f.name],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    figures = json.loads(next(line[4:] for line in out.splitlines() if line.startswith("WRK ")))
    if figures["errors"]:
        raise SystemExit(f"wrk saw {figures['errors']} failed requests: the run fails")
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def bench_single(url: str, points, codes, seconds: float, connections: int) -> dict:
    """GET /api/v1/lookup against the constant endpoint, both under uvicorn with one worker per core.

    Every point is first asked once and each answer checked (the run fails on any wrong one); then the
    load runs for ``seconds`` from wrk when installed, else from asyncio clients that check as they go."""
    workers = os.cpu_count() or 1
    env = server_env(url)
    results: dict = {"client": "wrk" if shutil.which("wrk") else "httpx asyncio", "workers": workers}
    for name, target in (("baseline", ["bench.baseline_app:app"]), ("gridmap", ["--factory", "api.app:create_app"])):
        port = free_port()
        proc = _serve(target, port, env, workers)
        try:
            if name == "gridmap":
                results["checked"] = asyncio.run(_hammer(port, points, codes, 0, connections, check=True, once=True))
                if results["checked"]["wrong"]:
                    raise SystemExit(f"{results['checked']['wrong']} wrong single answers: the run fails")
            else:
                asyncio.run(_hammer(port, points, codes, 2, connections, check=False))  # warm up
            if results["client"] == "wrk":
                results[name] = _wrk(port, points, seconds, connections)
            else:
                results[name] = asyncio.run(_hammer(port, points, codes, seconds, connections, check=name == "gridmap"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if results["gridmap"].get("wrong"):
        raise SystemExit(f"{results['gridmap']['wrong']} wrong single answers: the run fails")
    results["ratio_rps"] = results["gridmap"]["rps"] / results["baseline"]["rps"]
    return results


def bench_batch(url: str, points, codes, frame: gpd.GeoDataFrame, batch: int = 10_000) -> dict:
    """POST /api/v1/lookup with ``batch`` points against geopandas.sjoin(within) in process."""
    pts = points[:batch]
    env = server_env(url)
    port = free_port()
    proc = _serve(["--factory", "api.app:create_app"], port, env, 1)
    try:
        body = [{"id": i, "lon": x, "lat": y} for i, (x, y) in enumerate(pts)]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            client.post("/api/v1/lookup", json=body[:100])  # warm up
            t = time.perf_counter()
            r = client.post("/api/v1/lookup", json=body)
            http_s = time.perf_counter() - t
        answers = [(rec["microgrid"] or {}).get("code") for rec in r.json()]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    wrong = sum(a != c for a, c in zip(answers, codes[:batch], strict=True))
    if wrong:
        raise SystemExit(f"{wrong} wrong batch answers: the run fails")
    t = time.perf_counter()
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy([p[0] for p in pts], [p[1] for p in pts]), crs="EPSG:4326")
    joined = gpd.sjoin(gdf, frame, predicate="within", how="left")
    sjoin_s = time.perf_counter() - t
    assert len(joined) >= len(pts)
    return {
        "points": len(pts),
        "gridmap": {"seconds": http_s, "points_per_s": len(pts) / http_s},
        "baseline": {"seconds": sjoin_s, "points_per_s": len(pts) / sjoin_s},
        "ratio_points_per_s": sjoin_s / http_s,
    }


def bench_core(url: str, points, codes, calls: int = 500, batch: int = 10_000) -> dict:
    """The database's own share: ``gridmap.lookup.lookup`` in process over one psycopg connection,
    one point per call and one 10,000-point batch (no HTTP, no JSON response)."""
    options = LookupOptions()
    with psycopg.connect(url, options="-c jit=off") as conn:
        for p in points[:20]:  # warm up: the statement is prepared after the first call
            lookup(conn, [p], options)
        times, wrong = [], 0
        for p, code in zip(points[:calls], codes[:calls], strict=True):
            t = time.perf_counter()
            record = lookup(conn, [p], options)[0]
            times.append(time.perf_counter() - t)
            wrong += (record["microgrid"] or {}).get("code") != code
        t = time.perf_counter()
        records = lookup(conn, points[:batch], options)
        batch_s = time.perf_counter() - t
    wrong += sum((r["microgrid"] or {}).get("code") != c for r, c in zip(records, codes[:batch], strict=True))
    if wrong:
        raise SystemExit(f"{wrong} wrong in-process answers: the run fails")
    times.sort()
    return {
        "single_p50_ms": 1000 * statistics.median(times),
        "single_p99_ms": 1000 * times[int(0.99 * (len(times) - 1))],
        "batch_seconds": batch_s,
        "batch_us_per_point": 1e6 * batch_s / len(records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--points", type=int, default=20_000)
    args = parser.parse_args()
    url = _database()
    points, codes, frame = _sample(url, args.points)
    single = bench_single(url, points, codes, args.seconds, args.connections)
    batch = bench_batch(url, points, codes, frame)
    core = bench_core(url, points, codes)
    s, b = single, batch
    print(f"\n{'benchmark':<22}{'gridmap':>16}{'baseline':>16}{'ratio':>8}   notes")
    print(
        f"{'single lookup (HTTP)':<22}{s['gridmap']['rps']:>12.0f} r/s{s['baseline']['rps']:>12.0f} r/s"
        f"{s['ratio_rps']:>8.2f}   p50 {s['gridmap']['p50_ms']:.1f} ms, p99 {s['gridmap']['p99_ms']:.1f} ms "
        f"(baseline p99 {s['baseline']['p99_ms']:.1f} ms), {s['gridmap']['requests']} answers all correct"
    )
    gp, bp = b["gridmap"]["points_per_s"], b["baseline"]["points_per_s"]
    print(f"{'batch lookup (10k)':<22}{gp:>12.0f} p/s{bp:>12.0f} p/s"
          f"{b['ratio_points_per_s']:>8.2f}   HTTP POST {b['gridmap']['seconds']:.2f} s vs in-process sjoin "
          f"{b['baseline']['seconds']:.2f} s, all correct")  # fmt: skip
    print(
        f"{'in process (no HTTP)':<22}one point p50 {core['single_p50_ms']:.2f} ms, p99 {core['single_p99_ms']:.2f} ms;"
        f" 10k batch {core['batch_seconds']:.2f} s = {core['batch_us_per_point']:.0f} µs/point, all correct"
    )
    out = ROOT / "bench" / "results" / f"lookup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    out.write_text(
        json.dumps({"machine": machine, "args": vars(args), "single": single, "batch": batch, "core": core}, indent=2)
    )
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
