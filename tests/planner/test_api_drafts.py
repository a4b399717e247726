"""Planner drafts over HTTP against the real app and database: split, merge, move, reshape, draw,
propose, undo and redo, live tallies and findings, and saving (new versions, gap confirmation, overlap
refusal, stale 409 naming who, jurisdiction); bad input changes nothing."""

from __future__ import annotations

import httpx
import psycopg
import pytest
import shapely

from tests.support.access_setup import table_digest
from tests.support.planner_setup import PASSWORD, across


def _client(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    token = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD}).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture(scope="module")
def env(planner_api):
    base, url, target = planner_api
    clients = {name: _client(base, name) for name in ("ana", "bo", "cy")}
    yield clients, url, target
    for c in clients.values():
        c.close()


def _open(client: httpx.Client, area: str) -> dict:
    r = client.post("/api/v1/drafts", json={"area": area})
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == f'"{r.json()["revision"]}"'
    return r.json()


def _edit(client: httpx.Client, draft: dict, body: dict, status: int = 200) -> dict:
    r = client.post(f"/api/v1/drafts/{draft['id']}/edits", json=body, headers={"If-Match": f'"{draft["revision"]}"'})
    assert r.status_code == status, r.text
    return r.json()


def _mgs(doc: dict) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in doc["microgrids"]["features"]}


def _shape(feature: dict) -> shapely.Geometry:
    return shapely.geometry.shape(feature["geometry"])


def _findings(client: httpx.Client, draft: dict) -> list[dict]:
    r = client.get(f"/api/v1/drafts/{draft['id']}/findings")
    assert r.status_code == 200, r.text
    return [f["properties"] for f in r.json()["features"]]


def _split(client, draft, target) -> tuple[dict, list[dict]]:
    key = str(target.a_id)
    doc = _edit(client, draft, {"op": "split", "key": key, "line": {"type": "LineString",
                                                                    "coordinates": across(target.a_geom)}})  # fmt: skip
    parts = [f for f in doc["microgrids"]["features"] if f["properties"]["changed"]]
    return doc, parts


def test_split_merge_undo_redo_keep_land_and_households(env):
    clients, url, target = env
    ana = clients["ana"]
    draft = _open(ana, target.community)
    before = _mgs(draft)[target.a_code]["properties"]["households"]
    total = draft["tallies"]["households"]
    doc, parts = _split(ana, draft, target)
    assert doc["label"].startswith(f"split {target.a_code}")
    assert len(parts) >= 2 and {p["properties"]["code"] for p in parts} >= {target.a_code}
    # The parts tile the old micro-grid and share its households; the community total is unchanged.
    union = shapely.union_all([_shape(p) for p in parts])
    assert union.symmetric_difference(target.a_geom).area < 1e-6 * target.a_geom.area
    assert sum(p["properties"]["households"] for p in parts) == before
    assert doc["tallies"]["households"] == total
    assert doc["tallies"]["microgrids"] == draft["tallies"]["microgrids"] + len(parts) - 1
    assert doc["tallies"]["changed"] == len(parts)
    assert [f for f in _findings(ana, doc) if f["blocking"]] == []
    merged = _edit(ana, doc, {"op": "merge", "keys": [p["properties"]["key"] for p in parts]})
    assert merged["tallies"]["microgrids"] == draft["tallies"]["microgrids"]
    assert _mgs(merged)[target.a_code]["properties"]["households"] == before
    assert _shape(_mgs(merged)[target.a_code]).symmetric_difference(target.a_geom).area < 1e-6 * target.a_geom.area
    undone = ana.post(f"/api/v1/drafts/{draft['id']}/undo", headers={"If-Match": str(merged["revision"])}).json()
    assert undone["tallies"]["microgrids"] == doc["tallies"]["microgrids"] and undone["can_redo"]
    redone = ana.post(f"/api/v1/drafts/{draft['id']}/redo", headers={"If-Match": str(undone["revision"])}).json()
    assert redone["tallies"] == merged["tallies"] and not redone["can_redo"]


