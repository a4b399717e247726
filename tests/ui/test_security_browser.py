"""Stored XSS and the browser-side defences, in headless Chromium against the real server: script payloads
written straight into the database (area, building, person, incident category and description) show as
text on every map kind, the planner (a building's tooltip in move mode), the dispatch console and the
landing page, and never run; every HTML response carries a strict Content-Security-Policy and refuses
framing; staff sessions live in an HttpOnly cookie, never in browser storage; a cookie-authenticated
write without the CSRF header is refused and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import psycopg
import pytest
import shapely
from starlette.requests import Request
from starlette.responses import Response

from api import sessions
from api.app import STATIC_DIR, create_app
from gridmap.access import accounts
from gridmap.access.rules import cli_principal
from gridmap.publish.maps.render import KINDS
from gridmap.settings import Settings
from tests.support.browser import browser_page, hover_map
from tests.support.planner_setup import PASSWORD

XSS_IMG = '<img src=x onerror="window.__pwned=1">'
XSS_TITLE = "</title><script>window.__pwned=1</script><title>"
NAME = f"学校网格{XSS_TITLE}{XSS_IMG}"  # ≤ 100 characters: fits every name column
SESSION, CSRF = sessions.SESSION_COOKIE, sessions.CSRF_COOKIE


def _rename(conn: psycopg.Connection, code: str, name: str) -> None:
    """Give area ``code`` a new current version named ``name`` (versions are history: never updated)."""
    conn.execute("UPDATE area SET valid_to = now() WHERE code = %s AND valid_to IS NULL", (code,))
    conn.execute(
        "INSERT INTO area (id, version, level, code, parent_id, name, kind, layer, geom, attrs)"
        " SELECT id, version + 1, level, code, parent_id, %s, kind, layer, geom, attrs FROM area"
        " WHERE code = %s ORDER BY version DESC LIMIT 1",
        (name, code),
    )


@pytest.fixture(scope="module")
def site(planner_api):
    """The planner fixture's server with payloads planted: its community, micro-grid A and A's grid are
    named NAME, so are one of A's buildings, a new worker of A and the street-light category; a dispatcher
    ``desk`` and an admin exist, and a street-light case in A says NAME. Returns a dict of what the tests use."""
    base, url, target = planner_api
    secret = Settings().security.secret_key.get_secret_value()
    with psycopg.connect(url, autocommit=True) as conn:
        accounts.add_user(conn, cli_principal(), "desk", PASSWORD, "dispatcher", [])
        accounts.add_user(conn, cli_principal(), "boss", PASSWORD, "admin", [])
        admin = accounts.login(conn, secret, "boss", PASSWORD, 1)[0]
        dispatcher = accounts.login(conn, secret, "desk", PASSWORD, 1)[0]
        for code in (target.community, target.a_code[:15], target.a_code):
            _rename(conn, code, NAME)
        building_id, building_code = conn.execute(
            "UPDATE building SET name = %s WHERE id = (SELECT min(building_id) FROM microgrid_member"
            " WHERE microgrid_id = %s AND unit_from IS NULL AND floor_from IS NULL) RETURNING id, code",
            (NAME, target.a_id),
        ).fetchone()
        conn.execute(
            "INSERT INTO person (name, phone, role, area_id) VALUES (%s, '13700000000', 'microgrid_worker', %s)",
            (NAME, target.a_id),
        )
        conn.execute("UPDATE incident_category SET name = %s, name_zh = %s WHERE code = 'streetlight'", (NAME, NAME))
        lon, lat = conn.execute(
            "SELECT ST_X(c.center), ST_Y(c.center) FROM area, ST_MaximumInscribedCircle(geom) c"
            " WHERE code = %s AND valid_to IS NULL",
            (target.a_code,),
        ).fetchone()
    with httpx.Client(base_url=base, timeout=60) as client:
        case = client.post("/api/v1/incidents", headers={"Authorization": f"Bearer {dispatcher}"}, json={
            "category": "streetlight", "description": NAME, "channel": "hotline_12345", "lon": lon, "lat": lat,
        })  # fmt: skip
        assert case.status_code == 201, case.text
    return {"base": base, "url": url, "target": target, "admin": admin, "case": case.json()["id"],
            "building": (building_id, building_code)}  # fmt: skip


def _policy(headers: dict) -> dict[str, list[str]]:
    """The Content-Security-Policy of a response as directive → sources."""
    csp = headers.get("content-security-policy")
    assert csp, "no Content-Security-Policy"
    return {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}


def assert_locked_down(headers: dict, what: str) -> None:
    """A strict CSP (no inline script unless hashed or nonced) that forbids framing, and the old-browser
    equivalents."""
    policy = _policy(headers)
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts, f"{what}: the CSP does not restrict scripts"
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(scripts), (what, scripts)
    assert policy.get("object-src") == ["'none'"], what
    assert policy.get("frame-ancestors") == ["'none'"], what
    assert headers.get("x-frame-options") == "DENY", what
    assert headers.get("x-content-type-options") == "nosniff", what


def test_every_map_kind_shows_stored_script_as_text(site):
    target = site["target"]
    lon, lat = shapely.point_on_surface(target.a_geom).coords[0]
    with browser_page() as (page, problems):
        page.set_extra_http_headers({"Authorization": f"Bearer {site['admin']}"})
        for kind in KINDS:
            response = page.goto(f"{site['base']}/maps/{kind}.html?area={target.community}")
            assert response.status == 200, (kind, response.text())
            assert_locked_down(response.headers, kind)
            page.wait_for_selector(".leaflet-control-layers")
            assert page.title() == f"gridmap · {NAME} ({target.community})", kind
            assert NAME in page.inner_text(".gm-title"), kind
            # Only the micro-grids stay on: problem shapes and the heat canvas would take the mouse from them.
            page.evaluate(
                "document.querySelectorAll('.leaflet-control-layers-overlays label').forEach(l => {"
                " const box = l.querySelector('input');"
                " if (box.checked && !l.textContent.includes('micro-grids')) box.click(); })"
            )
            hover_map(page, lat, lon)
            tooltip = page.locator(".leaflet-tooltip", has_text="__pwned")
            tooltip.wait_for(timeout=5000)
            assert NAME in tooltip.inner_text(), kind
            assert page.evaluate("window.__pwned") is None, kind
    # No console error: the hashed scripts all ran, nothing was refused.
    assert problems == []


def _log_in(page, base: str, path: str, name: str) -> dict:
    """Open a staff page, log in through its form; the page's response headers."""
    response = page.goto(f"{base}{path}")
    page.fill("#login-form [name=name]", name)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button")
    return response.headers


