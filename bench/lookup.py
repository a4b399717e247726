"""Lookup benchmark: single lookups over HTTP against a constant ``async def`` FastAPI endpoint, and batch
lookups against an in-process geopandas sjoin plus the JSON of prepared answers, each floor measured in
the same run. Every answer is checked against the micro-grid the point was drawn from (100% required,
else the run fails).

    .venv/bin/python bench/lookup.py [--seconds 10] [--connections 16] [--points 20000]

Uses GRIDMAP_DATABASE_URL, or the embedded cluster (started and loaded with the demo city if needed).
bench/megacity.py uses the pieces here on a generated city.

Each gridmap server is loaded only once every worker's ``/health`` says its lookup index is ``ready``
(``index_ready``); until then lookups are answered by SQL and the figures would measure the start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import orjson
import psycopg
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.db.connect import database_url  # noqa: E402
from gridmap.db.embedded import EmbeddedCluster, free_port  # noqa: E402
from gridmap.db.migrate import migrate  # noqa: E402
from gridmap.io.demo import is_empty, load_demo  # noqa: E402
from gridmap.lookup import LookupOptions, lookup, lookup_now, lookup_sql  # noqa: E402
from gridmap.lookup.index import LookupIndex  # noqa: E402
from gridmap.settings import Settings  # noqa: E402

GRIDMAP = ["--factory", "api.app:create_app"]
FLOOR = ["bench.baseline_app:app"]
# The longest a server may take until every worker's index is ready (the target is 30 s at scale 1).
READY_TIMEOUT_S = 600


def _database() -> str:
    settings = Settings()
    if not settings.database.database_url:
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


def workers_default() -> int:
    """uvicorn workers for every benchmarked server: one per core."""
    return os.cpu_count() or 1


def _serve(target: list[str], port: int, env: dict, workers: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/lookup?lon=114.04&lat=22.62", timeout=2).status_code < 500:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{target} did not start (exit {proc.wait()})")


class Server:
    """A uvicorn server of ``target`` (gridmap or the floor) on a free port, stopped on leaving."""

    def __init__(self, target: list[str], url: str, workers: int | None = None):
        self.target, self.workers = target, workers or workers_default()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.proc = _serve(target, self.port, server_env(url), self.workers)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes: the children of the parent process that multiprocessing spawned
        to run a worker (not its resource tracker, also a child)."""
        kids = _children(self.proc.pid)
        return [pid for pid in kids if b"spawn_main" in _cmdline(pid)] or kids


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    if tasks.exists() and any((t / "children").exists() for t in tasks.iterdir()):
        return sorted({int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()})
    kids = []  # kernels without /proc/<pid>/task/<tid>/children: the parent pid of every process
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return sorted(kids)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def index_ready(server: Server, timeout: float = READY_TIMEOUT_S) -> dict:
    """Poll ``/health`` on new connections (bursts of several at once, so that every worker accepts some)
    until each of the server's workers, told apart by the pid it reports, says its lookup index is
    ``ready``; then each worker's index figures and resident memory. Fails the run on timeout or when the
    index is off."""
    workers = server.workers
    ready: dict[int, dict] = {}
    last: dict[int, dict] = {}
    deadline = time.monotonic() + timeout

    def health(_: int) -> dict | None:
        try:
            r = httpx.get(f"{server.base}/health", timeout=10, headers={"Connection": "close"})
        except httpx.TransportError:
            return None
        return r.json().get("lookup_index") if r.status_code == 200 else None

    with ThreadPoolExecutor(max_workers=2 * workers) as pool:
        while True:
            for status in pool.map(health, range(2 * workers)):
                if not status:
                    continue
                if status.get("state") == "off":
                    raise SystemExit("the lookup index is off (GRIDMAP_LOOKUP_INDEX): nothing to benchmark")
                pid = status["pid"]
                last[pid] = status
                if status.get("state") == "ready":
                    ready[pid] = status
                else:
                    ready.pop(pid, None)
            if len(ready) >= workers:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the lookup index was not ready on all {workers} workers after {timeout:.0f} s;"
                                 f" last seen per worker pid: {json.dumps(last)}")  # fmt: skip
            time.sleep(0.2)
    waited_s = time.perf_counter() - server.started
    children = server.worker_pids()
    stray = set(ready) - set(children)
    if stray:
        raise SystemExit(f"/health answered from pids {sorted(stray)}, not children of uvicorn {server.proc.pid}")
    per_worker = {str(pid): {**status, "rss_mb": rss_mb(pid)} for pid, status in sorted(ready.items())}
    return {
        "workers": per_worker,
        "build_s": max(s["build_s"] for s in per_worker.values()),
        "rss_mb": max(s["rss_mb"] for s in per_worker.values()),
        "ready_after_s": waited_s,  # from starting uvicorn until the last worker said ready
    }


