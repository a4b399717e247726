"""The bad-input corpus: every case gets a 4xx naming the defect, and the database is unchanged."""

from __future__ import annotations

import json
import math

import pytest

from tests.access_setup import box, table_digest

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
    ]  # fmt: skip


@pytest.fixture(scope="module")
def api(access_api):
    client, url, tokens, own, _ = access_api
    return client, url, tokens["admin"], own


def test_every_bad_input_gets_a_4xx_naming_the_defect_and_changes_nothing(api):
    client, url, token, own = api
    cases = corpus(own)
    assert len(cases) >= 30 and len({c[0] for c in cases}) == len(cases)
    before = table_digest(url)
    failures = []
    for name, method, path, body, headers, status, words in cases:
        content = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
        response = client.request(
            method, path, content=content,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
        )  # fmt: skip
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


def test_a_good_body_passes_so_the_corpus_is_not_refused_wholesale(api):
    client, url, token, own = api
    before = table_digest(url)
    x, y = own.spot
    body = {"level": "microgrid", "parent": own.grid_code, "name": "好输入", "layer": "badinput", "geometry": box(x, y)}
    response = client.post("/api/v1/areas", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    assert table_digest(url) != before
