"""Real ground truth: NYC's 71 community districts loaded as communities, and 311 incidents routed to
them by coordinate. The incidents carry their official community-board label, which agrees with the
polygons for about 99% of points (the data's own noise), so routing must reach at least 98%."""

from __future__ import annotations

import csv
import json

import psycopg

from gridmap.io.importer import import_file
from gridmap.lookup import LookupOptions, lookup
from tests.support.helpers import feature, write_geojson
from tests.support.shared_data import shared_file

NYC = "999999001"  # a made-up subdistrict code holding the five boroughs


def _load_districts(url: str, tmp) -> dict[str, str]:
    """Import the districts; return community code → 311 label (e.g. '08 MANHATTAN')."""
    districts = json.loads(shared_file("nyc_community_districts.geojson").read_text(encoding="utf-8"))
    sub = feature({"code": NYC, "name": "New York City"}, [[[-74.3, 40.45], [-73.65, 40.45], [-73.65, 40.95],
                                                             [-74.3, 40.95], [-74.3, 40.45]]])  # fmt: skip
    labels, communities = {}, []
    for f in districts["features"]:
        p = f["properties"]
        code = f"{NYC}{p['BoroCD']:03d}"
        labels[code] = p["community_board_label"]
        name = p["community_board_label"] or f"{p['borough']} joint interest area {p['BoroCD']}"
        communities.append({"type": "Feature", "properties": {"code": code, "name": name, "parent": NYC},
                            "geometry": f["geometry"]})  # fmt: skip
    with psycopg.connect(url) as conn:
        for level, feats in (("subdistricts", [sub]), ("communities", communities)):
            report = import_file(conn, level, write_geojson(tmp / f"{level}.geojson", feats), commit=True)
            assert report.ok, report.errors[:5]
    return labels


def test_311_incidents_route_to_their_community_district(empty_db, tmp_path):
    labels = _load_districts(empty_db, tmp_path)
    with shared_file("nyc_311_incidents_dev.csv").open(encoding="utf-8") as handle:
        incidents = [r for r in csv.DictReader(handle) if r["lat"] and r["lon"]]
    known = set(labels.values())
    with psycopg.connect(empty_db) as conn:
        records = lookup(conn, [(float(r["lon"]), float(r["lat"])) for r in incidents], LookupOptions())
    checked = agree = routed = 0
    for incident, record in zip(incidents, records, strict=True):
        owner = record["owner"]
        routed += owner is not None
        if incident["community_board"] in known:
            checked += 1
            agree += owner is not None and labels.get(owner["code"]) == incident["community_board"]
    print(f"NYC 311: {len(incidents)} points, {routed} routed to an area, "
          f"{agree}/{checked} = {agree / checked:.2%} agree with their community-board label")  # fmt: skip
    assert checked > 1700
    assert agree / checked >= 0.98
    assert all(r["match"] == "unassigned" and r["fallback"] for r in records if r["owner"])
