"""Incidents: intake (/api/v1/incidents), queues, one case, workflow actions, photos, categories."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse

from api.deps import (
    CalendarDep,
    Conn,
    IfMatch,
    IfNoneMatch,
    Lookups,
    Now,
    PolicyDep,
    RawBody,
    RequestId,
    SettingsDep,
    Who,
    conditional,
    crs_query,
    etag,
    idempotency_key,
    instant_query,
    paging_query,
    permission,
    reject_unknown_query,
    written,
)
from api.links import photo_href, with_photo_links
from api.schemas.incidents import CategoryPut, IncidentAction, IncidentCreate
from gridmap.areas.hierarchy import resolve_area
from gridmap.coords import from_wgs84
from gridmap.incidents.actions import ActionInput, act
from gridmap.incidents.cases import Queue, get_incident, list_incidents, my_person, report_answer
from gridmap.incidents.categories import list_categories, put_category, require_category
from gridmap.incidents.gazetteer import suggest
from gridmap.incidents.intake import NewReport, intake, preview
from gridmap.incidents.photos import add_photo, photo_file
from gridmap.points import optional_point_to_wgs84

router = APIRouter(prefix="/api/v1", tags=["incidents"], dependencies=[Depends(reject_unknown_query)])

IncidentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Crs = crs_query("CRS of coordinates in and out: wgs84, gcj02 or bd09.")
Since = instant_query("since", "Received at or after (ISO-8601).")
Until = instant_query("until", "Received before (ISO-8601).")
Paged = paging_query(50, 500)
IdempotencyKey = idempotency_key("Retry-safe intake: the same key, one report.")


def _case_response(doc: dict, status: int, replayed: bool = False) -> JSONResponse:
    headers = written(doc["version"], f"/api/v1/incidents/{doc['id']}", replayed)
    return JSONResponse(with_photo_links(doc), status, headers=headers)


def new_report(body: IncidentCreate, crs: str, channel: str | None = None) -> NewReport:
    """The core's report from a request body."""
    lon, lat = optional_point_to_wgs84(body.lon, body.lat, crs)
    reporter = body.reporter
    return NewReport(
        category=body.category, description=body.description, channel=channel or body.channel, lon=lon, lat=lat,
        address=body.address, building=body.building, reporter_name=reporter.name if reporter else None,
        reporter_phone=reporter.phone if reporter else None, photo_urls=tuple(body.photo_urls),
        reported_at=body.reported_at, external_id=body.external_id, join_repeat=body.join_repeat,
    )  # fmt: skip


@router.post("/incidents", status_code=201, summary="Report an incident", dependencies=[permission("incident.create")])
def create(
    conn: Conn,
    lookups: Lookups,
    who: Who,
    request_id: RequestId,
    calendar: CalendarDep,
    policy: PolicyDep,
    now: Now,
    body: IncidentCreate,
    crs: Crs,
    once: IdempotencyKey,
) -> JSONResponse:
    """A report located by `lon`/`lat` (in `crs`), a `building` code or `address` text. It is routed to its
    micro-grid, grid, community, subdistrict, party cell and people (201), or joins an open case of the
    same category nearby as a repeat (200, `repeat: true`). A vague address waits in the needs-location
    queue. A location outside your jurisdiction is refused (422) and nothing is stored. With
    `Idempotency-Key`, or an `external_id` already taken in on the same channel, a repeated request
    returns the first case (200) and creates nothing. Callers that may not read cases (intake keys) get
    an acknowledgement: the case id, state, version and who answers it, not its history."""
    report = new_report(body, crs)

    def run() -> tuple[int, dict]:
        # The answer is read in the write's transaction: a write never commits without its answer.
        with conn.transaction():
            outcome = intake(conn, who, report, calendar, policy, now, request_id, lookups)
            doc = report_answer(conn, who, outcome.incident_id, crs, now)
        status = 200 if outcome.repeat or outcome.replayed else 201
        # Links added before the answer is stored for replays, so a replay shows them as the first answer did.
        return status, with_photo_links(doc) | {"repeat": outcome.repeat, "report_token": outcome.token}

    status, doc, replayed = once.run(run, "POST /incidents", body.model_dump(mode="json"), crs)
    return _case_response(doc, 200 if replayed else status, replayed)


