"""Log in and out: POST /api/v1/auth/login gives a bearer session token (and the staff pages' session
cookie); GET /api/v1/auth/me says who."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from api import sessions
from api.deps import Conn, SettingsDep, Who, reject_unknown_query
from api.limits import client_address
from api.schemas.auth import LoginIn
from gridmap.access import accounts
from gridmap.access.rules import require

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], dependencies=[Depends(reject_unknown_query)])


@router.post("/login", summary="Log in: a session token to send as Authorization: Bearer")
def login(request: Request, response: Response, conn: Conn, settings: SettingsDep, body: LoginIn) -> dict:
    """A wrong name, wrong password and disabled user all get the same 401. API clients send the answer's
    `token` as `Authorization: Bearer`. Browsers also get it as an HttpOnly, SameSite=Strict cookie
    (`gridmap_session`) with a readable `gridmap_csrf` cookie: a write signed by the cookie must send
    `X-CSRF-Token` equal to `gridmap_csrf`, else 403."""
    secret = settings.security.secret_key.get_secret_value()
    token, expires, who = accounts.login(
        conn, secret, body.username, body.password, settings.security.session_hours,
        guard=request.app.state.login_guard, address=client_address(request.scope),
    )  # fmt: skip
    user = accounts.describe(conn, who)
    sessions.set_cookies(response, request, secret, token, expires)
    return {"token": token, "token_type": "bearer", "expires_at": expires.isoformat(), "user": user}


@router.post("/logout", status_code=204, summary="End this session")
def logout(request: Request, conn: Conn, settings: SettingsDep, who: Who) -> Response:
    """The session (of the bearer token, or of the cookie) stops working at once; both cookies are cleared."""
    require(who, "read")
    secret = settings.security.secret_key.get_secret_value()
    accounts.logout(conn, secret, sessions.credentials(request, secret))
    response = Response(status_code=204)
    sessions.clear_cookies(response, request)
    return response


@router.get("/me", summary="Who the credentials belong to")
def me(conn: Conn, who: Who, settings: SettingsDep) -> dict:
    """Name, kind (user or key), role, jurisdiction (area codes; empty = everywhere), the person of the
    register a worker's login is (or null), and the `timezone` times are shown to people in."""
    require(who, "read")
    return accounts.describe(conn, who) | {"timezone": settings.timezone}
