"""The dispatcher console (/dispatch/) in headless Chromium against the real server and database: log in,
filter the queue, open a case, see its micro-grid on the map and the people to call, dispatch it to a
receiver the rule offers, see a refused action explained; take a call by address text with live
suggestions, check the preview (building, owners, receivers) and save it into the queue without a reload;
the repeat warning with join / file-new; search by case number, phone and building; user text stays text;
nothing loaded from outside 127.0.0.1."""

from __future__ import annotations

import re

import psycopg
import pytest

from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from gridmap.coords import from_wgs84
from tests.support.browser import browser_page, screenshot
from tests.support.incident_setup import spots

PASSWORD = "a long enough password"
XSS = '<img src=x onerror="window.__pwned=1">'
XSS2 = "<script>window.__pwned=2</script>"
XSS3 = '"><svg onload="window.__pwned=3">'


@pytest.fixture(scope="module")
def console(access_api):
    client, url, tokens, own, foreign = access_api
    with psycopg.connect(url, autocommit=True) as conn:
        accounts.add_user(conn, cli_principal(), "desk", PASSWORD, "dispatcher", [])
        (lon, lat, code), (lon2, lat2, _), (lon3, lat3, _) = spots(conn, 3, offset=50)
        # A one-unit building of a named compound in exactly one micro-grid that has its own worker: its
        # address text ("上芬新城东区8栋") names it alone.
        building = conn.execute(
            "SELECT b.code, b.compound || b.name, m.microgrid_id, a.code FROM building b"
            " JOIN microgrid_member m ON m.building_id = b.id"
            " JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL"
            " WHERE b.compound IS NOT NULL AND b.units = 1"
            " AND (SELECT count(*) FROM microgrid_member o WHERE o.building_id = b.id) = 1"
            " AND EXISTS (SELECT 1 FROM person p WHERE p.area_id = m.microgrid_id AND p.role = 'microgrid_worker')"
            " AND (SELECT count(*) FROM building o WHERE o.compound = b.compound AND o.name = b.name) = 1"
            " ORDER BY md5(b.code) LIMIT 1"
        ).fetchone()
        workers = [n for (n,) in conn.execute(
            "SELECT name FROM person WHERE area_id = %s AND role = 'microgrid_worker'", (building[2],)
        )]  # fmt: skip
    headers = {"Authorization": f"Bearer {tokens['dispatcher']}"}
    case = client.post("/api/v1/incidents", headers=headers, json={
        "category": "streetlight", "description": f"路灯不亮 {XSS}", "channel": "hotline_12345",
        "lon": lon, "lat": lat, "reporter": {"name": "赵六", "phone": "13600000000"}}).json()  # fmt: skip
    noise = {"category": "noise", "description": "夜间施工", "channel": "wechat", "lon": lon2, "lat": lat2,
             "external_id": "WX-20261118-0042"}  # fmt: skip
    other = client.post("/api/v1/incidents", headers=headers, json=noise).json()
    return {"client": client, "base": client.base_url, "url": url, "headers": headers, "case": case, "other": other,
            "code": code, "spot": (lon, lat), "spot3": (lon3, lat3), "building": building[:2],
            "building_microgrid": building[3], "workers": workers}  # fmt: skip


def log_in(page, base, name: str = "desk") -> None:
    page.goto(f"{base}/dispatch/")
    page.fill("#login-form [name=name]", name)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#queue li[data-id]")


def only_expected(problems: list[str], *statuses: int) -> list[str]:
    """The problems left once Chromium's own log lines of the provoked refusals are set aside."""
    return [p for p in problems if not any(f"status of {s}" in p for s in statuses)]


def queue_ids(page) -> list[int]:
    return [int(i) for i in page.eval_on_selector_all("#queue li[data-id]", "els => els.map(e => e.dataset.id)")]


