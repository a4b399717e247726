"""How a request proves who it is: ``Authorization: Bearer`` for API clients, or the session cookie of the
staff pages.

The browser pages never hold the token: login sets it in an HttpOnly cookie no script can read, so
injected script cannot carry it off. A cookie is sent by the browser on its own, so a write signed by it
must also carry ``X-CSRF-Token`` equal to the readable CSRF cookie (double submit): another site can make
a browser send the cookie, but neither read the CSRF cookie nor set the header. Both cookies are
SameSite=Strict on top of that. The CSRF value is an HMAC of the session token, so a CSRF cookie planted
from elsewhere (a sibling subdomain) does not match any session."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Scope

from gridmap.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "gridmap_session"
CSRF_COOKIE = "gridmap_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Forbidden):
    """A write signed by the session cookie without the matching CSRF header (403)."""

    code = "csrf_refused"


def csrf_token(secret: str, session_token: str) -> str:
    """The CSRF value that belongs to ``session_token``."""
    return hmac.new(secret.encode(), b"csrf\0" + session_token.encode(), hashlib.sha256).hexdigest()


def credentials(request: Request, secret: str) -> str | None:
    """The token a request authenticates with, or None (anonymous). ``Authorization: Bearer`` wins when
    both are sent; a malformed Authorization header is Unauthenticated. The session cookie counts on
    GET/HEAD/OPTIONS as it is, and on any other method only with ``X-CSRF-Token`` equal to the CSRF
    cookie and derived from this session: otherwise CsrfRefused, before anything runs."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization must be 'Bearer <token>' (a session token or an API key)")
        return token.strip()
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "").encode()
        cookie = request.cookies.get(CSRF_COOKIE, "").encode()
        expected = csrf_token(secret, token).encode()
        # compare_digest on both: a timing difference must not reveal how much of a guess was right.
        if not sent or not hmac.compare_digest(sent, cookie) or not hmac.compare_digest(cookie, expected):
            raise CsrfRefused(
                f"a {request.method} signed in by the session cookie must send the {CSRF_HEADER} header, equal to"
                f" the {CSRF_COOKIE} cookie (the staff pages do); API clients send Authorization: Bearer instead"
            )
    return token


def set_cookies(response: Response, request: Request, secret: str, token: str, expires: datetime) -> None:
    """Log the browser in: the session cookie (HttpOnly) and its CSRF twin (readable by the pages), both
    SameSite=Strict on Path=/, expiring with the session, and Secure when the request came over https."""
    common = {"expires": expires, "path": "/", "secure": _https(request), "samesite": "strict"}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **common)
    response.set_cookie(CSRF_COOKIE, csrf_token(secret, token), httponly=False, **common)


def clear_cookies(response: Response, request: Request) -> None:
    """Log the browser out: both cookies expire now."""
    secure = _https(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="strict")


def _https(request: Request) -> bool:
    # The scheme of the scope: https from the server itself or as a trusted proxy's X-Forwarded-Proto set it.
    return request.scope.get("scheme") == "https"


def has_session_cookie(scope: Scope) -> bool:
    """Whether the request of an ASGI ``scope`` sends a session cookie (valid or not)."""
    return bool(HTTPConnection(scope).cookies.get(SESSION_COOKIE))
