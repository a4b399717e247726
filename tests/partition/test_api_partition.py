"""POST /api/v1/partition, GET …/{id}, POST …/{id}/apply over real HTTP on a copy of the demo city:
drafts change nothing, apply writes new versions atomically under jurisdiction and the audit log, and
stale or repeated applies are refused."""

from __future__ import annotations

import psycopg
import pytest
import shapely

from tests.support.access_setup import table_digest
from tests.support.helpers import cli


def _auth(tokens: dict, who: str) -> dict:
    return {"Authorization": f"Bearer {tokens[who]}"}


def _current_microgrids(url: str, grid_id: int) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, code, version FROM area WHERE parent_id = %s AND valid_to IS NULL ORDER BY code", (grid_id,)
        ).fetchall()


def _grid_households(url: str, grid_code: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT coalesce(sum(m.households), 0) FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id"
            " AND a.valid_to IS NULL WHERE starts_with(a.code, %s)",
            (grid_code,),
        ).fetchone()[0]


@pytest.fixture(scope="module")
def api(access_api):
    return access_api


def test_draft_changes_nothing_and_reports(api) -> None:
    client, url, tokens, own, _ = api
    before = table_digest(url)
    r = client.post("/api/v1/partition", json={"area": own.grid_code, "seed": 3}, headers=_auth(tokens, "planner"))
    assert r.status_code == 201, r.text
    draft = r.json()
    assert r.headers["location"] == f"/api/v1/partition/{draft['id']}"
    assert draft["status"] == "draft" and draft["area"] == own.grid_code
    summary = draft["summary"]
    assert summary["grids"] == 1 and summary["microgrids"] == len(draft["microgrids"]["features"])
    assert summary["tiling_problems"] == 0
    feats = draft["microgrids"]["features"]
    assert feats, "the draft should propose micro-grids"
    assert sum(f["properties"]["households"] for f in feats) == summary["households"]
    for f in feats:
        assert f["properties"]["code"].startswith(own.grid_code)
        assert shapely.geometry.shape(f["geometry"]).is_valid
        assert (f["properties"]["reason"] is None) == f["properties"]["in_band"]
    assert table_digest(url) == before  # areas, buildings, memberships, audit untouched
    again = client.get(f"/api/v1/partition/{draft['id']}", headers=_auth(tokens, "planner")).json()
    assert again["summary"] == summary
    # The same seed gives the same micro-grids.
    r2 = client.post("/api/v1/partition", json={"area": own.grid_code, "seed": 3}, headers=_auth(tokens, "planner"))
    assert r2.json()["microgrids"] == draft["microgrids"]


def _small_building_spot(url: str, community: str) -> tuple[int, str, dict]:
    """A grid of ``community`` and a point on one of its buildings of ≤ 50 households (never split)."""
    with psycopg.connect(url) as conn:
        grid_id, code, x, y = conn.execute(
            "SELECT g.id, g.code, ST_X(p), ST_Y(p) FROM area g"
            " JOIN building b ON ST_Covers(g.geom, ST_PointOnSurface(b.geom))"
            " CROSS JOIN LATERAL ST_PointOnSurface(b.geom) p WHERE g.level = 'grid' AND g.valid_to IS NULL"
            " AND starts_with(g.code, %s) AND b.households BETWEEN 1 AND 50"
            " ORDER BY g.code, b.id LIMIT 1",
            (community,),
        ).fetchone()
    return grid_id, code, {"lon": x, "lat": y}


