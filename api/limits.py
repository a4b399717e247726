"""Limits in front of the app: body size (FastAPI sets none) and a rate limit for anonymous callers."""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


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


class _Window:
    """Sliding-window counters per client IP."""

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
    """At most ``limit`` requests per ``window_s`` seconds per client IP without credentials (429 with
    Retry-After beyond). Signed-in callers are accountable and not counted, but credentials that fail
    (a 401 answer) count against their IP in a window of their own, so sending a made-up token neither
    escapes the limit nor allows unlimited guessing. /health and /static are exempt. Counts are per
    server process."""

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
        client = (scope.get("client") or ("?", 0))[0]
        signed = any(name == b"authorization" for name, _ in scope.get("headers", ()))
        window = self.failed if signed else self.anonymous
        wait = window.wait_s(client)
        if wait is not None:
            what = "failed logins or tokens" if signed else "requests without credentials"
            message = f"more than {self.limit} {what} in {window.window_s:g} s; retry later"
            await _send_error(send, 429, "rate_limited", message, ((b"retry-after", str(wait).encode()),))
            return
        if not signed:
            self.anonymous.add(client)
            await self.app(scope, receive, send)
            return

        async def count_failures(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.failed.add(client)
            await send(message)

        await self.app(scope, receive, count_failures)