@router.post("/incidents/preview", summary="What filing this report would do (nothing is written)",
             dependencies=[permission("incident.create")])  # fmt: skip
def preview_report(conn: Conn, lookups: Lookups, who: Who, policy: PolicyDep, now: Now, body: IncidentCreate,
                   crs: Crs) -> dict:  # fmt: skip
    """The same body as filing. Answers where the report is (building, confidence, unit, floor, candidates;
    coordinates in `crs`), its owners and flags, whom a dispatch would go to (`assignment`), the open case
    nearby it would join (`repeat`) and what filing would do (`would`: join, open or needs_location).
    What filing would refuse is refused alike (422); nothing is stored."""
    doc = preview(conn, who, new_report(body, crs), policy, now, lookups)
    where = doc["location"]
    if where["lon"] is not None:
        where["lon"], where["lat"] = from_wgs84(where["lon"], where["lat"], crs)
    where["crs"] = crs
    return doc


@router.get("/address-suggestions", summary="Buildings an address may mean, as it is typed",
            dependencies=[permission("incident.create")])  # fmt: skip
def address_suggestions(
    conn: Conn,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Address text as the caller says it.")],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> dict:
    """How the text reads (place, 栋 door, 单元 unit, floor), the candidate buildings best first with a
    WGS-84 point each and a score, and `best`: the building filing would take (trusted only at or above
    the address confidence threshold; below it the case waits in the needs-location queue)."""
    return suggest(conn, q, limit)


@router.get("/incidents", summary="Queue of incidents", dependencies=[permission("incident.read")])
def queue(
    conn: Conn,
    who: Who,
    now: Now,
    since: Since,
    until: Until,
    crs: Crs,
    paging: Paged,
    state: Annotated[str | None, Query(description="States, comma-separated: received,escalated")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or not overdue (false) open cases.")] = None,
    flag: Annotated[
        str | None, Query(description="needs_location, unassigned, near_boundary, nearest, overdue …")
    ] = None,
    area: Annotated[str | None, Query(description="Area id or code: cases routed to it or below.")] = None,
    level: Annotated[str | None, Query(description="The level answering now.")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Case number (123 or #123), external id, or address words.")
    ] = None,
    phone: Annotated[
        str | None, Query(max_length=30, description="A caller's phone, or its last 4+ digits (staff only).")
    ] = None,
    building: Annotated[str | None, Query(max_length=64, description="A building code.")] = None,
    mine: Annotated[bool, Query(description="Only cases given to the person your login is (workers).")] = False,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Cases in your jurisdiction, most urgent first: open before closed, then by deadline. The answer has
    an `ETag`: a console polling with `If-None-Match` gets 304 until something in it changes."""
    queue = Queue(
        state=tuple(s.strip() for s in state.split(",") if s.strip()) if state else (),
        category=category, overdue=overdue, flag=flag, area=resolve_area(conn, area, field="area"), level=level,
        since=since, until=until, text=q or None, phone=phone or None, building=building or None,
        person=my_person(conn, who) if mine else None,
    )  # fmt: skip
    data = orjson.dumps(jsonable_encoder(list_incidents(conn, who, queue, crs, now, paging.limit, paging.offset)))
    # Private: the answer depends on who asks; revalidated on every poll.
    headers = {"Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}
    return conditional(data, if_none_match, headers, "application/json")


@router.get("/incidents/{incident_id}", summary="One incident", dependencies=[permission("incident.read")])
def incident(conn: Conn, who: Who, now: Now, incident_id: IncidentId, crs: Crs) -> JSONResponse:
    """The case, its owners as routed (area versions included), reports, history and photos; `ETag` is its
    version. Reporters' contacts are shown to staff only."""
    doc = get_incident(conn, who, incident_id, crs, now)
    return JSONResponse(with_photo_links(doc), headers=etag(doc["version"]))


@router.post("/incidents/{incident_id}/actions", summary="Move an incident through the workflow")
def action(
    conn: Conn,
    who: Who,
    request_id: RequestId,
    calendar: CalendarDep,
    policy: PolicyDep,
    now: Now,
    incident_id: IncidentId,
    body: IncidentAction,
    if_match: IfMatch,
    crs: Crs,
) -> JSONResponse:
    """`dispatch`, `accept`, `reply` (note), `verify`, `close` (note), `rate` (satisfaction), `escalate`,
    `reopen` (note), `reject` (reason), `reroute` (optionally a new lon/lat or building), `reassign`
    (assignee), `split` (report). A transition the state does not allow is 409; a role that may not act
    is 403. `If-Match` is optional here: the state machine already refuses a second identical action."""
    lon, lat = optional_point_to_wgs84(body.lon, body.lat, crs)
    given = ActionInput(**body.model_dump(exclude={"lon", "lat"}), lon=lon, lat=lat)
    with conn.transaction():  # as for intake: the action commits only with its answer
        result = act(conn, who, incident_id, given, if_match, calendar, policy, now, request_id)
        doc = get_incident(conn, who, incident_id, crs, now)
    return JSONResponse(with_photo_links(doc) | {"result": result}, headers=etag(doc["version"]))


@router.post(
    "/incidents/{incident_id}/photos",
    status_code=201,
    summary="Upload a photo (the body is the image)",
    dependencies=[permission("incident.create")],
    openapi_extra={"requestBody": {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                               for t in ("image/jpeg", "image/png", "image/webp")}}},
)  # fmt: skip
def upload(
    conn: Conn, who: Who, incident_id: IncidentId, now: Now, settings: SettingsDep, data: RawBody
) -> JSONResponse:
    """Send the image bytes as the body (JPEG, PNG or WebP, checked by content, at most the configured
    size: 413 beyond it, 415 for anything that is not an image)."""
    photo = add_photo(conn, who, incident_id, data, settings.data_dir, settings.incidents.photo_max_bytes, now)
    href = photo_href(incident_id, photo["id"])
    return JSONResponse(photo | {"href": href}, 201, headers={"Location": href})


@router.get("/incidents/{incident_id}/photos/{photo_id}", summary="An uploaded photo",
            dependencies=[permission("incident.read")])  # fmt: skip
def photo(conn: Conn, who: Who, settings: SettingsDep, incident_id: IncidentId, photo_id: IncidentId) -> FileResponse:
    """The image as uploaded."""
    path, content_type = photo_file(conn, who, incident_id, photo_id, settings.data_dir)
    return FileResponse(path, media_type=content_type, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/incident-categories", summary="Incident categories and their deadlines")
def categories(conn: Conn) -> dict:
    """Every category with its calendar (working hours or wall clock) and minutes per stage."""
    return {"categories": [c.public() for c in list_categories(conn)]}


@router.get("/incident-categories/{code}", summary="One incident category")
def category(conn: Conn, code: Annotated[str, Path(max_length=40)]) -> dict:
    """The category and its deadlines."""
    return require_category(conn, code).public()


@router.put("/incident-categories/{code}", summary="Create or replace a category (admins)",
            dependencies=[permission("incident.configure")])  # fmt: skip
def put(
    conn: Conn, who: Who, request_id: RequestId, code: Annotated[str, Path(max_length=40)], body: CategoryPut
) -> dict:
    """Names, calendar and all four stage deadlines (minutes) at once; recorded in the audit log."""
    minutes = body.deadline_minutes.model_dump()
    return put_category(
        conn, who, code, body.name, body.name_zh, body.calendar, body.active, minutes, request_id
    ).public()