def worker_memory(server: Server) -> dict[str, float]:
    """pid → resident MB of each worker of ``server`` now."""
    return {str(pid): rss_mb(pid) for pid in server.worker_pids()}


class Wrk:
    """One wrk run over the requests in ``lines`` (a path per line, or METHOD\\tpath\\tbody), started in
    the background; ``result()`` waits and returns the figures bench/lookup.lua prints. With ``ok``
    (statuses), every answer's status is checked too (``bad``: answers with another status)."""

    def __init__(self, port: int, lines, seconds: float, connections: int, threads: int | None = None,
                 headers: tuple[str, ...] = (), ok: tuple[int, ...] = ()):  # fmt: skip
        threads = threads or min(2, connections)
        self.seconds = seconds
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.writelines(line + "\n" for line in lines)
        self.file = f.name
        args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
                "-s", str(ROOT / "bench" / "lookup.lua")]  # fmt: skip
        for h in headers:
            args += ["-H", h]
        args += [f"http://127.0.0.1:{port}", "--", f.name]
        env = {**os.environ, "WRK_OK": ",".join(map(str, ok))}
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def result(self) -> dict:
        try:
            out, err = self.proc.communicate(timeout=self.seconds + 60)
        finally:
            os.unlink(self.file)
        if self.proc.returncode:
            raise RuntimeError(f"wrk failed ({self.proc.returncode}): {err.strip()[-500:]}")
        figures = json.loads(next(line[4:] for line in out.splitlines() if line.startswith("WRK ")))
        figures["rps"] = figures["requests"] / figures["seconds"]
        return figures


def wrk(port: int, lines, seconds: float, connections: int, threads: int | None = None,
        headers: tuple[str, ...] = (), ok: tuple[int, ...] = (), fail: bool = True) -> dict:  # fmt: skip
    """A wrk load of ``seconds`` (C, far less client CPU than Python, so the server is measured); with
    ``fail``, any failed request (or, with ``ok``, any other status) fails the run."""
    figures = Wrk(port, lines, seconds, connections, threads, headers, ok).result()
    if fail and (figures["errors"] or figures["bad"]):
        raise SystemExit(f"wrk saw {figures['errors']} failed requests and {figures['bad']} answers with a status"
                         f" other than {ok}: the run fails ({figures})")  # fmt: skip
    return figures


def lookup_paths(points) -> list[str]:
    return [f"/api/v1/lookup?lon={lon!r}&lat={lat!r}" for lon, lat in points]


def _figures(latencies: list[float], elapsed: float, wrong: int) -> dict:
    """Requests, rate, median and 99th percentile (ms) of one load, and how many answers were wrong."""
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "wrong": wrong,
    }


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
    return _figures(latencies, elapsed, wrong)


def has_wrk() -> bool:
    return shutil.which("wrk") is not None


def single_load(port: int, points, codes, seconds: float, connections: int, check: bool) -> dict:
    """The single-lookup load on one server: ``connections`` connections, then one connection, each for
    ``seconds``, after a 2 s warm-up; from wrk when installed, else from asyncio clients (which check every
    answer as they go when ``check``)."""
    paths = lookup_paths(points)
    out: dict = {}
    if has_wrk():
        wrk(port, paths, 2, connections)  # warm up
        out["load"] = wrk(port, paths, seconds, connections)
        out["one"] = wrk(port, paths, seconds, 1, threads=1)
    else:
        asyncio.run(_hammer(port, points, codes, 2, connections, check=False))
        out["load"] = asyncio.run(_hammer(port, points, codes, seconds, connections, check=check))
        out["one"] = asyncio.run(_hammer(port, points, codes, seconds, 1, check=check))
    wrong = sum(x.get("wrong", 0) for x in out.values())
    if wrong:
        raise SystemExit(f"{wrong} wrong single answers: the run fails")
    return out


