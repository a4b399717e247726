"""Other shapes, real ground truth: the NYC 311 dev sample (tests/data) sent through the API, one report
at a time, with NYC's community districts as the areas; each 311 record names its community board, so the
routing can be checked. Then the same file as bulk history through ``gridmap import incidents``."""

from __future__ import annotations

import csv
import re
import time

import geopandas as gpd
import httpx
import pandas as pd
import psycopg
import pytest

from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from gridmap.io.importer import import_frame
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.helpers import cli
from tests.support.shared_data import shared_file

PASSWORD = "a long enough password"


def nyc_areas(url: str) -> None:
    """Boroughs as subdistricts, community districts as communities, each district also its own grid and
    micro-grid (NYC has no finer units), with codes in the project's pattern."""
    cds = gpd.read_file(shared_file("nyc_community_districts.geojson")).to_crs(4326)
    cds["sub"] = ["000000" + f"{int(b) // 100:03d}" for b in cds["BoroCD"]]
    cds["community"] = [s + f"{int(b) % 100:03d}" for s, b in zip(cds["sub"], cds["BoroCD"], strict=True)]
    # Parks and airports ("joint interest areas") have no board label.
    labels = zip(cds["community_board_label"], cds["BoroCD"], cds["borough"], strict=True)
    cds["label"] = [lab if isinstance(lab, str) and lab else f"JIA {int(b)} {boro}" for lab, b, boro in labels]
    boroughs = cds.dissolve("sub", aggfunc="first").reset_index()
    levels = {
        "subdistricts": gpd.GeoDataFrame({"code": boroughs["sub"], "name": boroughs["borough"]},
                                         geometry=boroughs.geometry, crs=4326),
        "communities": gpd.GeoDataFrame({"code": cds["community"], "name": cds["label"],
                                         "parent": cds["sub"]}, geometry=cds.geometry, crs=4326),
        "grids": gpd.GeoDataFrame({"code": cds["community"] + "001", "name": cds["label"],
                                   "parent": cds["community"]}, geometry=cds.geometry, crs=4326),
        "microgrids": gpd.GeoDataFrame({"code": cds["community"] + "001001", "name": cds["label"],
                                        "parent": cds["community"] + "001"}, geometry=cds.geometry, crs=4326),
    }  # fmt: skip
    with psycopg.connect(url) as conn:
        for level, frame in levels.items():
            report = import_frame(conn, level, frame, commit=True)
            assert report.ok, report.errors[:3]


def slug(category: str) -> str:
    return ("nyc_" + re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_"))[:40]


@pytest.fixture(scope="module")
def nyc(server_url, empty_template):
    from tests.conftest import _copy

    for url in _copy(server_url, empty_template):
        nyc_areas(url)
        settings = Settings(database_url=url, rate_limit_anonymous=0, timezone="America/New_York")
        secret = settings.security.secret_key.get_secret_value()
        with psycopg.connect(url, autocommit=True) as conn:
            accounts.add_user(conn, cli_principal(), "admin", PASSWORD, "admin", [])
            admin = accounts.login(conn, secret, "admin", PASSWORD, 1)[0]
            key = accounts.add_key(conn, cli_principal(), secret, "nyc-311", "intake", [])
        with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield client, url, admin, key


def test_nyc_311_sample_through_the_api(nyc):
    client, url, admin, key = nyc
    rows = list(csv.DictReader(shared_file("nyc_311_incidents_dev.csv").open(encoding="utf-8")))
    for category in sorted({r["category"] for r in rows}):
        r = client.put(f"/api/v1/incident-categories/{slug(category)}", headers={"Authorization": f"Bearer {admin}"},
                       json={"name": category[:100], "name_zh": category[:100], "deadline_minutes": {
                           "dispatch": 60, "accept": 120, "handle": 1440, "verify": 480}})  # fmt: skip
        assert r.status_code == 200, r.text
    started = time.perf_counter()
    outcome = {"created": 0, "repeat": 0, "refused": 0, "no_coordinates": 0}
    checked = agreed = 0
    for row in rows:
        if not row["lat"]:
            outcome["no_coordinates"] += 1
            continue
        body = {"category": slug(row["category"]), "description": row["descriptor"] or row["category"],
                "channel": "api", "lon": float(row["lon"]), "lat": float(row["lat"]), "external_id": row["incident_id"],
                "address": row["address"] or None}  # fmt: skip
        r = client.post("/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {key}"})
        if r.status_code >= 500:
            pytest.fail(f"server error on {row['incident_id']}: {r.text}")
        if r.status_code >= 400:
            outcome["refused"] += 1
            continue
        doc = r.json()
        outcome["repeat" if doc["repeat"] else "created"] += 1
        board = row["community_board"]
        if board[:1].isdigit() and not board.startswith("0 "):
            checked += 1
            community = doc["owner"].get("community") or {}
            agreed += community.get("name") == board
    elapsed = time.perf_counter() - started
    print(
        f"\nNYC 311 dev sample through POST /api/v1/incidents: {outcome}; routed to the community board the"
        f" record names: {agreed}/{checked} = {agreed / checked:.1%}; {elapsed:.1f} s for {len(rows)} rows"
    )
    assert outcome["created"] + outcome["repeat"] + outcome["refused"] + outcome["no_coordinates"] == len(rows)
    assert outcome["refused"] <= len(rows) * 0.02, outcome
    assert checked > 1500 and agreed / checked >= 0.95


def test_nyc_311_history_through_the_bulk_import(nyc, tmp_path):
    client, url, admin, key = nyc
    frame = pd.read_csv(shared_file("nyc_311_incidents_dev.csv"), dtype=str, keep_default_na=False)
    frame["category"] = frame["category"].map(slug)
    frame = frame.rename(columns={"incident_id": "external_id", "created_at": "reported_at",
                                  "descriptor": "description"})  # fmt: skip
    with_points = frame[frame["lat"] != ""]
    path = tmp_path / "nyc.csv"
    with_points[["external_id", "reported_at", "closed_at", "category", "description", "address", "status", "lon",
                 "lat"]].to_csv(path, index=False)  # fmt: skip
    env = {"GRIDMAP_DATABASE_URL": url, "GRIDMAP_TIMEZONE": "America/New_York"}
    dry = cli("import", "incidents", str(path), "--lang", "en", **env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run" in dry.stdout and "routed:" in dry.stdout
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM incident WHERE channel = 'import'").fetchone()[0]
    done = cli("import", "incidents", str(path), "--commit", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(url) as conn:
        n, agree, closed = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE route->'community'->>'name' = r.board),"
            " count(*) FILTER (WHERE i.state = 'closed')"
            " FROM incident i JOIN (SELECT unnest(%s::text[]) id, unnest(%s::text[]) board) r ON r.id = i.external_id"
            " WHERE i.channel = 'import' AND r.board ~ '^[0-9]{2} '",
            (list(with_points["external_id"]), list(with_points["community_board"])),
        ).fetchone()
        imported = conn.execute("SELECT count(*) FROM incident WHERE channel = 'import'").fetchone()[0]
    print(f"\nNYC 311 bulk history: {imported} imported, community board agreement {agree}/{n} = {agree / n:.1%}")
    assert before == 0 and imported == len(with_points)
    assert agree / n >= 0.95 and closed > 0
    again = cli("import", "incidents", str(path), "--commit", **env)
    assert again.returncode == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM incident WHERE channel = 'import'").fetchone()[0] == imported
