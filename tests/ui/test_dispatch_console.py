"""The dispatcher console (/dispatch/) in headless Chromium against the real server and database: log in,
filter the queue, open a case, see its micro-grid on the map and the people to call, dispatch it, see a
refused action explained; escaped user text; nothing loaded from outside 127.0.0.1."""

from __future__ import annotations

import psycopg
import pytest

from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from tests.support.browser import browser_page, screenshot
from tests.support.incident_setup import spots

PASSWORD = "a long enough password"
XSS = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def console(access_api):
    client, url, tokens, own, foreign = access_api
    with psycopg.connect(url, autocommit=True) as conn:
        accounts.add_user(conn, cli_principal(), "desk", PASSWORD, "dispatcher", [])
        (lon, lat, code), (lon2, lat2, _) = spots(conn, 2, offset=50)
    headers = {"Authorization": f"Bearer {tokens['dispatcher']}"}
    case = client.post("/api/v1/incidents", headers=headers, json={
        "category": "streetlight", "description": f"路灯不亮 {XSS}", "channel": "hotline_12345",
        "lon": lon, "lat": lat, "reporter": {"name": "赵六", "phone": "13600000000"}}).json()  # fmt: skip
    noise = {"category": "noise", "description": "夜间施工", "channel": "wechat", "lon": lon2, "lat": lat2}
    other = client.post("/api/v1/incidents", headers=headers, json=noise).json()
    return client.base_url, case, other, code


def test_dispatch_a_case_in_the_browser(console):
    base, case, other, code = console
    with browser_page() as (page, problems):
        page.goto(f"{base}/dispatch/")
        page.fill("#login-form [name=name]", "desk")
        page.fill("#login-form [name=password]", "wrong password")
        page.click("#login-form button")
        page.wait_for_function("() => document.getElementById('login-error').textContent.length > 0")
        problems.clear()  # the refused login is a 401 the console itself reports
        page.fill("#login-form [name=password]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector(f"#queue li[data-id='{case['id']}']")
        # Filter by category: only street lights remain.
        page.select_option("#filters [name=category]", "streetlight")
        page.wait_for_function(f"() => !document.querySelector(\"#queue li[data-id='{other['id']}']\")")
        page.click(f"#queue li[data-id='{case['id']}']")
        page.wait_for_selector("#map path.leaflet-interactive")
        assert code in page.inner_text("#owners")
        assert "13600000000" not in page.inner_text("#people")  # reporters are not the people to call
        assert page.locator("#people a[href^='tel:']").count() >= 2
        assert XSS in page.inner_text("#case-description")  # shown as text …
        assert page.evaluate("window.__pwned") is None  # … never run
        assert page.locator("#action-form [name=action] option").all_inner_texts()[0].endswith("dispatch")
        page.select_option("#action-form [name=action]", "dispatch")
        page.click("#action-form button")
        page.wait_for_function("() => document.getElementById('case-state').textContent.includes('dispatched')")
        assert "dispatch" in page.inner_text("#events")
        # The console offers only what the state allows; a refused action shows the server's reason.
        page.evaluate("document.querySelector('#action-form [name=action]').add(new Option('verify', 'verify'))")
        page.select_option("#action-form [name=action]", "verify")
        page.click("#action-form button")
        page.wait_for_function("() => document.getElementById('action-error').textContent.includes('cannot verify')")
        screenshot(page, "dispatch-console")
    # Chromium itself logs the provoked 409; anything else is a fault of the page.
    assert [p for p in problems if "status of 409" not in p] == []