def test_planner_shows_a_stored_building_script_as_text(site):
    building_id, building_code = site["building"]
    with browser_page() as (page, problems):
        headers = _log_in(page, site["base"], "/planner/", "ana")
        assert_locked_down(headers, "/planner/")
        page.wait_for_selector("#mg-list tr")
        assert NAME in page.inner_text("#mg-list")  # the worker's name, as text
        assert NAME in page.inner_text("#draft-info")
        feature = page.evaluate(f"planner.state.draft.buildings.features.find(f => f.properties.id === {building_id})")
        x, y = shapely.point_on_surface(shapely.geometry.shape(feature["geometry"])).coords[0]
        page.evaluate(f"planner.map.setView([{y}, {x}], 19, {{animate: false}})")
        page.click("[data-tool=move]")
        point = page.evaluate(
            f"(() => {{ const p = planner.map.latLngToContainerPoint([{y}, {x}]);"
            " const r = planner.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; })()"
        )
        page.mouse.move(point[0] - 3, point[1] - 3)
        page.mouse.move(*point, steps=3)
        tooltip = page.locator(".leaflet-tooltip", has_text=building_code)
        tooltip.wait_for(timeout=5000)
        assert NAME in tooltip.inner_text()
        page.wait_for_timeout(200)  # an injected <img> would have failed to load by now
        assert page.evaluate("window.__pwned") is None
    assert problems == []