def test_apply_writes_new_versions_atomically(api) -> None:
    client, url, tokens, own, _ = api
    grid_id, grid_code, point = _small_building_spot(url, own.community)
    old = _current_microgrids(url, grid_id)
    households = _grid_households(url, grid_code)
    before_lookup = client.get("/api/v1/lookup", params=point, headers=_auth(tokens, "planner")).json()
    draft = client.post("/api/v1/partition", json={"area": grid_code}, headers=_auth(tokens, "planner")).json()
    r = client.post(f"/api/v1/partition/{draft['id']}/apply", headers=_auth(tokens, "planner"))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["retired"] == len(old) and done["created"] == draft["summary"]["microgrids"]
    new = _current_microgrids(url, grid_id)
    assert [c for _, c, _ in new] == [f["properties"]["code"] for f in draft["microgrids"]["features"]]
    assert not {c for _, c, _ in old} & {c for _, c, _ in new}  # codes are never reused
    assert _grid_households(url, grid_code) == households  # nobody lost
    with psycopg.connect(url) as conn:
        closed = conn.execute(
            "SELECT count(*) FROM area WHERE id = ANY(%s) AND valid_to IS NOT NULL", ([i for i, _, _ in old],)
        ).fetchone()[0]
        audit = conn.execute(
            "SELECT actor, detail->>'draft' FROM audit_log WHERE action = 'partition' AND object_id = %s",
            (grid_id,),
        ).fetchall()
        cells = conn.execute(
            "SELECT count(DISTINCT party_cell_id) FROM party_cell_microgrid WHERE microgrid_id = ANY(%s)",
            ([i for i, _, _ in new],),
        ).fetchone()[0]
    assert closed == len(old)
    assert audit == [("planner", str(draft["id"]))]
    assert cells == len(draft["grids"][0]["party_cells"])
    # The spot now answers with a new micro-grid; asked about the moment before, it answers the old one.
    after = client.get("/api/v1/lookup", params=point, headers=_auth(tokens, "planner")).json()
    assert before_lookup["microgrid"] is not None, before_lookup
    assert after["microgrid"] is not None, after
    assert after["microgrid"]["code"] in {c for _, c, _ in new}
    at = before_lookup["microgrid"]["valid_from"]
    past = client.get("/api/v1/lookup", params=point | {"at": at}, headers=_auth(tokens, "planner")).json()
    assert past["microgrid"]["code"] == before_lookup["microgrid"]["code"]
    # Applying twice is refused.
    again = client.post(f"/api/v1/partition/{draft['id']}/apply", headers=_auth(tokens, "planner"))
    assert again.status_code == 409
    assert client.get(f"/api/v1/partition/{draft['id']}", headers=_auth(tokens, "planner")).json()["status"] == (
        "applied"
    )


def test_stale_draft_is_refused_and_changes_nothing(api) -> None:
    client, url, tokens, own, _ = api
    draft = client.post("/api/v1/partition", json={"area": own.grid_code}, headers=_auth(tokens, "admin")).json()
    mg_id, _, version = _current_microgrids(url, own.grid_id)[0]
    edit = client.patch(
        f"/api/v1/areas/{mg_id}", json={"name": "改过的微网格"},
        headers=_auth(tokens, "admin") | {"If-Match": f'"{version}"'},
    )  # fmt: skip
    assert edit.status_code == 200, edit.text
    before = table_digest(url)
    r = client.post(f"/api/v1/partition/{draft['id']}/apply", headers=_auth(tokens, "admin"))
    assert r.status_code == 409 and "make a new proposal" in r.json()["error"]["message"]
    assert table_digest(url) == before


def test_a_failure_midway_rolls_everything_back(api) -> None:
    client, url, tokens, own, _ = api
    community = own.community
    draft = client.post("/api/v1/partition", json={"area": community}, headers=_auth(tokens, "admin")).json()
    assert draft["summary"]["grids"] > 1
    # Break the last grid's first micro-grid (a self-crossing ring) so the write fails after the others.
    with psycopg.connect(url) as conn:
        bowtie = shapely.to_wkb(
            shapely.MultiPolygon(
                [shapely.Polygon([(114.0, 22.6), (114.001, 22.601), (114.001, 22.6), (114.0, 22.601)])]
            ),
            hex=True,
        )
        conn.execute(
            "UPDATE partition_draft SET proposal = jsonb_set(proposal, ARRAY[(jsonb_array_length(proposal) - 1)::text,"
            " 'microgrids', '0', 'wkb'], to_jsonb(%s::text)) WHERE id = %s",
            (bowtie, draft["id"]),
        )
    before = table_digest(url)
    r = client.post(f"/api/v1/partition/{draft['id']}/apply", headers=_auth(tokens, "admin"))
    assert r.status_code == 422, r.text
    assert table_digest(url) == before
    assert client.get(f"/api/v1/partition/{draft['id']}", headers=_auth(tokens, "admin")).json()["status"] == "draft"


