"""The bad-input corpus: every case gets a 4xx naming the defect, and the database is unchanged."""

from __future__ import annotations

import json
import math
from urllib.parse import quote

import httpx
import psycopg
import pytest

from tests.support.access_setup import box, table_digest
from tests.support.incident_setup import incident_digest

DEEP = "[" * 5000 + "]" * 5000


def corpus(own) -> list[tuple]:
    """(name, method, path, body (dict → JSON, str → raw text), headers, status, words the answer must
    contain), around a spot inside the admin's test grid so each case fails for its own defect only."""
    X, Y = own.spot  # noqa: N806 - the corpus reads like coordinates

    def sq(x=X, y=Y, d=0.0001) -> list:
        return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]

    def area_body(**overrides) -> dict:
        body = {"level": "microgrid", "parent": own.grid_code, "name": "坏输入", "layer": "badinput",
                "geometry": {"type": "Polygon", "coordinates": [sq()]}}  # fmt: skip
        return body | overrides

    def geometry(coordinates, gtype="Polygon", **extra) -> dict:
        return area_body(geometry={"type": gtype, "coordinates": coordinates, **extra})

    def incident(**overrides) -> dict:
        return {"category": "streetlight", "description": "路灯不亮", "lon": X, "lat": Y} | overrides

    def bad_number(word: str) -> str:
        return json.dumps(area_body()).replace(json.dumps(X + 0.0001), word, 1)

    many = [[X + 0.0005 * math.cos(i / 400), Y + 0.0005 * math.sin(i / 400)] for i in range(2512)]
    many.append(many[0])
    micro, building = own.microgrid_id, own.building_id
    return [
        ("bow-tie", "POST", "/api/v1/areas",
         geometry([[[X, Y], [X + 1e-4, Y + 1e-4], [X + 1e-4, Y], [X, Y + 1e-4], [X, Y]]]), {}, 422, "self-intersection"),
        ("unclosed ring", "POST", "/api/v1/areas", geometry([sq()[:-1]]), {}, 422, "not closed"),
        ("2-point ring", "POST", "/api/v1/areas", geometry([[[X, Y], [X + 1e-4, Y]]]), {}, 422, "at least 4"),
        ("empty coordinates", "POST", "/api/v1/areas", geometry([]), {}, 422, "empty"),
        ("empty ring", "POST", "/api/v1/areas", geometry([[]]), {}, 422, "at least 4"),
        ("NaN", "POST", "/api/v1/areas", bad_number("NaN"), {}, 422, "NaN"),
        ("Infinity", "POST", "/api/v1/areas", bad_number("Infinity"), {}, 422, "infinite"),
        ("1e999", "POST", "/api/v1/areas", bad_number("1e999"), {}, 422, "infinite"),
        ("lon out of range", "POST", "/api/v1/areas", geometry([sq(x=200)]), {}, 422, "out of range"),
        ("lat out of range", "POST", "/api/v1/areas", geometry([sq(y=95)]), {}, 422, "out of range"),
        ("swapped", "POST", "/api/v1/areas", geometry([[[p[1], p[0]] for p in sq()]]), {}, 422, "swapped"),
        ("3D", "POST", "/api/v1/areas", geometry([[[*p, 10.0] for p in sq()]]), {}, 422, "3D"),
        ("GeometryCollection", "POST", "/api/v1/areas", geometry([], gtype="GeometryCollection"), {}, 422, "geometry.type"),
        ("Point", "POST", "/api/v1/areas", geometry([X, Y], gtype="Point"), {}, 422, "geometry.type"),
        ("foreign crs member", "POST", "/api/v1/areas",
         geometry([sq()], crs={"type": "name", "properties": {"name": "EPSG:3857"}}), {}, 422, "geometry.crs"),
        ("huge vertex count", "POST", "/api/v1/areas", geometry([many]), {}, 422, "more than 2000 vertices"),
        ("deep nesting", "POST", "/api/v1/areas", '{"level": "microgrid", "geometry": ' + DEEP + "}", {}, 400, "body"),
        ("hole outside shell", "POST", "/api/v1/areas", geometry([sq(), sq(x=X + 0.01)]), {}, 422, "hole"),
        ("NUL in name", "POST", "/api/v1/areas", area_body(name="坏\x00名"), {}, 422, "NUL"),
        ("NUL in attrs", "POST", "/api/v1/areas", area_body(attrs={"k": "a\x00b"}), {}, 422, "NUL"),
        ("attrs not an object", "POST", "/api/v1/areas", area_body(attrs=[1, 2]), {}, 422, "attrs"),
        ("oversize body", "POST", "/api/v1/areas", area_body(name="x" * 300_000), {}, 413, "larger than"),
        ("unknown field", "POST", "/api/v1/areas", area_body(colour="red"), {}, 422, "colour"),
        ("name a number", "POST", "/api/v1/areas", area_body(name=5), {}, 422, "name"),
        ("geometry a string", "POST", "/api/v1/areas", area_body(geometry="POLYGON((0 0,1 0,1 1,0 0))"), {}, 422,
         "geometry"),
        ("missing name", "POST", "/api/v1/areas", {k: v for k, v in area_body().items() if k != "name"}, {}, 422, "name"),
        ("missing geometry", "POST", "/api/v1/areas", {k: v for k, v in area_body().items() if k != "geometry"}, {},
         422, "geometry"),
        ("unknown level", "POST", "/api/v1/areas", area_body(level="block"), {}, 422, "level"),
        ("unknown parent", "POST", "/api/v1/areas", area_body(parent="440309999999999"), {}, 404, "440309999999999"),
        ("parent of the wrong level", "POST", "/api/v1/areas", area_body(parent=own.community), {}, 422, "must be a grid"),
        ("code with letters", "POST", "/api/v1/areas", area_body(code="44030900500A000001"), {}, 422, "code"),
        ("code of the wrong length", "POST", "/api/v1/areas", area_body(code="4403"), {}, 422, "18 digits"),
        ("code outside the parent", "POST", "/api/v1/areas", area_body(code="110101001001001001"), {}, 422, "parent"),
        ("bad kind", "POST", "/api/v1/areas", area_body(kind="special"), {}, 422, "kind"),
        ("bad layer", "POST", "/api/v1/areas", area_body(layer="Public Security"), {}, 422, "layer"),
        ("name too long", "POST", "/api/v1/areas", area_body(name="名" * 201), {}, 422, "name"),
        ("not JSON", "POST", "/api/v1/areas", "{level: microgrid", {}, 422, "not valid JSON"),
        ("a JSON array", "POST", "/api/v1/areas", "[1, 2]", {}, 422, "body"),
        ("empty body", "POST", "/api/v1/areas", "", {}, 422, "body"),
        ("bad crs", "POST", "/api/v1/areas?crs=epsg3857", area_body(), {}, 422, "crs"),
        ("unknown query parameter", "POST", "/api/v1/areas?lng=1", area_body(), {}, 422, "lng"),
        ("outside the parent", "POST", "/api/v1/areas", geometry([sq(x=X + 0.5)]), {}, 422, "sticks out"),
        ("bad If-Match", "PATCH", f"/api/v1/areas/{micro}", {"name": "x"}, {"If-Match": "abc"}, 422, "If-Match"),
        ("negative households", "PATCH", f"/api/v1/buildings/{building}", {"households": -1}, {"If-Match": '"1"'}, 422,
         "households"),
        ("fractional households", "PATCH", f"/api/v1/buildings/{building}", {"households": 1.5}, {"If-Match": '"1"'}, 422,
         "households"),
        ("floors as text", "PATCH", f"/api/v1/buildings/{building}", {"floors": "ten"}, {"If-Match": '"1"'}, 422, "floors"),
        ("area id too big", "PATCH", "/api/v1/areas/99999999999999999999", {"name": "x"}, {"If-Match": '"1"'}, 422,
         "area_id"),
        ("empty edit", "PATCH", f"/api/v1/areas/{micro}", {}, {"If-Match": '"1"'}, 422, "nothing to change"),
        ("bad Idempotency-Key", "POST", "/api/v1/areas", area_body(), {"Idempotency-Key": "a b"}, 422, "Idempotency-Key"),
        ("control character in name", "POST", "/api/v1/areas", area_body(name="坏\x01名"), {}, 422, "U+0001"),
        ("right-to-left override in name", "POST", "/api/v1/areas", area_body(name="网格\u202egpj.exe"), {}, 422, "U+202E"),
        ("NUL in a key of attrs", "POST", "/api/v1/areas", area_body(attrs={"k\x00": "v"}), {}, 422, "NUL"),
        ("NUL in building name", "PATCH", f"/api/v1/buildings/{building}", {"name": "楼\x00"}, {"If-Match": '"1"'}, 422,
         "name"),
        ("NUL in incident description", "POST", "/api/v1/incidents", incident(description="灯\x00不亮"), {}, 422,
         "description"),
        ("NUL in incident category", "POST", "/api/v1/incidents", incident(category="street\x00light"), {}, 422,
         "category"),
        ("NUL in reporter name", "POST", "/api/v1/incidents", incident(reporter={"name": "张\x00"}), {}, 422,
         "reporter.name"),
        ("NUL in external id", "POST", "/api/v1/incidents", incident(external_id="x\x00"), {}, 422, "external_id"),
        ("NUL in address", "POST", "/api/v1/incidents", incident(address="民乐\x00", lon=None, lat=None), {}, 422,
         "address"),
        ("NUL in a photo url", "POST", "/api/v1/incidents", incident(photo_urls=["http://x/\x00"]), {}, 422,
         "photo_urls[0]"),
        ("NUL in a lookup id", "POST", "/api/v1/lookup", [{"id": "p\x00", "lon": X, "lat": Y}], {}, 422, "[0].id"),
        ("NUL in a login name", "POST", "/api/v1/auth/login", {"username": "a\x00", "password": "x" * 12}, {}, 422,
         "username"),
        ("NUL in a category name", "PUT", "/api/v1/incident-categories/streetlight",
         {"name": "a\x00", "name_zh": "路灯", "deadline_minutes": {"dispatch": 1, "accept": 1, "handle": 1, "verify": 1}},
         {}, 422, "name"),
        ("NUL in a query parameter", "GET", "/api/v1/areas?code=44%00", None, {}, 422, "code"),
        ("NUL in a path segment", "GET", "/api/v1/code/4403%00", None, {}, 422, "code"),
        ("offset past 2^63", "GET", f"/api/v1/areas?offset={2**63}", None, {}, 422, "offset"),
        ("children offset past 2^63", "GET", f"/api/v1/areas/{micro}/children?offset={2**63}", None, {}, 422, "offset"),
        ("incidents offset past 2^63", "GET", f"/api/v1/incidents?offset={2**63}", None, {}, 422, "offset"),
        ("id past 2^63", "GET", f"/api/v1/incidents/{2**63}", None, {}, 422, "incident_id"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def api(access_api):
    client, url, tokens, own, _ = access_api
    return client, url, tokens["admin"], own


def test_every_bad_input_gets_a_4xx_naming_the_defect_and_changes_nothing(api):
    client, url, token, own = api
    cases = corpus(own)
    assert len(cases) >= 30 and len({c[0] for c in cases}) == len(cases)
    before, incidents_before = table_digest(url), incident_digest(url)
    failures = []
    for name, method, path, body, headers, status, words in cases:
        content = (
            b"" if body is None else (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
        )
        try:
            response = client.request(
                method, path, content=content,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
            )  # fmt: skip
        except httpx.TransportError as exc:  # a server error can drop the connection before any answer
            failures.append(f"{name}: no answer ({exc!r})")
            continue
        text = response.text
        try:
            error = response.json()["error"]
            said = f"{error.get('field', '')} {error['message']}"
        except (ValueError, KeyError, TypeError):
            failures.append(f"{name}: not the error shape: {text[:200]}")
            continue
        if response.status_code != status or words.lower() not in said.lower():
            failures.append(f"{name}: {response.status_code} {said[:200]!r} (want {status} naming {words!r})")
    assert not failures, "\n".join(failures)
    assert table_digest(url) == before
    assert incident_digest(url) == incidents_before


def test_a_good_body_passes_so_the_corpus_is_not_refused_wholesale(api):
    client, url, token, own = api
    before = table_digest(url)
    x, y = own.spot
    body = {"level": "microgrid", "parent": own.grid_code, "name": "好输入", "layer": "badinput", "geometry": box(x, y)}
    response = client.post("/api/v1/areas", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    assert table_digest(url) != before


@pytest.mark.parametrize(
    "write",
    [
        "INSERT INTO area_identity (level) VALUES ('microgrid')",
        "INSERT INTO person (name, phone, role, area_id) SELECT '新人', '13900000000', 'grid_worker', min(id) FROM area_identity",
        "UPDATE person SET phone = '13900000001' WHERE id = (SELECT min(id) FROM person)",
        "UPDATE party_cell SET name = name || '（改）' WHERE id = (SELECT min(id) FROM party_cell)",
        "DELETE FROM party_cell_microgrid WHERE microgrid_id = (SELECT min(microgrid_id) FROM party_cell_microgrid)",
    ],
)
def test_the_fingerprint_sees_identities_people_and_party_cells(demo_db, write):
    """The fingerprint the bad-input tests compare covers these tables: one write to any of them changes it."""
    with psycopg.connect(demo_db) as conn:
        assert conn.execute("SELECT (SELECT count(*) FROM person) > 0 AND (SELECT count(*) FROM party_cell) > 0"
                            " AND (SELECT count(*) FROM party_cell_microgrid) > 0").fetchone()[0]  # fmt: skip
    before = table_digest(demo_db)
    with psycopg.connect(demo_db) as conn:
        assert conn.execute(write).rowcount == 1
    assert table_digest(demo_db) != before


PATH_DEFAULTS = {"fmt": "json", "kind": "density", "collection_id": "microgrids", "layer": "microgrids"}
PROBES = {"NUL": "a\x00b", "U+0001": "a\x01b", "U+202E": "a\u202eb"}


def _operations(client: httpx.Client) -> list[tuple[str, str, dict]]:
    spec = client.get("/openapi.json").json()
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def _types(schema: dict) -> set[str]:
    return {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}


def _maximum(schema: dict) -> int | None:
    found = [s["maximum"] for s in (schema, *schema.get("anyOf", [])) if "maximum" in s]
    return found[0] if found else None


def _fill(path: str, op: dict, name: str | None = None, value: str | None = None) -> str:
    """``path`` with every path parameter filled (``name`` with ``value``, the others with a harmless
    default), URL-encoded."""
    for param in op.get("parameters", []):
        if param["in"] != "path":
            continue
        fill = value if param["name"] == name else PATH_DEFAULTS.get(param["name"], "1")
        path = path.replace("{" + param["name"] + "}", quote(fill, safe=""))
    return path


def _said(response: httpx.Response) -> str:
    body = response.json()
    if isinstance(body, list):  # Open311's error list
        return " ".join(e.get("description", "") for e in body)
    return f"{body['error'].get('field', '')} {body['error']['message']}"


def test_every_integer_parameter_has_an_upper_bound(api):
    client, *_ = api
    unbounded = [
        f"{method} {path} {param['name']}"
        for method, path, op in _operations(client)
        for param in op.get("parameters", [])
        if "integer" in _types(param["schema"]) and (_maximum(param["schema"]) or 2**63) > 2**63 - 1
    ]
    assert not unbounded, unbounded


def test_control_characters_and_huge_integers_in_every_parameter_get_a_4xx_naming_it(api):
    """Every query and path parameter of every operation, given NUL, a control character or a bidi
    override (strings) or 2^63 (integers): a 4xx that names the parameter, never a 5xx, nothing changed."""
    client, url, token, _ = api
    before, incidents_before = table_digest(url), incident_digest(url)
    failures, probes = [], 0
    for method, path, op in _operations(client):
        for param in op.get("parameters", []):
            if param["in"] not in ("query", "path"):
                continue
            kinds = _types(param["schema"])
            values = dict(PROBES) if "string" in kinds else {}
            if "integer" in kinds:
                values["2^63"] = str(2**63)
            for label, value in values.items():
                if param["in"] == "path":
                    target, params = _fill(path, op, param["name"], value), None
                else:
                    target, params = _fill(path, op), {param["name"]: value}
                probes += 1
                try:
                    response = client.request(
                        method, target, params=params, headers={"Authorization": f"Bearer {token}"}
                    )
                except httpx.TransportError as exc:
                    failures.append(f"{method} {path} {param['name']}={label}: no answer ({exc!r})")
                    continue
                ok = 400 <= response.status_code < 500 and response.status_code not in (401, 403)
                if not ok or (label in PROBES and param["name"] not in _said(response)):
                    failures.append(
                        f"{method} {path} {param['name']}={label}: {response.status_code} {response.text[:160]}"
                    )
    assert probes > 100
    assert not failures, f"{len(failures)} of {probes}:\n" + "\n".join(failures)
    assert table_digest(url) == before
    assert incident_digest(url) == incidents_before
