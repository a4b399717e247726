"""The browser-facing security headers, set in this one place for every response.

Every response gets ``X-Content-Type-Options: nosniff``; every ``text/html`` response also gets a strict
Content-Security-Policy (scripts only from this server: no inline script, no eval, no framing) and
``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``. A page that needs more asks for
it while it is built with ``allow``: the map pages hand over the hashes of the inline scripts folium
writes, and the host of a configured base map."""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Styles may be inline: Leaflet, folium and Swagger UI write <style> blocks and style="…" attributes, and
# a nonce or hash cannot cover an attribute. Scripts may not: that is where stored text could run.
# data: images are Leaflet's and Swagger UI's inlined icons; blob: is what canvas layers export to.
BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:", "blob:"),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
# A page may bless single scripts, never open script-src wider ('unsafe-inline', a host, a scheme).
_SCRIPT_SOURCE = re.compile(r"'(?:sha(?:256|384|512)-[A-Za-z0-9+/]+={0,2}|nonce-[A-Za-z0-9+/_-]+={0,2})'")
_SOURCE = re.compile(r"[^\s;,']+")  # a host or scheme source: no separator, no keyword
_STATE_KEY = "gridmap_csp_additions"


def allow(connection: HTTPConnection, directive: str, *sources: str) -> None:
    """Add ``sources`` to ``directive`` of the policy sent with this request's response. script-src takes
    only hashes and nonces (``'sha256-…'``, ``'nonce-…'``); other directives take hosts or schemes. Raises
    ValueError for anything else, RuntimeError when SecurityHeaders is not installed."""
    if directive not in BASE_POLICY or directive == "frame-ancestors":
        raise ValueError(f"no page may change {directive!r}")
    pattern = _SCRIPT_SOURCE if directive == "script-src" else _SOURCE
    for source in sources:
        if not pattern.fullmatch(source):
            raise ValueError(f"{source!r} is not an allowed {directive} source")
    try:
        additions = connection.scope["state"][_STATE_KEY]
    except KeyError:
        raise RuntimeError("SecurityHeaders is not installed: the page would go out without its policy") from None
    additions.setdefault(directive, []).extend(sources)


def policy(additions: dict[str, list[str]] | None = None) -> str:
    """The Content-Security-Policy header value: BASE_POLICY plus ``additions``."""
    additions = additions or {}
    parts = []
    for directive, base in BASE_POLICY.items():
        sources = dict.fromkeys([*base, *additions.get(directive, ())])  # ordered, without repeats
        parts.append(" ".join([directive, *sources]))
    return "; ".join(parts)


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above. It replaces any of them a route set itself, so the
    policy cannot drift between pages."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        additions: dict[str, list[str]] = {}
        scope.setdefault("state", {})[_STATE_KEY] = additions

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").lower().startswith("text/html"):
                    headers["Content-Security-Policy"] = policy(additions)
                    headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, with_headers)
