"""Limits in front of the app: body size (FastAPI sets none) and a rate limit for anonymous callers."""

from __future__ import annotations

import json
import math
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length up front and counts streamed (chunked) bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_route: dict[tuple[str, str], int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.per_route = per_route or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_route.get((scope["method"], scope["path"]), self.max_bytes)
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


class AnonymousRateLimit:
    """At most ``limit`` requests per ``window_s`` seconds per client IP from callers without an
    Authorization header (429 with Retry-After beyond). Signed-in callers are accountable and not
    counted; /health and /static are exempt. Counts are per server process (sliding window)."""

    EXEMPT = ("/health", "/static/")

    def __init__(self, app: ASGIApp, limit: int, window_s: float):
        self.app = app
        self.limit = limit
        self.window_s = window_s
        self.hits: dict[str, deque[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limit or scope["path"].startswith(self.EXEMPT):
            await self.app(scope, receive, send)
            return
        if any(name == b"authorization" for name, _ in scope.get("headers", ())):
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        client = (scope.get("client") or ("?", 0))[0]
        hits = self.hits.setdefault(client, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            wait = max(1, math.ceil(hits[0] + self.window_s - now))
            message = f"more than {self.limit} requests in {self.window_s:g} s without credentials; retry later"
            await _send_error(send, 429, "rate_limited", message, ((b"retry-after", str(wait).encode()),))
            return
        hits.append(now)
        if len(self.hits) > 100_000:  # forget idle clients so the table cannot grow without bound
            self.hits = {ip: h for ip, h in self.hits.items() if h and h[-1] > now - self.window_s}
        await self.app(scope, receive, send)