@pytest.mark.parametrize(
    ("who", "side", "status"),
    [
        ("anonymous", "own", 401),
        ("viewer", "own", 403),
        ("dispatcher", "own", 403),
        ("planner", "foreign", 404),
        ("planner_key", "own", 201),
        ("admin", "foreign", 201),
    ],
)
def test_roles_and_jurisdiction(api, who: str, side: str, status: int) -> None:
    client, _, tokens, own, foreign = api
    grid = (own if side == "own" else foreign).grid_code
    headers = {} if who == "anonymous" else _auth(tokens, who)
    r = client.post("/api/v1/partition", json={"area": grid}, headers=headers)
    assert r.status_code == status, r.text


def test_foreign_draft_is_invisible_to_planner(api) -> None:
    client, _, tokens, _, foreign = api
    draft = client.post("/api/v1/partition", json={"area": foreign.grid_code}, headers=_auth(tokens, "admin")).json()
    assert client.get(f"/api/v1/partition/{draft['id']}", headers=_auth(tokens, "planner")).status_code == 404
    assert client.post(f"/api/v1/partition/{draft['id']}/apply", headers=_auth(tokens, "planner")).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"area": "x", "colour": "red"}, 422, "colour"),
        ({"area": "440309002001", "min": 60, "max": 50}, 422, "min"),
        ({"area": "440309002001", "min": 0}, 422, "min"),
        ({"area": "440309002001", "tries": 1000}, 422, "tries"),
        ({"area": "not a code"}, 422, "area"),
        ({"area": "440309999999"}, 404, None),
        ({}, 422, "area"),
    ],
)
def test_bad_input(api, body: dict, status: int, field: str | None) -> None:
    client, url, tokens, *_ = api
    before = table_digest(url)
    r = client.post("/api/v1/partition", json=body, headers=_auth(tokens, "admin"))
    assert r.status_code == status, r.text
    if field:
        assert field in r.text
    assert table_digest(url) == before


def test_microgrid_is_not_a_scope_and_gcj02_output(api) -> None:
    client, _, tokens, own, _ = api
    mg = client.get(f"/api/v1/areas/{own.microgrid_id}", headers=_auth(tokens, "admin")).json()
    r = client.post("/api/v1/partition", json={"area": mg["properties"]["code"]}, headers=_auth(tokens, "admin"))
    assert r.status_code == 422 and "not a micro-grid" in r.text
    wgs = client.post("/api/v1/partition", json={"area": own.grid_code}, headers=_auth(tokens, "admin")).json()
    gcj = client.post(
        "/api/v1/partition?crs=gcj02", json={"area": own.grid_code}, headers=_auth(tokens, "admin")
    ).json()
    a = shapely.geometry.shape(wgs["microgrids"]["features"][0]["geometry"]).centroid
    b = shapely.geometry.shape(gcj["microgrids"]["features"][0]["geometry"]).centroid
    assert 0.002 < abs(b.x - a.x) + abs(b.y - a.y) < 0.02  # GCJ-02 is shifted a few hundred metres here


def test_cli_partition_dry_run_then_apply(demo_db) -> None:
    with psycopg.connect(demo_db) as conn:
        grid_id, code = conn.execute(
            "SELECT id, code FROM area WHERE level = 'grid' AND valid_to IS NULL AND kind = 'comprehensive'"
            " ORDER BY code LIMIT 1"
        ).fetchone()
    old = _current_microgrids(demo_db, grid_id)
    dry = cli("partition", code, "--json", GRIDMAP_DATABASE_URL=demo_db)
    assert dry.returncode == 0, dry.stderr
    assert _current_microgrids(demo_db, grid_id) == old
    done = cli("partition", code, "--apply", "--seed", "2", GRIDMAP_DATABASE_URL=demo_db)
    assert done.returncode == 0, done.stderr
    assert "applied" in done.stdout and f"retired {len(old)}" in done.stdout
    assert {c for _, c, _ in _current_microgrids(demo_db, grid_id)}.isdisjoint({c for _, c, _ in old})
    bad = cli("partition", "440309999999", GRIDMAP_DATABASE_URL=demo_db)
    assert bad.returncode == 2 and "no area has code 440309999999" in bad.stderr