def test_move_takes_the_building_and_its_land(env):
    clients, url, target = env
    ana = clients["ana"]
    doc, parts = _split(ana, _open(ana, target.community), target)
    by_code = {p["properties"]["code"]: p for p in parts}
    buildings = doc["buildings"]["features"]
    source = max(parts, key=lambda p: sum(p["properties"]["code"] in b["properties"]["holders"] for b in buildings))
    sink = next(p for p in parts if p is not source)
    held = [b for b in buildings if source["properties"]["code"] in b["properties"]["holders"]]
    nearest = min(held, key=lambda b: _shape(b).distance(_shape(sink)))
    moved = _edit(ana, doc, {"op": "move", "buildings": [nearest["properties"]["id"]], "to": sink["properties"]["key"]})
    after = _mgs(moved)
    hh = nearest["properties"]["households"]
    assert after[sink["properties"]["code"]]["properties"]["households"] == sink["properties"]["households"] + hh
    assert after[source["properties"]["code"]]["properties"]["households"] == source["properties"]["households"] - hh
    footprint = _shape(nearest)
    assert _shape(after[sink["properties"]["code"]]).intersection(footprint).area > 0.9 * footprint.area
    # Land moved with it: the two still tile what they tiled before (to the territories' 0.1 m
    # simplification: below a square metre, which the checks count as no gap and no overlap).
    pair = shapely.union_all([_shape(after[c]) for c in (source["properties"]["code"], sink["properties"]["code"])])
    before = shapely.union_all([_shape(by_code[c]) for c in (source["properties"]["code"], sink["properties"]["code"])])
    assert pair.symmetric_difference(before).area < 1e-5 * before.area
    assert [f for f in _findings(ana, moved) if f["blocking"] or f["problem"] == "gap"] == []


def test_a_gap_needs_confirmation_and_an_overlap_is_refused(env):
    clients, url, target = env
    ana = clients["ana"]
    draft = _open(ana, target.community)
    digest = table_digest(url)
    a = _mgs(draft)[target.a_code]
    geom = _shape(a)
    held = shapely.union_all([_shape(b) for b in draft["buildings"]["features"]
                              if target.a_code in b["properties"]["holders"]])  # fmt: skip
    # Cut a corner of land away from every building: a gap the checks report, warned at save.
    corner = max(shapely.points(shapely.get_coordinates(geom)), key=lambda p: p.distance(held))
    smaller = geom.difference(corner.buffer(0.00004))
    shrunk = _edit(
        ana, draft, {"op": "reshape", "key": str(target.a_id), "geometry": shapely.geometry.mapping(smaller)}
    )
    gaps = [f for f in _findings(ana, shrunk) if f["problem"] == "gap"]
    assert len(gaps) == 1 and gaps[0]["confirm"] and not gaps[0]["blocking"] and target.a_code[:15] in gaps[0]["codes"]
    r = ana.post(f"/api/v1/drafts/{draft['id']}/save", json={}, headers={"If-Match": str(shrunk["revision"])})
    assert r.status_code == 422 and r.json()["error"]["code"] == "confirmation_required"
    assert "belong to no micro-grid" in r.json()["error"]["message"]
    assert table_digest(url) == digest
    # Growing into the neighbour without letting it give way: an overlap, refused with the reason.
    b = _mgs(draft)[target.b_code]
    bite = _shape(b).intersection(geom.buffer(0.00003))
    grown = shapely.union_all([geom, bite])
    overlapping = _edit(ana, shrunk, {"op": "reshape", "key": str(target.a_id), "give_way": False,
                                      "geometry": shapely.geometry.mapping(grown)})  # fmt: skip
    overlaps = [f for f in _findings(ana, overlapping) if f["problem"] == "overlap"]
    assert overlaps and overlaps[0]["blocking"] and set(overlaps[0]["codes"]) == {target.a_code, target.b_code}
    r = ana.post(f"/api/v1/drafts/{draft['id']}/save", json={"confirm": True},
                 headers={"If-Match": str(overlapping["revision"])})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "draft_refused"
    assert any("both cover" in f for f in r.json()["error"]["findings"])
    assert table_digest(url) == digest
    # With the neighbour giving way there is no overlap: B lost exactly what A took.
    gave = _edit(
        ana, overlapping, {"op": "reshape", "key": str(target.a_id), "geometry": shapely.geometry.mapping(grown)}
    )
    assert not [f for f in _findings(ana, gave) if f["problem"] == "overlap"]
    b_after = _shape(_mgs(gave)[target.b_code])
    assert abs(b_after.area - (_shape(b).area - bite.area)) < 1e-3 * _shape(b).area


