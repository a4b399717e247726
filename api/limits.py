"""Limits in front of the app: body size (FastAPI sets none) and a rate limit for anonymous callers and
failed credentials, counted per client address."""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.sessions import has_session_cookie


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length up front and counts streamed (chunked) bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_route: dict[tuple[str, str], int] | None = None):
        """``per_route`` maps (method, path regular expression) to a limit of its own."""
        self.app = app
        self.max_bytes = max_bytes
        self.per_route = [(method, re.compile(path), limit) for (method, path), limit in (per_route or {}).items()]

    def _limit(self, method: str, path: str) -> int:
        return next((n for m, p, n in self.per_route if m == method and p.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["method"], scope["path"])
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_error(send, 413, "body_too_large", f"request body is larger than {limit} bytes")
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_error(send, 413, "body_too_large", f"request body is larger than {limit} bytes")


async def _send_error(send: Send, status: int, code: str, message: str, headers: tuple = ()) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def client_address(scope: Scope) -> str:
    """The address a request counts against: its peer, or the client a trusted proxy names. The app's
    ProxyHeadersMiddleware (GRIDMAP_TRUSTED_PROXIES) has put it in ``scope["client"]`` by the time any
    limit or route asks; "?" when the server knows no peer (a Unix socket)."""
    return (scope.get("client") or ("?", 0))[0]


def _carries_credentials(scope: Scope) -> bool:
    """Whether the request sends credentials, valid or not: the staff pages sign in by cookie, API
    clients by header."""
    return any(name == b"authorization" for name, _ in scope.get("headers", ())) or has_session_cookie(scope)


class _Window:
    """Sliding-window counters per client address."""

    def __init__(self, limit: int, window_s: float):
        self.limit, self.window_s = limit, window_s
        self.hits: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        hits = self.hits.setdefault(client, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def wait_s(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None when it is under the limit."""
        now = time.monotonic()
        hits = self._recent(client, now)
        return max(1, math.ceil(hits[0] + self.window_s - now)) if len(hits) >= self.limit else None

    def add(self, client: str) -> None:
        now = time.monotonic()
        self._recent(client, now).append(now)
        if len(self.hits) > 100_000:  # forget idle clients so the table cannot grow without bound
            self.hits = {ip: h for ip, h in self.hits.items() if h and h[-1] > now - self.window_s}


class AnonymousRateLimit:
    """At most ``limit`` requests per ``window_s`` seconds per client address without credentials (429
    with Retry-After beyond). Signed-in callers are accountable and not counted, but credentials that fail
    (a 401 answer) count against their address in a window of their own, so sending a made-up token
    does not escape the limit. Once that window is full, further failing credentials get 429 instead of
    401, while valid ones from the same address still get through: the credential is checked first (one
    digest lookup, cheap), and only its failure is refused, so a flood of made-up tokens cannot lock out
    a valid key behind the same address. /health and /static are exempt.

    Counts are per server process: with N workers an address gets up to N times the limit. That bounds
    load, which is its purpose: tokens are 256 random bits, beyond guessing at any rate, and passwords
    are throttled per account and address in the database (gridmap.access.throttle), shared by all workers."""

    EXEMPT = ("/health", "/static/")

    def __init__(self, app: ASGIApp, limit: int, window_s: float):
        self.app = app
        self.limit = limit
        self.anonymous = _Window(limit, window_s)
        self.failed = _Window(limit, window_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limit or scope["path"].startswith(self.EXEMPT):
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        if not _carries_credentials(scope):
            wait = self.anonymous.wait_s(client)
            if wait is not None:
                await self._refuse(send, "requests without credentials", wait)
                return
            self.anonymous.add(client)
            await self.app(scope, receive, send)
            return
        refused = False

        async def judge_failures(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 401:
                wait = self.failed.wait_s(client)
                if wait is None:
                    self.failed.add(client)
                else:
                    refused = True
                    await self._refuse(send, "failed credentials", wait)
            if not refused:
                await send(message)  # once refused, the 401's body is dropped: the 429 went instead

        await self.app(scope, receive, judge_failures)

    async def _refuse(self, send: Send, what: str, wait: int) -> None:
        message = f"more than {self.limit} {what} in {self.anonymous.window_s:g} s from this address; retry later"
        await _send_error(send, 429, "rate_limited", message, ((b"retry-after", str(wait).encode()),))
