"""The gridmap command as a user runs it: import/export, the embedded database, and `gridmap run`
(what `make run` calls)."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from gridmap.db.embedded import EmbeddedCluster, free_port
from tests.support.helpers import GRIDMAP_COMMAND, cli, cli_env, connect, count, small_city


def test_import_dry_run_commit_and_export(empty_db, tmp_path):
    files = small_city(tmp_path)
    dry = cli("import", "subdistricts", str(files["subdistricts"]), GRIDMAP_DATABASE_URL=empty_db)
    assert dry.returncode == 0, dry.stderr
    assert "试运行" in dry.stdout  # Chinese first
    with connect(empty_db) as conn:
        assert count(conn, "area") == 0
    done = cli(
        "import", "subdistricts", str(files["subdistricts"]), "--commit", "--json", GRIDMAP_DATABASE_URL=empty_db
    )
    assert done.returncode == 0 and '"committed": true' in done.stdout
    bad = cli("import", "communities", str(files["subdistricts"]), "--commit", GRIDMAP_DATABASE_URL=empty_db)
    assert bad.returncode == 1 and "不是有效的社区编码" in bad.stdout, bad.stdout  # the error table, in Chinese
    english = cli("import", "communities", str(files["subdistricts"]), "--lang", "en", GRIDMAP_DATABASE_URL=empty_db,
                  COLUMNS="200")  # fmt: skip
    assert english.returncode == 1 and "is not a valid community (12 digits) code" in english.stdout, english.stdout
    unknown = cli("import", "districts", str(files["subdistricts"]), GRIDMAP_DATABASE_URL=empty_db)
    assert unknown.returncode == 2 and "未知的层级" in unknown.stderr
    out = tmp_path / "out.geojson"
    exported = cli("export", "subdistricts", str(out), GRIDMAP_DATABASE_URL=empty_db)
    assert exported.returncode == 0 and out.exists()


def test_embedded_database_start_status_stop():
    data = tempfile.mkdtemp(prefix="gridmap-cli-")
    try:
        started = cli("db", "start", GRIDMAP_DATA_DIR=data)
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url.startswith("postgresql://") and "127.0.0.1" in url
        assert cli("db", "start", GRIDMAP_DATA_DIR=data).stdout.strip() == url  # idempotent
        assert cli("db", "migrate", GRIDMAP_DATA_DIR=data).returncode == 0
        status = cli("db", "status", GRIDMAP_DATA_DIR=data)
        assert status.returncode == 0 and "running" in status.stdout
        assert cli("db", "stop", GRIDMAP_DATA_DIR=data).returncode == 0
        assert cli("db", "status", GRIDMAP_DATA_DIR=data).returncode == 3
        no_db = cli("export", "communities", str(Path(data) / "x.csv"), GRIDMAP_DATA_DIR=data)
        assert no_db.returncode == 1 and "gridmap db start" in no_db.stderr
    finally:
        EmbeddedCluster(Path(data) / "pg").destroy()


def _run_until_healthy(data: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [GRIDMAP_COMMAND, "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(GRIDMAP_DATA_DIR=data, GRIDMAP_PORT=str(port)),
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError("gridmap run did not become healthy")
    return proc


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    return output


def test_run_starts_everything_loads_the_demo_once_and_stops_cleanly():
    data = tempfile.mkdtemp(prefix="gridmap-run-")
    cluster = EmbeddedCluster(Path(data) / "pg")
    try:
        port = free_port()
        proc = _run_until_healthy(data, port)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        first = _stop(proc)
        assert proc.returncode == 0, first
        assert "demo city" in first and "embedded PostGIS stopped" in first
        assert not cluster.status().running
        proc = _run_until_healthy(data, port)
        status = cluster.status()
        with connect(status.url()) as conn:
            assert count(conn, "area", "level = 'microgrid'") > 0
            versions = conn.execute("SELECT max(version) FROM area").fetchone()[0]
        second = _stop(proc)
        assert "already holds areas" in second
        assert versions == 1 and not cluster.status().running
    finally:
        cluster.destroy()
