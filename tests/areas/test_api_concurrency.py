"""Optimistic concurrency over real HTTP: ETag/If-Match, 428 without it, 409 with the versions when stale."""

from __future__ import annotations

import threading

import httpx
import pytest

from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.support.access_setup import communities, make_principals


@pytest.fixture
def api(demo_db):
    settings = Settings(database_url=demo_db, rate_limit_anonymous=0)
    own, _ = communities(demo_db)
    tokens = make_principals(demo_db, own.community, settings)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield server.url, client, tokens, own


def test_two_writers_with_the_same_version_ten_rounds(api):
    url, client, tokens, own = api
    path = f"/api/v1/areas/{own.microgrid_id}"
    # The threads only collect (an assert inside a thread would not fail the test); the checks run here.
    results: list[tuple[int, str, httpx.Response]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    for round_ in range(10):
        version = client.get(path).headers["etag"]
        barrier = threading.Barrier(2)

        def write(who: str, version=version, round_=round_, barrier=barrier) -> None:
            try:
                headers = {"Authorization": f"Bearer {tokens[who]}", "If-Match": version}
                with httpx.Client(base_url=url, timeout=30) as own_client:
                    barrier.wait(timeout=30)
                    response = own_client.patch(path, json={"name": f"第{round_}轮{who}"}, headers=headers)
                    response.read()
                with lock:
                    results.append((round_, version, response))
            except BaseException as exc:  # handed to the main thread, which fails the test
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=write, args=(who,)) for who in ("admin", "planner")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), f"round {round_}: a writer hung"
    assert not errors, errors
    assert sorted(r.status_code for _, _, r in results) == [200] * 10 + [409] * 10
    for round_, version, response in results:
        codes = sorted(r.status_code for n, _, r in results if n == round_)
        assert codes == [200, 409], (round_, codes)  # exactly one writer wins each round
        if response.status_code == 409:
            body = response.json()["error"]
            assert body["provided"] == int(version.strip('"')), (round_, body)
            assert body["current"] == body["provided"] + 1, (round_, body)
    assert client.get(path).headers["etag"] == '"11"'


def test_edits_need_if_match_and_answer_with_the_new_etag(api):
    _, client, tokens, own = api
    auth = {"Authorization": f"Bearer {tokens['planner']}"}
    for path, body in ((f"/api/v1/areas/{own.microgrid_id}", {"name": "新名"}),
                       (f"/api/v1/buildings/{own.building_id}", {"name": "新楼名"})):  # fmt: skip
        missing = client.patch(path, json=body, headers=auth)
        assert missing.status_code == 428 and missing.json()["error"]["code"] == "precondition_required"
        etag = client.get(path).headers["etag"]
        ok = client.patch(path, json=body, headers=auth | {"If-Match": etag})
        assert ok.status_code == 200
        assert int(ok.headers["etag"].strip('"')) == int(etag.strip('"')) + 1
        stale = client.patch(path, json=body, headers=auth | {"If-Match": etag})
        assert stale.status_code == 409
        error = stale.json()["error"]
        assert (error["provided"], error["current"]) == (int(etag.strip('"')), int(etag.strip('"')) + 1)


def test_a_retire_is_refused_while_buildings_belong_to_the_area(api):
    _, client, tokens, own = api
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    path = f"/api/v1/areas/{own.microgrid_id}"
    busy = client.delete(path, headers=auth | {"If-Match": client.get(path).headers["etag"]})
    assert busy.status_code == 422 and "membership" in busy.json()["error"]["message"]