def test_save_writes_versions_and_a_stale_draft_gets_409(env):
    clients, url, target = env
    ana, bo = clients["ana"], clients["bo"]
    stale = _open(ana, target.community)
    stale = _edit(ana, stale, {"op": "merge", "keys": [str(target.a_id), str(target.b_id)]})
    doc, parts = _split(bo, _open(bo, target.community), target)
    r = bo.post(f"/api/v1/drafts/{doc['id']}/save", headers={"If-Match": str(doc["revision"])})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["updated"] == [target.a_code] and len(saved["created"]) == len(parts) - 1
    with psycopg.connect(url) as conn:
        version, households = conn.execute(
            "SELECT a.version, h.households FROM area a JOIN area_households h ON h.id = a.id"
            " WHERE a.id = %s AND a.valid_to IS NULL",
            (target.a_id,),
        ).fetchone()
        assert version == 2 and households == _mgs(doc)[target.a_code]["properties"]["households"]
        created = conn.execute(
            "SELECT count(*) FROM area WHERE code = ANY(%s) AND valid_to IS NULL AND version = 1", (saved["created"],)
        ).fetchone()[0]
        assert created == len(saved["created"])
        actions = conn.execute(
            "SELECT action, count(*) FROM audit_log WHERE actor = 'bo' AND detail->>'draft' = %s GROUP BY action",
            (str(doc["id"]),),
        ).fetchall()
        assert dict(actions) == {"update": 1, "create": len(saved["created"])}
    history = bo.get(f"/api/v1/areas/{target.a_id}/versions").json()["features"]
    assert [(f["properties"]["version"], f["properties"]["by"]) for f in history][:1] == [(2, "bo")]
    assert len(history) == 2
    # Ana's draft was made before bo saved: 409 naming bo, and nothing written.
    digest = table_digest(url)
    r = ana.post(f"/api/v1/drafts/{stale['id']}/save", headers={"If-Match": str(stale["revision"])})
    assert (
        r.status_code == 409 and "bo" in r.json()["error"]["message"] and target.a_code in r.json()["error"]["message"]
    )
    assert table_digest(url) == digest
    # A saved draft takes no more edits; a second save of it is a 409 too.
    r = bo.post(f"/api/v1/drafts/{doc['id']}/save", headers={"If-Match": str(doc["revision"] + 1)})
    assert r.status_code == 409


def test_draw_and_propose(env):
    clients, url, target = env
    ana = clients["ana"]
    draft = _open(ana, target.community)
    spot = shapely.point_on_surface(shapely.geometry.shape(draft["community"]["geometry"])).buffer(0.0003, 4)
    drawn = _edit(ana, draft, {"op": "draw", "geometry": shapely.geometry.mapping(spot), "name": "第一小学",
                               "layer": "school"})  # fmt: skip
    school = [g for g in drawn["grids"]["features"] if g["properties"]["new"]]
    assert [(g["properties"]["layer"], g["properties"]["name"]) for g in school] == [("school", "第一小学")]
    _edit(ana, drawn, {"op": "draw", "geometry": shapely.geometry.mapping(spot), "name": "x", "layer": "comprehensive"},
          422)  # fmt: skip
    grid = next(g for g in draft["grids"]["features"] if g["properties"]["code"] == target.a_code[:15])
    proposed = _edit(ana, drawn, {"op": "propose", "grid": grid["properties"]["key"], "min": 30, "max": 50})
    new = [f for f in proposed["microgrids"]["features"] if f["properties"]["new"] and f["properties"]["grid"]]
    assert new and all(f["properties"]["grid"] == grid["properties"]["code"] for f in new)
    grid_total = sum(f["properties"]["households"] for f in draft["microgrids"]["features"]
                     if f["properties"]["grid"] == grid["properties"]["code"])  # fmt: skip
    assert sum(f["properties"]["households"] for f in new) == grid_total
    assert proposed["tallies"]["households"] == draft["tallies"]["households"]


