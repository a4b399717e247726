"""Read-your-writes for lookups across workers: before a successful write is answered, the machine's
write epoch changes (``gridmap.lookup.live``), so the next lookup on any worker first takes in the
change notices of that write."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class AnnounceWrites:
    """Pure ASGI middleware: bumps the app's ``state.write_epoch`` (set in the lifespan) when a write
    answers 2xx/3xx."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        epoch = getattr(scope["app"].state, "write_epoch", None) if "app" in scope else None
        if scope["type"] != "http" or scope["method"] in SAFE or epoch is None:
            await self.app(scope, receive, send)
            return

        async def announce(message: Message) -> None:
            # The write committed inside the handler, before its answer starts: announce it first.
            if message["type"] == "http.response.start" and message["status"] < 400:
                epoch.bump()
            await send(message)

        await self.app(scope, receive, announce)