async def _ask_each(port: int, paths: list[str], codes, connections: int) -> dict:
    """GET each path once over ``connections`` keep-alive HTTP/1.1 connections (a minimal client: httpx
    spends ~2 ms of CPU per request, which on two cores would take the server's share), each answer's
    micro-grid compared with ``codes``."""
    latencies: list[float] = []
    wrong: list[int] = []

    async def worker(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in range(k, len(paths), connections):
                t = time.perf_counter()
                writer.write(f"GET {paths[i]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                length = next(int(h.split(":", 1)[1]) for h in lines[1:] if h.lower().startswith("content-length:"))
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t)
                if status != 200 or _code(orjson.loads(body)) != codes[i]:
                    wrong.append(i)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return _figures(latencies, time.perf_counter() - start, len(wrong))


def checked_pass(port: int, points, codes, connections: int) -> dict:
    """Every point asked once over HTTP, each answer compared with its known micro-grid; fails the run
    on any wrong one."""
    checked = asyncio.run(_ask_each(port, lookup_paths(points), codes, connections))
    if checked["wrong"] or checked["requests"] != len(points):
        raise SystemExit(f"{checked['wrong']} wrong single answers of {checked['requests']}: the run fails")
    return checked


def bench_single(url: str, points, codes, seconds: float, connections: int) -> dict:
    """GET /api/v1/lookup against the constant endpoint, both under uvicorn with one worker per core,
    with ``connections`` connections and with one. The gridmap server is loaded once every worker's
    index is ready; every point is first asked once and each answer checked (the run fails on any wrong
    one). Returns the figures, the index's (build time, memory per worker) among them."""
    results: dict = {"client": "wrk" if has_wrk() else "httpx asyncio", "workers": workers_default(),
                     "connections": connections, "points": len(points)}  # fmt: skip
    with Server(FLOOR, url) as floor:
        results["floor_rss_mb"] = max(worker_memory(floor).values())
        base = single_load(floor.port, points, codes, seconds, connections, check=False)
    with Server(GRIDMAP, url) as server:
        results["index"] = index_ready(server)
        results["checked"] = checked_pass(server.port, points, codes, connections)
        ours = single_load(server.port, points, codes, seconds, connections, check=True)
        results["index"]["rss_mb_after_load"] = worker_memory(server)
    return results | single_figures(base, ours)


def single_figures(base: dict, ours: dict) -> dict:
    """The results of ``single_load`` on the floor and on gridmap, as the table reads them."""
    return {
        "baseline": base["load"], "gridmap": ours["load"], "ratio_rps": ours["load"]["rps"] / base["load"]["rps"],
        "one_connection": {"baseline": base["one"], "gridmap": ours["one"],
                           "ratio_p50": ours["one"]["p50_ms"] / base["one"]["p50_ms"]},
    }  # fmt: skip


def _code(record: dict) -> str | None:
    return (record.get("microgrid") or {}).get("code")


def bench_batch(port: int, points, codes, frame: gpd.GeoDataFrame, batch: int = 10_000, repeat: int = 3) -> dict:
    """POST /api/v1/lookup with ``batch`` points on a running gridmap server (best of ``repeat``, every
    answer checked), against the floor in process: geopandas.sjoin(within) of the same points, then the
    same number of records taken from a dict of prepared owner answers (one per micro-grid code, taken
    from gridmap's own answer) and ``orjson.dumps`` of the list (best of ``repeat``)."""
    pts = points[:batch]
    body = orjson.dumps([{"id": i, "lon": x, "lat": y} for i, (x, y) in enumerate(pts)])
    headers = {"Content-Type": "application/json"}
    times, answer = [], None
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
        client.post("/api/v1/lookup", content=orjson.dumps([{"id": 0, "lon": pts[0][0], "lat": pts[0][1]}]),
                    headers=headers).raise_for_status()  # fmt: skip
        for _ in range(repeat):
            t = time.perf_counter()
            r = client.post("/api/v1/lookup", content=body, headers=headers)
            times.append(time.perf_counter() - t)
            r.raise_for_status()
            answer = r.json()
            wrong = sum(_code(rec) != c for rec, c in zip(answer, codes[:batch], strict=True))
            if wrong:
                raise SystemExit(f"{wrong} wrong batch answers: the run fails")
    http_s = min(times)
    # The floor's answers: gridmap's records without the per-point fields, one per micro-grid code.
    prepared = {_code(rec): {k: v for k, v in rec.items() if k not in ("id", "point")} for rec in answer}
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]

    def floor() -> tuple[bytes, list]:
        gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xs, ys), crs="EPSG:4326")
        joined = gpd.sjoin(gdf, frame[["code", "geometry"]], predicate="within", how="left")
        found = joined.loc[~joined.index.duplicated(keep="first"), "code"].sort_index().tolist()
        out = [{"id": i, "point": {"lon": x, "lat": y, "crs": "wgs84", "wgs84": [x, y]}, **prepared.get(code, {})}
               for i, x, y, code in zip(range(len(xs)), xs, ys, found, strict=True)]  # fmt: skip
        return orjson.dumps(out), found

    floor_times = []
    for _ in range(repeat):
        t = time.perf_counter()
        data, found = floor()
        floor_times.append(time.perf_counter() - t)
    floor_s = min(floor_times)
    if found != list(codes[:batch]):
        raise SystemExit("the sjoin floor disagrees with the known micro-grids: the floor is wrong")
    return {
        "points": len(pts),
        "gridmap": {"seconds": http_s, "points_per_s": len(pts) / http_s, "runs": times,
                    "response_mb": len(r.content) / 1e6},
        "baseline": {"seconds": floor_s, "points_per_s": len(pts) / floor_s, "runs": floor_times,
                     "response_mb": len(data) / 1e6},
        "ratio_points_per_s": floor_s / http_s,
    }  # fmt: skip


