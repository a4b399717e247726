"""HTTP loads that write, on a running server: incident intake (POST /api/v1/incidents with an intake API
key, from wrk), and the single-lookup load while an incident import (the ``gridmap import incidents``
command, in a process of its own) and a planner draft save (over HTTP, with an admin API key) run.
Used by bench/megacity.py."""

from __future__ import annotations

import csv
import itertools
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import psycopg

from bench.lookup import Server, Wrk, lookup_paths, wrk
from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from gridmap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
INTAKE_MARK = "bench intake"  # the description of every report the intake load sends
# Categories seeded by the migrations (gridmap/db/migrations/0004.incidents.sql).
CATEGORIES = ("sanitation", "streetlight", "road", "greenery", "noise", "property", "utilities", "other")


def api_key(url: str, role: str) -> str:
    """A new API key of ``role`` (jurisdiction: everywhere), made as ``gridmap key add`` makes one."""
    secret = Settings().security.secret_key.get_secret_value()
    with psycopg.connect(url) as conn:
        return accounts.add_key(conn, cli_principal(), secret, f"bench-{role}-{secrets.token_hex(4)}", role, [])


def intake_lines(points) -> list[str]:
    """One POST per building centroid, categories in turn (wrk's METHOD\\tpath\\tbody lines)."""
    return [
        "POST\t/api/v1/incidents\t"
        + orjson.dumps(
            {"category": c, "description": INTAKE_MARK, "channel": "api", "lon": lon, "lat": lat}
        ).decode()  # fmt: skip
        for (lon, lat), c in zip(points, itertools.cycle(CATEGORIES))
    ]


def _headers(token: str | None) -> tuple[str, ...]:
    return ("Content-Type: application/json", *((f"Authorization: Bearer {token}",) if token else ()))


def intake_load(port: int, lines: list[str], seconds: float, connections: int, token: str | None) -> dict:
    """POST /api/v1/incidents from wrk; every answer must be 201 (a new case) or 200 (a repeat joining
    an open case), anything else fails the run."""
    wrk(port, lines, min(2, seconds), connections, headers=_headers(token), ok=(200, 201))  # warm up
    return wrk(port, lines, seconds, connections, headers=_headers(token), ok=(200, 201))


def check_intake(url: str) -> dict:
    """Every intake report stored, each case routed to a micro-grid (the points are building centroids)."""
    with psycopg.connect(url) as conn:
        cases, unrouted, reports = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE microgrid_id IS NULL), coalesce(sum(reports), 0)"
            " FROM incident WHERE channel = 'api' AND description = %s",
            (INTAKE_MARK,),
        ).fetchone()
    if unrouted:
        raise SystemExit(f"{unrouted} intake cases at building centroids were not routed to a micro-grid")
    return {"cases": cases, "reports": int(reports)}


def import_file(city: Path, rows: int, directory: Path) -> Path:
    """The first ``rows`` incidents of the city's file under new external ids (the bulk benchmark has
    taken the originals in), without the generator's expected owner."""
    out = directory / "mixed_incidents.csv"
    with (city / "incidents.csv").open() as f, out.open("w", newline="") as g:
        reader = csv.DictReader(f)
        columns = [c for c in reader.fieldnames if c != "expected_microgrid"]
        writer = csv.DictWriter(g, columns, extrasaction="ignore")
        writer.writeheader()
        for row in itertools.islice(reader, rows):
            writer.writerow(row | {"external_id": "mixed-" + row["external_id"]})
    return out