def test_dispatch_console_shows_stored_script_as_text(site):
    case = site["case"]
    with browser_page() as (page, problems):
        headers = _log_in(page, site["base"], "/dispatch/", "desk")
        assert_locked_down(headers, "/dispatch/")
        page.wait_for_selector(f"#queue li[data-id='{case}']")
        assert NAME in page.inner_text(f"#queue li[data-id='{case}']")
        assert NAME in " ".join(page.locator("#filters [name=category] option").all_inner_texts())
        page.click(f"#queue li[data-id='{case}']")
        page.wait_for_selector("#map path.leaflet-interactive")
        assert NAME in page.inner_text("#case-title")
        assert NAME in page.inner_text("#case-description")
        assert NAME in page.inner_text("#people")
        assert NAME in page.inner_text("#owners")
        assert page.evaluate("window.__pwned") is None
    assert problems == []


def test_landing_page_and_api_docs_run_under_the_policy(site):
    with browser_page() as (page, problems):
        response = page.goto(f"{site['base']}/")
        assert_locked_down(response.headers, "/")
        page.wait_for_selector("#health.ok")  # its script (now a file) ran
        assert "PostGIS" in page.inner_text("#health")
        response = page.goto(f"{site['base']}/docs")
        assert_locked_down(response.headers, "/docs")
        page.wait_for_selector(".opblock-summary-path")  # Swagger UI started and read the OpenAPI document
        assert page.locator(".opblock-summary-path", has_text="/maps/{kind}.html").count() == 1
        assert page.evaluate("window.__pwned") is None
    assert problems == []


