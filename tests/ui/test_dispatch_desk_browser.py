"""A desk's whole shift in headless Chromium against the real server: the queue refreshes itself (polling
with If-None-Match, 304 when nothing changed), pages over every case in due order, counts down and marks a
missed deadline as the clock runs (Playwright's clock); times read in GRIDMAP_TIMEZONE whatever the
browser's own zone; codes read in Chinese; the pin is dragged to reroute; the 派工单 prints; a worker takes
the case on a phone screen."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from tests.support.browser import browser_page, screenshot
from tests.support.incident_setup import spots

PASSWORD = "a long enough password"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 20  # static/dispatch/dispatch.js
# Raw codes a person must never read on the case page.
CODES = ("microgrid_worker", "grid_worker", "party_cell_leader", "building_head", "near_boundary", "hotline_12345",
         "in_progress", "received", "+00:00")  # fmt: skip


def local(iso: str, seconds: bool = False) -> str:
    """An API time as the console must show it: in Asia/Shanghai, to the minute (or second)."""
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


@pytest.fixture(scope="module")
def desk(access_api):
    client, url, tokens, own, foreign = access_api
    with psycopg.connect(url, autocommit=True) as conn:
        accounts.add_user(conn, cli_principal(), "shift", PASSWORD, "dispatcher", [])
        points = spots(conn, 4, offset=90)
        # The micro-grid worker of the first spot's micro-grid gets a login of their own.
        person, name = conn.execute(
            "SELECT p.id, p.name FROM person p JOIN area a ON a.id = p.area_id AND a.valid_to IS NULL"
            " WHERE a.code = %s AND p.role = 'microgrid_worker' ORDER BY p.id LIMIT 1",
            (points[0][2],),
        ).fetchone()
        accounts.add_user(conn, cli_principal(), "walker", PASSWORD, "worker", [], person=person)
    headers = {"Authorization": f"Bearer {tokens['dispatcher']}"}
    items = client.get("/api/v1/incident-categories", headers=headers).json()["categories"]
    # A wall-clock category with the first dispatch deadline: its countdown runs out soonest, even at a weekend.
    quick = min((c for c in items if c["active"]),
                key=lambda c: (c["calendar"] != "continuous", c["deadline_minutes"]["dispatch"]))["code"]  # fmt: skip
    return {"client": client, "base": client.base_url, "url": url, "headers": headers, "points": points,
            "person": person, "person_name": name, "quick": quick}  # fmt: skip


def post(desk, point, description: str, category: str | None = None, **extra) -> dict:
    lon, lat, _ = point
    body = {"category": category or desk["quick"], "description": description, "channel": "hotline_12345",
            "lon": lon, "lat": lat, "join_repeat": False, **extra}  # fmt: skip
    answer = desk["client"].post("/api/v1/incidents", headers=desk["headers"], json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def log_in(page, base, path: str = "/dispatch/", name: str = "shift", ready: str = "#queue li[data-id]") -> None:
    page.goto(f"{base}{path}")
    page.fill("#login-form [name=name]", name)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector(ready)


def test_the_queue_keeps_itself_current_in_local_time(desk):
    first = post(desk, desk["points"][1], "井盖松动，有人踩空")
    # The browser sits in New York: the console must still read Shanghai time.
    with browser_page(timezone_id="America/New_York") as (page, problems):
        page.clock.install()
        polls: list[int] = []
        page.on("response", lambda r: polls.append(r.status) if r.request.headers.get("if-none-match") else None)
        log_in(page, desk["base"])
        item = f"#queue li[data-id='{first['id']}']"
        page.wait_for_selector(item)
        text = page.inner_text(item)
        assert local(first["due_at"]) in text and "T" not in text.split("·")[-1] and "+00:00" not in text
        assert page.inner_text(f"{item} .countdown").startswith("剩余")
        before = page.inner_text(f"{item} .countdown")
        # Nothing changed: the poll is answered 304 and the list stays as it is.
        page.clock.run_for(6_000)
        page.wait_for_function("() => document.getElementById('poll-status').textContent.length > 0")
        page.wait_for_timeout(300)
        assert 304 in polls, polls
        assert page.inner_text(f"{item} .countdown") != before  # the countdown ran with the clock
        # A case filed elsewhere shows up by itself, marked new, without a reload.
        page.evaluate("window.__same_page = 1")
        second = post(desk, desk["points"][2], "路面塌陷")
        page.clock.run_for(6_000)
        page.wait_for_selector(f"#queue li[data-id='{second['id']}'] .badge.new")
        assert page.evaluate("window.__same_page") == 1  # no reload
        # The first deadline passes while the operator watches: 超期, without waiting for the server.
        left_s = (datetime.fromisoformat(first["due_at"]) - datetime.now(SHANGHAI)).total_seconds()
        page.clock.fast_forward(int((left_s + 120) * 1000))
        page.clock.run_for(1_500)
        page.wait_for_selector(f"{item} .badge.overdue")
        assert page.inner_text(f"{item} .countdown").startswith("已超期")
        screenshot(page, "dispatch-queue-shift")
    assert problems == []


def test_the_queue_pages_over_every_case_in_due_order(desk):
    for n in range(PAGE_SIZE + 3):
        post(desk, desk["points"][3], f"第{n}盏路灯不亮", category="streetlight")
    total = desk["client"].get("/api/v1/incidents", headers=desk["headers"], params={"limit": 1}).json()["total"]
    assert total > PAGE_SIZE
    with browser_page() as (page, problems):
        log_in(page, desk["base"])
        pages = -(-total // PAGE_SIZE)
        assert page.inner_text("#queue-count") == f"共 {total} 件"
        assert page.inner_text("#page-info").replace(" ", "") == f"第1/{pages}页"
        seen: list[int] = []
        for number in range(pages):
            ids = [int(i) for i in page.eval_on_selector_all("#queue li[data-id]", "els => els.map(e => e.dataset.id)")]
            dues = page.eval_on_selector_all("#queue li[data-due]", "els => els.map(e => e.dataset.due)")
            stamps = [datetime.fromisoformat(d) for d in dues]
            assert stamps == sorted(stamps), "the queue is sorted by due time"
            seen += ids
            if number + 1 < pages:
                with page.expect_response(lambda r: "offset=" in r.url and r.status == 200):
                    page.click("#next-page")
                page.wait_for_timeout(100)
        assert page.locator("#next-page").is_disabled()
        assert len(seen) == len(set(seen)) == total  # every case once, none twice
    assert problems == []


def test_the_case_page_reads_in_chinese_and_local_time(desk):
    client, headers = desk["client"], desk["headers"]
    case = post(desk, desk["points"][1], "楼道堆放杂物", reporter={"name": "陈一", "phone": "13812345678"})
    dispatched = client.post(f"/api/v1/incidents/{case['id']}/actions", headers=headers,
                             json={"action": "dispatch", "note": "请尽快处理"})  # fmt: skip
    assert dispatched.status_code == 200, dispatched.text
    doc = client.get(f"/api/v1/incidents/{case['id']}", headers=headers).json()
    with browser_page(timezone_id="Europe/London") as (page, problems):
        log_in(page, desk["base"])
        page.click(f"#queue li[data-id='{case['id']}']")
        page.wait_for_selector("#map path.leaflet-interactive")
        panel = page.inner_text("#case")
        for code in CODES:
            assert code not in panel, code
        assert "微网格员" in page.inner_text("#people")
        assert "已派遣" in page.inner_text("#case-state")
        assert local(doc["received_at"]) in page.inner_text("#deadlines")
        events = page.inner_text("#events")
        for event in doc["events"]:
            assert local(event["at"], seconds=True) in events  # to the second, no microseconds, no offset
        assert doc["assignee"] in page.inner_text("#assignee-line")
        assert "陈一" in page.inner_text("#callers") and "13812345678" in page.inner_text("#callers")
        # The English switch names the same things in English.
        page.click("#lang")
        assert "dispatched" in page.inner_text("#case-state").lower()
    assert problems == []


def _building_of(desk):
    return lambda case: (
        desk["client"].get(f"/api/v1/incidents/{case['id']}", headers=desk["headers"]).json()["location"]["building"]
    )


def _pixel(page, lon: float, lat: float) -> tuple[float, float]:
    return page.evaluate(
        "([lat, lon]) => { const m = window.dispatchConsole.caseMap; const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }",
        [lat, lon],
    )


def test_reroute_by_dragging_the_pin_and_by_building(desk):
    client, headers = desk["client"], desk["headers"]
    (lon1, lat1, _), (lon2, lat2, code2) = desk["points"][2], desk["points"][3]
    case = post(desk, desk["points"][2], "占道经营")
    where = _building_of(desk)
    with psycopg.connect(desk["url"]) as conn:
        building = conn.execute(
            "SELECT b.code, a.code FROM building b JOIN microgrid_member m ON m.building_id = b.id"
            " JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL"
            " WHERE (SELECT count(*) FROM microgrid_member o WHERE o.building_id = b.id) = 1"
            " ORDER BY md5(b.code) LIMIT 1"
        ).fetchone()
    with browser_page() as (page, problems):
        log_in(page, desk["base"])
        page.click(f"#queue li[data-id='{case['id']}']")
        page.wait_for_selector("#map .leaflet-marker-icon")
        page.locator("#map").scroll_into_view_if_needed()
        page.wait_for_timeout(600)  # the case's own zoom animation ends (Leaflet ignores a new view during it)
        size = page.evaluate(
            "([a, b]) => { const m = window.dispatchConsole.caseMap; m.invalidateSize(false);"
            " m.fitBounds([a, b], {padding: [40, 40], animate: false});"
            " return m.getZoom(); }",
            [[lat1, lon1], [lat2, lon2]],
        )
        page.wait_for_timeout(300)
        box = page.locator("#map").bounding_box()
        x1, y1 = _pixel(page, lon1, lat1)
        x2, y2 = _pixel(page, lon2, lat2)
        page.mouse.move(x1, y1 - 10)  # the icon's anchor is its tip; grab it a little above
        page.mouse.down()
        page.mouse.move(x2, y2 - 10, steps=15)
        page.mouse.up()
        page.wait_for_function("() => document.getElementById('reroute-done').textContent.length > 0")
        moved = client.get(f"/api/v1/incidents/{case['id']}", headers=headers).json()
        assert moved["owner"]["microgrid"]["code"] == code2, (moved["location"], lon2, lat2, x1, y1, x2, y2, box, size)
        assert abs(moved["location"]["lon"] - lon2) < 2e-4 and abs(moved["location"]["lat"] - lat2) < 2e-4
        assert code2 in page.inner_text("#owners")
        assert "改派" in page.inner_text("#events") or "重新定位" in page.inner_text("#events")
        # By building code: the case goes to that building's micro-grid.
        page.fill("#reroute-form [name=building]", building[0])
        page.click("#reroute-form button[type=submit]")
        page.wait_for_function(f"() => document.getElementById('owners').textContent.includes('{building[1]}')")
        assert where(case) == building[0]
        # An unknown building is refused at the form, and the case stays where it is.
        page.fill("#reroute-form [name=building]", "NO-SUCH-BUILDING")
        page.click("#reroute-form button[type=submit]")
        page.wait_for_function("() => document.getElementById('reroute-error').textContent.length > 0")
        assert where(case) == building[0]
    assert [p for p in problems if "status of 4" not in p] == []


def test_the_work_order_prints(desk):
    case = post(desk, desk["points"][1], "消防通道被占", reporter={"name": "林二", "phone": "13900001234"})
    with browser_page() as (page, problems):
        log_in(page, desk["base"])
        page.click(f"#queue li[data-id='{case['id']}']")
        page.wait_for_selector("#map path.leaflet-interactive")
        page.click("#print-btn")
        page.emulate_media(media="print")
        assert page.locator("#workorder").is_visible()
        assert page.locator("#queue").is_hidden() and page.locator("#workorder-print").is_hidden()
        sheet = page.inner_text("#workorder")
        assert "派工单" in sheet and f"#{case['id']}" in sheet and "林二" in sheet
        assert local(case["received_at"]) in sheet
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        (screenshot(page, "dispatch-workorder").parent / "dispatch-workorder.pdf").write_bytes(pdf)
        page.emulate_media(media="screen")
        page.keyboard.press("Escape")
        assert page.locator("#workorder").is_hidden()
    assert problems == []


def test_a_worker_takes_the_case_on_a_phone(desk):
    client, headers = desk["client"], desk["headers"]
    mine = post(desk, desk["points"][0], "单元门禁坏了", reporter={"name": "何三", "phone": "13700002222"})
    other = post(desk, desk["points"][0], "楼顶漏水")
    for case in (mine, other):
        given = client.post(f"/api/v1/incidents/{case['id']}/actions", headers=headers,
                            json={"action": "dispatch", "person": desk["person"]})  # fmt: skip
        assert given.status_code == 200, given.text
    phone = {"width": 390, "height": 844}
    with browser_page(viewport=phone, is_mobile=True, has_touch=True) as (page, problems):
        log_in(page, desk["base"], "/worker/", "walker", "#mine li[data-id]")
        assert desk["person_name"] in page.inner_text("#who") and "微网格员" in page.inner_text("#who")
        listed = page.eval_on_selector_all("#mine li[data-id]", "els => els.map(e => Number(e.dataset.id))")
        assert {mine["id"], other["id"]} <= set(listed)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        page.tap(f"#mine li[data-id='{mine['id']}']")
        page.wait_for_selector("#act-accept:not([hidden])")
        assert "何三" in page.inner_text("#callers")
        page.tap("#act-accept")
        page.wait_for_selector("#reply-form:not([hidden])")
        assert client.get(f"/api/v1/incidents/{mine['id']}", headers=headers).json()["state"] == "in_progress"
        page.fill("#reply-form [name=note]", "已更换门禁电源")
        page.tap("#reply-form button")
        page.wait_for_function("() => document.getElementById('act-done').textContent.length > 0")
        done = client.get(f"/api/v1/incidents/{mine['id']}", headers=headers).json()
        assert done["state"] == "replied" and done["events"][-1]["note"] == "已更换门禁电源"
        screenshot(page, "worker-phone")
        # The other case: beyond the worker's means, sent up with a reason (none given → told at the form).
        page.tap("#back")
        page.tap(f"#mine li[data-id='{other['id']}']")
        page.wait_for_selector("#escalate-form:not([hidden])")
        page.tap("#escalate-form button")
        assert page.inner_text("#act-error")
        page.fill("#escalate-form [name=reason]", "需要物业和住建部门处理")
        page.tap("#escalate-form button")
        page.wait_for_function("() => document.getElementById('act-done').textContent.length > 0")
        up = client.get(f"/api/v1/incidents/{other['id']}", headers=headers).json()
        assert up["state"] == "escalated" and up["level"] != "microgrid"
    assert problems == []
