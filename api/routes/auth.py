"""Log in and out: POST /api/v1/auth/login gives a bearer session token; GET /api/v1/auth/me says who."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from api.deps import Conn, SettingsDep, Who, reject_unknown_query
from api.schemas.auth import LoginIn
from gridmap import accounts
from gridmap.access import require

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], dependencies=[Depends(reject_unknown_query)])


@router.post("/login", summary="Log in: a session token to send as Authorization: Bearer")
def login(conn: Conn, settings: SettingsDep, body: LoginIn) -> dict:
    """A wrong name, wrong password and disabled user all get the same 401."""
    secret = settings.secret_key.get_secret_value()
    token, expires, who = accounts.login(conn, secret, body.username, body.password, settings.session_hours)
    user = accounts.describe(conn, who)
    return {"token": token, "token_type": "bearer", "expires_at": expires.isoformat(), "user": user}


@router.post("/logout", status_code=204, summary="End this session")
def logout(request: Request, conn: Conn, settings: SettingsDep, who: Who) -> Response:
    """The token stops working at once."""
    require(who, "read")
    token = request.headers["authorization"].partition(" ")[2].strip()
    accounts.logout(conn, settings.secret_key.get_secret_value(), token)
    return Response(status_code=204)


@router.get("/me", summary="Who the credentials belong to")
def me(conn: Conn, who: Who) -> dict:
    """Name, kind (user or key), role and jurisdiction (area codes; empty = everywhere)."""
    require(who, "read")
    return accounts.describe(conn, who)