def _html_paths(url: str, community: str) -> list[str]:
    """Every GET path of the app that might answer HTML: parameterless routes (in the OpenAPI document
    or not), each map kind, and every .html file under /static/."""
    app = create_app(Settings(database_url=url))  # only read for its routes; never started
    paths = [r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or ()) and "{" not in r.path]
    for path, operations in app.openapi()["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        html = any("text/html" in r.get("content", {}) for r in get["responses"].values())
        if path == "/maps/{kind}.html":
            paths += [f"/maps/{kind}.html?area={community}" for kind in KINDS]
        elif "{" not in path:
            paths.append(path)
        else:
            assert not html, f"{path} answers HTML: teach this test its parameters"
    paths += ["/static/" + str(p.relative_to(STATIC_DIR)) for p in sorted(Path(STATIC_DIR).rglob("*.html"))]
    return sorted(set(paths))


def test_no_html_response_lacks_the_security_headers(site):
    community = site["target"].community
    paths = _html_paths(site["url"], community)
    seen = set()
    with httpx.Client(base_url=site["base"], timeout=120) as client:
        for path in paths:
            for headers in ({}, {"Authorization": f"Bearer {site['admin']}"}):
                response = client.get(path, headers=headers)
                assert response.headers.get("x-content-type-options") == "nosniff", path
                if response.headers.get("content-type", "").startswith("text/html"):
                    assert_locked_down(response.headers, path)
                    seen.add(path.partition("?")[0])
    expected = {"/", "/planner/", "/dispatch/", "/docs", "/static/index.html", *(f"/maps/{k}.html" for k in KINDS)}
    assert expected <= seen, expected - seen


class _Inline(HTMLParser):
    """Inline scripts, event-handler attributes and javascript: URLs of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs) -> None:
        self._script = tag == "script" and not dict(attrs).get("src")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=…>")

    def handle_endtag(self, tag) -> None:
        self._script = False

    def handle_data(self, data) -> None:
        if self._script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}…")


def test_static_pages_carry_no_inline_script():
    for page in sorted(Path(STATIC_DIR).rglob("*.html")):
        parser = _Inline()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.found == [], page


def _storage(page) -> dict:
    return page.evaluate("() => ({session: {...sessionStorage}, local: {...localStorage}})")


def test_a_planner_login_keeps_no_token_in_reach_of_scripts(site):
    with browser_page() as (page, problems):
        _log_in(page, site["base"], "/planner/", "bo")
        page.wait_for_selector("#mg-list tr")
        storage = _storage(page)
        assert storage["session"] == {}, storage
        assert set(storage["local"]) <= {"gridmap.lang"}, storage  # a language choice is all that is kept
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies[SESSION]
        assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/"
        assert session["value"] not in str(storage)
        assert SESSION not in page.evaluate("document.cookie")
        assert CSRF in page.evaluate("document.cookie")  # the CSRF twin is meant to be read
        # The cookie carries the session across a reload; logging out ends it and clears both cookies.
        page.reload()
        page.wait_for_selector("#mg-list tr")
        # Let the community finish loading: a request still to be sent when the session ends would get
        # its (correct) 401 and count as a console error.
        page.wait_for_load_state("networkidle")
        page.click("#logout")
        page.wait_for_selector("#login-form", state="visible")
        assert {c["name"] for c in page.context.cookies()} & {SESSION, CSRF} == set()
        assert _storage(page)["session"] == {}
    assert problems == []
    with httpx.Client(base_url=site["base"], cookies={SESSION: session["value"]}) as client:
        assert client.get("/api/v1/auth/me").status_code == 401


def _drafts_and_audit(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM plan_draft), (SELECT count(*) FROM audit_log)").fetchone()


def test_a_cookie_write_without_the_csrf_header_is_refused(site):
    foreign = site["target"].foreign
    with httpx.Client(base_url=site["base"], timeout=60) as client:
        login = client.post("/api/v1/auth/login", json={"username": "cy", "password": PASSWORD})
        assert login.status_code == 200 and login.json()["token"].strip()  # API clients still get the token
        cookies = {line.split("=", 1)[0]: line.lower() for line in login.headers.get_list("set-cookie")}
        assert {"httponly", "samesite=strict", "path=/"} <= {p.strip() for p in cookies[SESSION].split(";")}
        assert "httponly" not in cookies[CSRF] and "samesite=strict" in cookies[CSRF]
        assert "secure" not in cookies[SESSION]  # plain http here; over https the cookies are Secure
        assert client.get("/api/v1/auth/me").json()["name"] == "cy"  # the cookie alone reads
        before = _drafts_and_audit(site["url"])
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
            refused = client.post("/api/v1/drafts", json={"area": foreign}, headers=headers)
            assert refused.status_code == 403, (headers, refused.text)
            assert "X-CSRF-Token" in refused.json()["error"]["message"]
        assert client.post("/api/v1/auth/logout").status_code == 403  # logging out is a write too
        assert _drafts_and_audit(site["url"]) == before
        token = {"X-CSRF-Token": client.cookies[CSRF]}
        assert client.post("/api/v1/drafts", json={"area": foreign}, headers=token).status_code == 201
        assert _drafts_and_audit(site["url"])[0] == before[0] + 1
        session = client.cookies[SESSION]
        out = client.post("/api/v1/auth/logout", headers=token)
        assert out.status_code == 204
        assert SESSION not in client.cookies and CSRF not in client.cookies
    with httpx.Client(base_url=site["base"], cookies={SESSION: session}) as client:
        assert client.get("/api/v1/auth/me").status_code == 401  # the session ended on the server too
    # Over https (directly or from a trusted proxy) both cookies are Secure.
    scope = {"type": "http", "scheme": "https", "method": "POST", "path": "/", "headers": [], "server": ("x", 443)}
    https = Request(scope)
    response = Response()
    sessions.set_cookies(response, https, "secret", "gms_token", datetime.now(UTC))
    lines = [value.decode().lower() for name, value in response.raw_headers if name == b"set-cookie"]
    assert len(lines) == 2 and all("secure" in line.split("; ") for line in lines)