def bench_core(url: str, points, codes, calls: int = 500, batch: int = 10_000) -> dict:
    """In process, over one psycopg connection: the index's build, one point per call and one 10,000-point
    batch answered from the index (``lookup_now``), and one point per call by SQL alone (no HTTP, no JSON)."""
    options = LookupOptions()
    with psycopg.connect(url, options="-c jit=off") as conn:
        index = LookupIndex(conn)
        for p in points[:20]:  # warm up: the statement is prepared after the first call
            lookup_sql(conn, [p], options)

        def timed(fn) -> tuple[list[float], int]:
            times, wrong = [], 0
            for p, code in zip(points[:calls], codes[:calls], strict=True):
                t = time.perf_counter()
                record = fn([p])[0]
                times.append(time.perf_counter() - t)
                wrong += _code(record) != code
            return sorted(times), wrong

        index_times, wrong = timed(lambda ps: lookup_now(index, ps, options))
        sql_times, wrong_sql = timed(lambda ps: lookup_sql(conn, ps, options))
        t = time.perf_counter()
        records = lookup(conn, points[:batch], options, index=index)
        batch_s = time.perf_counter() - t
    wrong += wrong_sql + sum(_code(r) != c for r, c in zip(records, codes[:batch], strict=True))
    if wrong:
        raise SystemExit(f"{wrong} wrong in-process answers: the run fails")

    def pct(times, q):
        return 1000 * times[int(q * (len(times) - 1))]

    return {
        "index_build_s": index.build_seconds,
        "single_p50_ms": pct(index_times, 0.5), "single_p99_ms": pct(index_times, 0.99),
        "sql_single_p50_ms": pct(sql_times, 0.5), "sql_single_p99_ms": pct(sql_times, 0.99),
        "batch_seconds": batch_s, "batch_us_per_point": 1e6 * batch_s / len(records),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--points", type=int, default=20_000)
    args = parser.parse_args()
    # The servers run as a deployment would: production mode, with a key of their own unless one is set.
    os.environ.setdefault("GRIDMAP_SECRET_KEY", secrets.token_urlsafe(48))
    url = _database()
    points, codes, frame = _sample(url, args.points)
    single = bench_single(url, points, codes, args.seconds, args.connections)
    with Server(GRIDMAP, url) as server:
        index_ready(server)
        batch = bench_batch(server.port, points, codes, frame)
    core = bench_core(url, points, codes)
    s, b, one = single, batch, single["one_connection"]
    print(f"\n{'benchmark':<22}{'gridmap':>16}{'floor':>16}{'ratio':>8}   notes")
    print(
        f"{'single lookup (HTTP)':<22}{s['gridmap']['rps']:>12.0f} r/s{s['baseline']['rps']:>12.0f} r/s"
        f"{s['ratio_rps']:>8.2f}   p50 {s['gridmap']['p50_ms']:.1f} ms, p99 {s['gridmap']['p99_ms']:.1f} ms "
        f"(floor p99 {s['baseline']['p99_ms']:.1f} ms), {s['checked']['requests']} answers all correct"
    )
    print(
        f"{'one connection':<22}{one['gridmap']['p50_ms']:>13.2f} ms{one['baseline']['p50_ms']:>13.2f} ms"
        f"{one['ratio_p50']:>8.2f}   p50; p99 {one['gridmap']['p99_ms']:.2f} ms"
        f" (floor {one['baseline']['p99_ms']:.2f} ms)"
    )
    print(f"{'lookup index':<22}build {s['index']['build_s']:.1f} s, {s['index']['rss_mb']:.0f} MB per worker (max)")
    gp, bp = b["gridmap"]["points_per_s"], b["baseline"]["points_per_s"]
    print(f"{'batch lookup (10k)':<22}{gp:>12.0f} p/s{bp:>12.0f} p/s"
          f"{b['ratio_points_per_s']:>8.2f}   HTTP POST {b['gridmap']['seconds']:.2f} s vs sjoin + prepared answers "
          f"+ orjson {b['baseline']['seconds']:.2f} s, all correct")  # fmt: skip
    print(
        f"{'in process (no HTTP)':<22}index: one point p50 {core['single_p50_ms']:.3f} ms, p99 "
        f"{core['single_p99_ms']:.3f} ms; SQL p50 {core['sql_single_p50_ms']:.2f} ms; 10k batch "
        f"{core['batch_seconds']:.2f} s = {core['batch_us_per_point']:.0f} µs/point, all correct"
    )
    out = ROOT / "bench" / "results" / f"lookup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    out.write_text(
        json.dumps({"machine": machine, "args": vars(args), "single": single, "batch": batch, "core": core}, indent=2)
    )
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