def test_dispatch_a_case_in_the_browser(console):
    base, case, other, code = console["base"], console["case"], console["other"], console["code"]
    with browser_page() as (page, problems):
        page.goto(f"{base}/dispatch/")
        assert page.inner_text("#login-form button") == "登录"  # Chinese first
        page.fill("#login-form [name=name]", "desk")
        page.fill("#login-form [name=password]", "wrong password")
        page.click("#login-form button")
        page.wait_for_function("() => document.getElementById('login-error').textContent.length > 0")
        problems.clear()  # the refused login is a 401 the console itself reports
        page.fill("#login-form [name=password]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector(f"#queue li[data-id='{case['id']}']")
        assert "待派遣" in page.inner_text(f"#queue li[data-id='{case['id']}']")
        # Filter by category: only street lights remain.
        page.select_option("#filters [name=category]", "streetlight")
        page.wait_for_function(f"() => !document.querySelector(\"#queue li[data-id='{other['id']}']\")")
        page.click(f"#queue li[data-id='{case['id']}']")
        page.wait_for_selector("#map path.leaflet-interactive")
        assert code in page.inner_text("#owners")
        assert "微网格" in page.inner_text("#owners")
        assert "13600000000" not in page.inner_text("#people")  # reporters are not the people to call
        assert page.locator("#people a[href^='tel:']").count() >= 2
        assert "赵六" in page.inner_text("#callers")  # … they are the callers
        assert XSS in page.inner_text("#case-description")  # shown as text …
        assert page.evaluate("window.__pwned") is None  # … never run
        options = page.locator("#action-form [name=action] option")
        assert options.first.get_attribute("value") == "dispatch" and options.first.inner_text() == "派遣"
        # The rule's receivers for a micro-grid case: its worker first, chosen by default.
        first = page.locator("#candidates input[name=person]").first
        assert first.is_checked()
        receiver = page.locator("#candidates li").first.inner_text().split(" · ")[0].strip()
        assert receiver
        page.select_option("#action-form [name=action]", "dispatch")
        page.click("#action-submit")
        page.wait_for_function("() => document.getElementById('case-state').textContent.includes('已派遣')")
        assert receiver in page.inner_text("#assignee-line")
        assert "派遣" in page.inner_text("#events")
        doc = console["client"].get(f"/api/v1/incidents/{case['id']}", headers=console["headers"]).json()
        assert doc["state"] == "dispatched" and doc["assignee_person_id"] == int(first.get_attribute("value"))
        # The console offers only what the state allows; a refused action shows the server's reason.
        page.evaluate("document.querySelector('#action-form [name=action]').add(new Option('verify', 'verify'))")
        page.select_option("#action-form [name=action]", "verify")
        page.click("#action-submit")
        page.wait_for_function("() => document.getElementById('action-error').textContent.includes('cannot verify')")
        assert "被拒绝" in page.inner_text("#action-error")
        # The English switch relabels the page; the choice is all the page keeps.
        page.click("#lang")
        assert page.inner_text("#tab-intake") == "Take a call"
        assert "dispatched" in page.inner_text("#case-state")
        page.click("#lang")
        assert page.inner_text("#tab-intake") == "来电受理"
        screenshot(page, "dispatch-console")
    # Chromium itself logs the provoked 409; anything else is a fault of the page.
    assert only_expected(problems, 409) == []


def test_take_a_call_by_address_with_suggestions(console):
    base, client = console["base"], console["client"]
    code, address = console["building"]
    with browser_page() as (page, problems):
        log_in(page, base)
        page.fill("#intake-form [name=reporter_name]", "钱七")
        page.fill("#intake-form [name=reporter_phone]", "139 1234 5678")
        page.select_option("#intake-form [name=category]", "sanitation")
        page.fill("#intake-form [name=description]", "楼下垃圾三天没人清")
        # Suggestions come while typing (debounced), the best first, and say how the text reads.
        page.locator("#intake-form [name=address]").press_sequentially(address, delay=30)
        page.wait_for_selector(f"#suggestions li[data-code='{code}']")
        assert page.locator("#suggestions li").first.get_attribute("data-code") == code
        assert "解析" in page.inner_text("#reading")
        page.click(f"#suggestions li[data-code='{code}']")
        assert code in page.inner_text("#chosen-building")
        assert page.locator("#suggestions").is_hidden()
        page.click("#preview-btn")
        page.wait_for_selector("#preview:not([hidden]) #preview-receivers li")
        assert code in page.inner_text("#preview-building")
        assert "可信度" in page.inner_text("#preview-building")
        chain = page.inner_text("#preview-owner")
        assert console["building_microgrid"] in chain and "微网格" in chain and "街道" in chain
        receivers = page.inner_text("#preview-receivers")
        assert any(name in receivers for name in console["workers"]), receivers
        assert "微网格员" in receivers
        assert page.locator("#preview-receivers a[href^='tel:']").count() >= 1
        assert page.inner_text("#preview-would") == "将新立案件"
        assert page.locator("#repeat-warning").is_hidden()
        screenshot(page, "dispatch-intake")
        # A change after the check needs a new check before saving.
        page.fill("#intake-form [name=description]", "楼下垃圾三天没人清，有异味")
        assert page.locator("#save-btn").is_disabled()
        assert page.locator("#preview-stale").is_visible()
        page.click("#preview-btn")
        page.wait_for_function("() => !document.getElementById('save-btn').disabled")
        page.click("#save-btn")
        page.wait_for_function("() => document.getElementById('intake-done').textContent.includes('已立案')")
        new_id = int(re.search(r"#(\d+)", page.inner_text("#intake-done")).group(1))
        # In the queue at once, marked new, without a reload.
        page.wait_for_selector(f"#queue li[data-id='{new_id}'] .badge.new")
        assert "新" in page.inner_text(f"#queue li[data-id='{new_id}']")
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        doc = client.get(f"/api/v1/incidents/{new_id}", headers=console["headers"]).json()
        assert doc["location"]["building"] == code and doc["category"] == "sanitation"
        assert doc["report_list"][0]["reporter"]["name"] == "钱七"
        assert doc["description"] == "楼下垃圾三天没人清，有异味"
        # The form is empty for the next call; opening the saved case shows it.
        assert page.input_value("#intake-form [name=reporter_name]") == ""
        page.click("#open-saved")
        page.wait_for_selector("#map path.leaflet-interactive")
        assert page.inner_text("#case-title").startswith(f"#{new_id} ")
        assert "钱七" in page.inner_text("#callers")
    assert problems == []


def test_a_bad_phone_is_shown_at_its_field(console):
    lon, lat = console["spot3"]
    with browser_page() as (page, problems):
        log_in(page, console["base"])
        page.fill("#intake-form [name=reporter_name]", "孙八")
        page.fill("#intake-form [name=reporter_phone]", "call me maybe")
        page.select_option("#intake-form [name=category]", "greenery")
        page.fill("#intake-form [name=description]", "树枝断了")
        page.fill("#intake-form [name=lon]", str(lon))
        page.fill("#intake-form [name=lat]", str(lat))
        assert "坐标" in page.inner_text("#located-by")
        page.click("#preview-btn")
        page.wait_for_function("() => document.getElementById('phone-error').textContent.length > 0")
        assert "电话号码无效" in page.inner_text("#phone-error") and page.inner_text("#intake-error") == ""
        assert "invalid" in page.get_attribute("#intake-form [name=reporter_phone]", "class")
        assert page.locator("#save-btn").is_disabled()
        # Fixed, it goes through.
        page.fill("#intake-form [name=reporter_phone]", "13512345678")
        assert page.inner_text("#phone-error") == ""
        page.click("#preview-btn")
        page.wait_for_function("() => !document.getElementById('save-btn').disabled")
    assert only_expected(problems, 422) == []


def test_repeat_warning_joins_or_files_new(console):
    client, headers, case = console["client"], console["headers"], console["case"]
    lon, lat = console["spot"]
    # The dispatcher has the caller's point from a WeChat share: GCJ-02.
    gx, gy = from_wgs84(lon + 0.00005, lat, "gcj02")
    before = client.get(f"/api/v1/incidents/{case['id']}", headers=headers).json()["reports"]
    with browser_page() as (page, problems):
        log_in(page, console["base"])

        def report_again(name: str) -> None:
            page.fill("#intake-form [name=reporter_name]", name)
            page.fill("#intake-form [name=reporter_phone]", "13700001111")
            page.select_option("#intake-form [name=category]", "streetlight")
            page.fill("#intake-form [name=description]", "桥下那盏路灯还是不亮")
            page.fill("#intake-form [name=lon]", f"{gx:.7f}")
            page.fill("#intake-form [name=lat]", f"{gy:.7f}")
            page.select_option("#intake-form [name=crs]", "gcj02")
            page.click("#preview-btn")
            page.wait_for_selector("#repeat-warning:not([hidden])")
            assert page.inner_text("#repeat-text") == f"附近已有同类未结案件 #{case['id']}"
            assert page.inner_text("#preview-would") == "将合并到已有案件"
            assert page.locator("#save-btn").is_disabled()

        report_again("周九")
        page.click("#join-repeat")
        page.wait_for_function("() => document.getElementById('intake-done').textContent.includes('已合并')")
        assert f"#{case['id']}" in page.inner_text("#intake-done")
        joined = client.get(f"/api/v1/incidents/{case['id']}", headers=headers).json()
        assert joined["reports"] == before + 1
        assert joined["report_list"][-1]["repeat"] and joined["report_list"][-1]["reporter"]["name"] == "周九"

        report_again("吴十")
        page.click("#file-new")
        page.wait_for_function("() => document.getElementById('intake-done').textContent.includes('已立案')")
        new_id = int(re.search(r"#(\d+)", page.inner_text("#intake-done")).group(1))
        assert new_id != case["id"]
        page.wait_for_selector(f"#queue li[data-id='{new_id}']")
        fresh = client.get(f"/api/v1/incidents/{new_id}", headers=headers).json()
        assert fresh["reports"] == 1 and fresh["report_list"][0]["reporter"]["name"] == "吴十"
        assert client.get(f"/api/v1/incidents/{case['id']}", headers=headers).json()["reports"] == before + 1
        # The point went in as GCJ-02 and was stored as WGS-84: within a metre of the spot it came from.
        assert abs(fresh["location"]["lon"] - (lon + 0.00005)) < 1e-5 and abs(fresh["location"]["lat"] - lat) < 1e-5
        # The case page lists both callers of the joined case.
        page.click(f"#queue li[data-id='{case['id']}']")
        page.wait_for_function("() => document.getElementById('callers').textContent.includes('周九')")
        assert "赵六" in page.inner_text("#callers") and "重复" in page.inner_text("#callers")
    assert problems == []


def test_search_by_case_number_phone_and_building(console):
    case, other = console["case"], console["other"]
    code, _ = console["building"]
    there = console["client"].post("/api/v1/incidents", headers=console["headers"], json={
        "category": "greenery", "description": "草坪枯了", "channel": "patrol", "building": code}).json()  # fmt: skip
    with browser_page() as (page, problems):
        log_in(page, console["base"])
        assert {case["id"], other["id"], there["id"]} <= set(queue_ids(page))

        def search(**boxes) -> list[int]:
            page.click("#search-clear")
            page.wait_for_function("() => document.querySelectorAll('#queue li[data-id]').length > 1")
            for name, value in boxes.items():
                page.fill(f"#search [name={name}]", value)
            with page.expect_response(lambda r: "/api/v1/incidents?" in r.url and r.status == 200):
                page.press(f"#search [name={next(iter(boxes))}]", "Enter")
            page.wait_for_timeout(100)
            return queue_ids(page)

        assert search(q=f"#{other['id']}") == [other["id"]]
        assert page.inner_text("#queue-count") == "共 1 件"
        assert search(q=str(case["id"])) == [case["id"]]
        assert search(q="WX-20261118-0042") == [other["id"]]  # the channel's own number
        found = search(phone="13600000000")
        assert case["id"] in found and other["id"] not in found
        found = search(phone="136 0000 0000")  # written as people say it
        assert case["id"] in found and other["id"] not in found
        building = console["client"].get(f"/api/v1/incidents/{case['id']}", headers=console["headers"]).json()
        if building["location"]["building"]:
            found = search(building=building["location"]["building"])
            assert case["id"] in found and other["id"] not in found
        found = search(building=there["location"]["building"])
        assert there["id"] in found and case["id"] not in found
        assert search(q="没有这样的案件内容xyz") == []
        assert "没有符合条件的案件" in page.inner_text("#queue")
    assert problems == []


def test_user_text_stays_text(console):
    client, headers = console["client"], console["headers"]
    lon, lat = console["spot3"]
    case = client.post("/api/v1/incidents", headers=headers, json={
        "category": "dispute", "description": f"吵架 {XSS2}", "channel": "hotline_12345", "lon": lon, "lat": lat,
        "address": f"某小区 {XSS3}", "reporter": {"name": f"王{XSS}", "phone": "13800000001"}}).json()  # fmt: skip
    noted = client.post(f"/api/v1/incidents/{case['id']}/actions", headers=headers,
                        json={"action": "dispatch", "assignee": f"城管{XSS3}", "note": f"注意 {XSS2}"})  # fmt: skip
    assert noted.status_code == 200, noted.text
    with browser_page() as (page, problems):
        log_in(page, console["base"])
        page.wait_for_selector(f"#queue li[data-id='{case['id']}']")
        assert XSS2 in page.inner_text(f"#queue li[data-id='{case['id']}']")
        page.click(f"#queue li[data-id='{case['id']}']")
        page.wait_for_selector("#map path.leaflet-interactive")
        assert XSS2 in page.inner_text("#case-description") and XSS3 in page.inner_text("#case-description")
        assert f"王{XSS}" in page.inner_text("#callers")
        assert f"注意 {XSS2}" in page.inner_text("#events")
        assert f"城管{XSS3}" in page.inner_text("#assignee-line")
        page.click("#print-btn")
        assert XSS2 in page.inner_text("#workorder-table") and f"王{XSS}" in page.inner_text("#workorder-table")
        page.click("#workorder-close")
        # Typed into the intake form: the address goes to the suggestions, the rest to the preview and the case.
        page.click("#tab-intake")
        page.fill("#intake-form [name=reporter_name]", XSS3)
        page.select_option("#intake-form [name=category]", "other")
        page.fill("#intake-form [name=description]", XSS)
        page.locator("#intake-form [name=address]").press_sequentially(XSS2[:20], delay=20)
        page.fill("#intake-form [name=lon]", str(lon + 0.0001))
        page.fill("#intake-form [name=lat]", str(lat))
        page.wait_for_timeout(400)  # the suggestion request answers
        page.click("#preview-btn")
        page.wait_for_function("() => !document.getElementById('save-btn').disabled")
        page.click("#save-btn")
        page.wait_for_function("() => document.getElementById('intake-done').textContent.includes('已立案')")
        new_id = int(re.search(r"#(\d+)", page.inner_text("#intake-done")).group(1))
        page.click("#open-saved")
        page.wait_for_function(f"() => document.getElementById('case-title').textContent.startsWith('#{new_id} ')")
        assert XSS3 in page.inner_text("#callers")
        assert XSS in page.inner_text("#case-description")
        assert XSS2[:20] in page.inner_text("#case-description")
        page.wait_for_timeout(300)  # an injected <img> would have failed and run by now
        assert page.evaluate("window.__pwned") is None
        assert page.locator(".case-main img, .case-main svg, #queue img, #workorder img, #intake-form img").count() == 0
    assert problems == []
