"""create_app(settings): the FastAPI application, its pool opened in the lifespan."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import errors
from api.limits import AnonymousRateLimit, BodySizeLimit
from api.request_id import RequestId
from api.routes import (
    area_query,
    areas,
    audit,
    auth,
    buildings,
    coverage,
    drafts,
    health,
    incident_reports,
    incidents,
    lookup,
    maps,
    ogc,
    open311,
    partition,
    tiles,
)
from api.security_headers import SecurityHeaders
from api.text_guard import refuse_unsafe_text
from api.write_epoch import AnnounceWrites
from gridmap import __version__
from gridmap.access.accounts import PrincipalCache
from gridmap.access.throttle import LoginGuard
from gridmap.db.connect import check_startup, database_url, make_pool
from gridmap.incidents.calendar import calendar_from_settings
from gridmap.incidents.escalation import escalate_periodically
from gridmap.incidents.routing import policy_from_settings
from gridmap.lookup.live import LiveIndex, WriteEpoch
from gridmap.lookup.service import LookupService
from gridmap.notify.outbox import deliver_periodically, retry_from_settings
from gridmap.notify.senders import sender_from_settings
from gridmap.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# How every server of this app runs uvicorn (`gridmap serve`, the tests' LiveServer). The app settles the
# client address itself, trusting only GRIDMAP_TRUSTED_PROXIES; uvicorn's own proxy handling would trust
# 127.0.0.1 by default and rewrite the address before the app sees the real peer.
UVICORN_OPTIONS = {"proxy_headers": False}


def _page(file: Path, settings: Settings, request: Request) -> FileResponse:
    """A static page, allowed to load the configured base map."""
    maps.allow_basemap(request, settings)
    return FileResponse(file)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Start-up refuses the built-in secret outside development and a database that may
    lose acknowledged writes. The pool opens without waiting, so the app starts (and /health says 503)
    even while the database is down, and recovers by itself when it returns."""
    settings = settings or Settings()
    static_dir = settings.static_dir or STATIC_DIR

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        url = database_url(settings)
        check_startup(settings, url)
        pool = make_pool(url, settings)
        pool.open(wait=False)
        app.state.pool = pool
        # The index builds in the background; lookups are answered by SQL until it is ready.
        live = LiveIndex(url) if settings.lookup.lookup_index else None
        if live is not None:
            live.start()
        app.state.lookups = LookupService(pool, live)
        app.state.write_epoch = epoch = live.epoch if live is not None else WriteEpoch(url)
        app.state.principals = PrincipalCache(settings.security.secret_key.get_secret_value(), generation=epoch.read)
        every = settings.incidents.escalate_every_s
        sign = settings.notify.notify_sign
        workers = [asyncio.create_task(escalate_periodically(pool, app.state.calendar, every, sign))] if every else []
        sender = sender_from_settings(settings.notify)
        if sender is not None and settings.notify.notify_every_s:
            retry = retry_from_settings(settings.notify)
            clock = partial(datetime.now, UTC)
            workers.append(asyncio.create_task(
                deliver_periodically(pool, sender, retry, settings.notify.notify_every_s, clock)))  # fmt: skip
        try:
            yield
        finally:
            for worker in workers:
                worker.cancel()
            if live is not None:
                live.close()
            pool.close()

    app = FastAPI(
        title="gridmap",
        version=__version__,
        description="Who owns this spot: micro-grid, grid, community, subdistrict, party cell, people to call.",
        lifespan=lifespan,
        docs_url=None,  # the stock page loads Swagger UI from a CDN; ours serves the vendored copy
        redoc_url=None,
        dependencies=[Depends(refuse_unsafe_text)],  # one text rule for every route's input
    )
    app.state.settings = settings
    app.state.calendar = calendar_from_settings(settings)
    app.state.policy = policy_from_settings(settings)
    app.state.login_guard = LoginGuard.from_settings(settings)
    errors.install(app)
    # Added last = runs first: the request id exists before a limit can refuse the request.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.limits.max_body_bytes,
        per_route={
            ("POST", "/api/v1/lookup"): settings.limits.lookup_body_max_bytes,
            ("POST", r"/api/v1/incidents/[0-9]+/photos"): settings.incidents.photo_max_bytes,
        },
    )
    app.add_middleware(AnnounceWrites)
    app.add_middleware(
        AnonymousRateLimit, limit=settings.limits.rate_limit_anonymous, window_s=settings.limits.rate_limit_window_s
    )
    # Before the limits: X-Forwarded-For and -Proto count only from a trusted proxy (none by default).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.security.trusted_proxy_networks)
    app.add_middleware(RequestId)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, refusals included, gets the headers
    routers = (health, auth, lookup, area_query, areas, buildings, audit, incidents, incident_reports, open311)
    for module in (*routers, partition, drafts, coverage, tiles, ogc, maps):
        app.include_router(module.router)
    app.include_router(maps.config_router)
    app.mount("/static", StaticFiles(directory=static_dir), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static_dir / "index.html")

    # The staff and map pages: each may load the configured base map (and nothing else from outside).
    pages = {"/planner/": "planner/index.html", "/dispatch/": "dispatch/index.html", "/worker/": "dispatch/worker.html",
             "/map/": "map/index.html", "/dashboard/": "dashboard/index.html"}  # fmt: skip
    for route, file in pages.items():
        app.add_api_route(route, partial(_page, static_dir / file, settings), include_in_schema=False)

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        # Our own page: FastAPI's starts Swagger UI with an inline script, which the CSP refuses.
        return FileResponse(static_dir / "docs" / "index.html")

    return app