def merge_pair(url: str, community: str) -> tuple[int, int]:
    """Two micro-grids of one grid in ``community`` sharing an edge, for a planner's merge."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT a.id, b.id FROM area a JOIN area b ON b.parent_id = a.parent_id AND b.id > a.id"
            " AND b.valid_to IS NULL AND b.level = 'microgrid' AND b.layer = a.layer AND b.geom && a.geom"
            " WHERE a.valid_to IS NULL AND a.level = 'microgrid' AND a.layer = 'comprehensive'"
            " AND a.code LIKE %s || '%%' AND ST_Relate(a.geom, b.geom, 'F***1****')"
            " ORDER BY a.code, b.code LIMIT 1",
            (community,),
        ).fetchone()
    if row is None:
        raise SystemExit(f"no two bordering micro-grids of one grid in community {community}")
    return row


def draft_save(base: str, token: str, community: str, keys: tuple[int, int]) -> dict:
    """A planner's session: open a draft of ``community``, merge two micro-grids, save (confirming when
    asked). Seconds of each step; the save's answer."""
    steps: dict = {}
    with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:

        def step(name: str, *args, **kw) -> dict:
            t = time.perf_counter()
            r = client.post(*args, **kw)
            steps[name] = {"seconds": time.perf_counter() - t, "status": r.status_code}
            if r.status_code >= 400 and not (name == "save" and r.status_code == 422):
                raise RuntimeError(f"draft {name}: {r.status_code} {r.text[:300]}")
            return r.json()

        draft = step("open", "/api/v1/drafts", json={"area": community})
        draft = step("merge", f"/api/v1/drafts/{draft['id']}/edits", json={"op": "merge", "keys": list(map(str, keys))},
                     headers={"If-Match": f'"{draft["revision"]}"'})  # fmt: skip
        saved = step("save", f"/api/v1/drafts/{draft['id']}/save", json={},
                     headers={"If-Match": f'"{draft["revision"]}"'})  # fmt: skip
        if steps["save"]["status"] == 422 and (saved.get("error") or {}).get("code") == "confirmation_required":
            saved = step("save", f"/api/v1/drafts/{draft['id']}/save", json={"confirm": True},
                         headers={"If-Match": f'"{draft["revision"]}"'})  # fmt: skip
        if steps["save"]["status"] != 200:
            raise RuntimeError(f"draft save refused: {saved}")
    return {"steps": steps, "saved": {k: saved.get(k) for k in ("created", "updated", "retired")}}


def mixed_load(server: Server, points, seconds: float, connections: int, url: str, city: Path, community: str,
               import_rows: int, log=print) -> dict:  # fmt: skip
    """The single-lookup load (``connections``, every answer's status checked: anything but 200 is an
    error) while ``gridmap import incidents --commit`` of ``import_rows`` rows and a planner's draft save
    (open, merge two micro-grids, save) run, both started a second into the load. The load runs in
    periods of ``seconds`` until both writes are done (at most 10); p99 is the worst period's."""
    token = api_key(url, "admin")
    keys = merge_pair(url, community)
    paths = lookup_paths(points)
    writes: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        file = import_file(city, import_rows, Path(tmp))

        def run_import() -> None:
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "cli", "import", "incidents", str(file), "--commit",
                                   "--json"], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
            writes["import"] = {"rows": import_rows, "seconds": time.perf_counter() - t, "exit": done.returncode}
            if done.returncode:
                writes["import"]["error"] = (done.stderr or done.stdout)[-500:]

        def run_draft() -> None:
            t = time.perf_counter()
            try:
                writes["draft_save"] = draft_save(server.base, token, community, keys)
            except Exception as e:  # reported, and fails the run below
                writes["draft_save"] = {"error": str(e)}
            writes["draft_save"]["seconds"] = time.perf_counter() - t

        periods = [Wrk(server.port, paths, seconds, connections, ok=(200,))]
        time.sleep(1)
        threads = [threading.Thread(target=f) for f in (run_import, run_draft)]
        for th in threads:
            th.start()
        results = [periods[0].result()]
        while any(th.is_alive() for th in threads) and len(results) < 10:
            results.append(Wrk(server.port, paths, seconds, connections, ok=(200,)).result())
        for th in threads:
            th.join()
    for name in ("import", "draft_save"):
        if writes[name].get("error") or writes[name].get("exit"):
            raise SystemExit(f"the {name} under load failed: {writes[name]}")
    log(f"  import of {import_rows:,} rows {writes['import']['seconds']:.1f} s, draft save "
        f"{writes['draft_save']['seconds']:.1f} s, {len(results)} load period(s)")  # fmt: skip
    requests = sum(r["requests"] for r in results)
    return {
        "periods": results,
        "writes": writes,
        "requests": requests,
        "rps": requests / sum(r["seconds"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "max_ms": max(r["max_ms"] for r in results),
        "errors": sum(r["errors"] + r["bad"] for r in results),
    }