def test_jurisdiction_and_roles(env):
    clients, url, target = env
    cy = clients["cy"]
    # Outside a jurisdiction an area or draft is as good as absent (404), as everywhere in the API.
    assert cy.post("/api/v1/drafts", json={"area": target.community}).status_code == 404
    ana_draft = _open(clients["ana"], target.community)
    assert cy.get(f"/api/v1/drafts/{ana_draft['id']}").status_code == 404
    assert cy.get(f"/api/v1/drafts?area={target.community}").status_code == 404
    r = cy.post(f"/api/v1/drafts/{ana_draft['id']}/edits", headers={"If-Match": "0"},
                json={"op": "merge", "keys": [str(target.a_id), str(target.b_id)]})  # fmt: skip
    assert r.status_code == 404
    anonymous_read = httpx.get(str(clients["ana"].base_url).rstrip("/") + f"/api/v1/drafts/{ana_draft['id']}")
    assert anonymous_read.status_code == 401
    anonymous = httpx.post(str(clients["ana"].base_url).rstrip("/") + "/api/v1/drafts", json={"area": target.community})
    assert anonymous.status_code == 401
    # Who wrote a version is for planners of the area (and auditors), not for other planners.
    history = cy.get(f"/api/v1/areas/{target.a_id}/versions").json()["features"]
    assert history and all("by" not in f["properties"] for f in history)
    assert _open(cy, target.foreign)["area"] == target.foreign


BAD_EDITS = [
    ({"op": "split", "key": "1", "line": {"type": "LineString", "coordinates": [[114.0, 22.6], [114.0, "x"]]}}, 422),
    ({"op": "split", "key": "1", "line": {"type": "LineString", "coordinates": [[22.6, 114.0], [22.7, 114.0]]}}, 422),
    ({"op": "split", "key": "1", "line": {"type": "LineString", "coordinates": [[114.0, 22.6]]}}, 422),
    ({"op": "split", "key": "1", "line": {"type": "Point", "coordinates": [114.0, 22.6]}}, 422),
    ({"op": "merge", "keys": ["1"]}, 422),
    ({"op": "merge", "keys": ["1", "2"], "extra": 1}, 422),
    ({"op": "move", "buildings": [], "to": "1"}, 422),
    ({"op": "reshape", "key": "x1", "geometry": {"type": "Polygon", "coordinates": []}}, 422),
    (
        {
            "op": "reshape",
            "key": "1",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[114, 22], [114.1, 22.1], [114, 22.1], [114.1, 22], [114, 22]]],
            },
        },
        422,
    ),
    ({"op": "explode", "key": "1"}, 422),
    ({"op": "propose", "grid": "1", "min": 60, "max": 50}, 422),
]


@pytest.mark.parametrize("body,status", BAD_EDITS)
def test_bad_edits_get_4xx_and_change_nothing(env, body, status):
    clients, url, target = env
    ana = clients["ana"]
    draft = _open(ana, target.community)
    r = ana.post(f"/api/v1/drafts/{draft['id']}/edits", json=body, headers={"If-Match": str(draft["revision"])})
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]
    assert ana.get(f"/api/v1/drafts/{draft['id']}").json()["revision"] == draft["revision"]


def test_edits_need_the_current_revision(env):
    clients, url, target = env
    ana = clients["ana"]
    draft = _open(ana, target.community)
    body = {"op": "merge", "keys": [str(target.a_id), str(target.b_id)]}
    assert ana.post(f"/api/v1/drafts/{draft['id']}/edits", json=body).status_code == 428
    first = _edit(ana, draft, body)
    # A second tab still at the old revision: 409, the draft keeps one step.
    assert ana.post(f"/api/v1/drafts/{draft['id']}/edits", json=body, headers={"If-Match": "0"}).status_code == 409
    assert len(ana.get(f"/api/v1/drafts/{draft['id']}").json()["steps"]) == len(first["steps"]) == 1
    # Merging pieces that do not border each other is refused with the reason.
    draft = _open(ana, target.community)
    far = next(c for c, f in _mgs(draft).items()
               if c.startswith(target.a_code[:15]) and _shape(f).distance(target.a_geom) > 0.00001)  # fmt: skip
    r = ana.post(f"/api/v1/drafts/{draft['id']}/edits", headers={"If-Match": str(draft["revision"])},
                 json={"op": "merge", "keys": [str(target.a_id), _mgs(draft)[far]["properties"]["key"]]})  # fmt: skip
    assert r.status_code == 422 and "border" in r.json()["error"]["message"]
    assert ana.get("/api/v1/drafts/999999").status_code == 404
