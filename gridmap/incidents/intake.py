"""Taking a report in: find where it is (a point, a building code, or address text through the gazetteer),
join it to an open case of the same category nearby (只投诉一次), or open a new case routed to its owners
with its deadlines started."""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from gridmap import fields
from gridmap.access.rules import Principal, in_jurisdiction, jurisdiction_ids, mask_phone, require
from gridmap.errors import InvalidInput
from gridmap.incidents.address import normalise
from gridmap.incidents.assignment import assignment
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.cases import owner_as_seen
from gridmap.incidents.categories import Category, get_category
from gridmap.incidents.gazetteer import match_address
from gridmap.incidents.history import record_event
from gridmap.incidents.notices import tell
from gridmap.incidents.phones import normalise_phone
from gridmap.incidents.routing import Policy, Route, check_in_region, check_within, route_point, unrouted
from gridmap.lookup import AREA_KEYS

CHANNELS = ("wechat", "hotline_12345", "patrol", "camera", "web", "api")
MAX_PHOTO_URLS = 10
_URL = re.compile(r"^https?://[^\s<>\"']{1,1990}$")
_REPEATABLE = ("received", "dispatched", "in_progress", "replied", "escalated", "reopened")
# The request field that gave a location of each source, named when that location is refused.
_FIELD_OF_SOURCE = {"point": "lon", "building": "building", "address": "address"}


@dataclass(frozen=True)
class NewReport:
    """A citizen report as received. ``lon``/``lat`` are WGS-84 (converted at the edge)."""

    category: str
    description: str
    channel: str
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    building: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    photo_urls: tuple[str, ...] = ()
    reported_at: datetime | None = None
    external_id: str | None = None
    join_repeat: bool = True  # False: file a new case even when an open one of its kind is nearby


@dataclass
class Location:
    """Where a report is, and how that was found; an address may also give the unit and floor (which pick
    the micro-grid of a building split by unit or floor) and, when it is too weak to locate the report,
    the candidates and doubts a dispatcher sees in the needs-location queue."""

    lon: float | None
    lat: float | None
    building_id: int | None
    source: str  # point | building | address | none
    confidence: float | None = None
    candidates: list[dict] = field(default_factory=list)
    unit: int | None = None
    floor: int | None = None
    doubts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What intake did: opened ``incident_id``, or joined it as a repeat; ``replayed`` when the report had
    been taken in before (same channel and ``external_id``) and nothing was written."""

    incident_id: int
    repeat: bool
    token: str
    replayed: bool = False


def _checked(report: NewReport, now: datetime) -> NewReport:
    """``report`` checked field by field (InvalidInput naming the first bad one), its phone in one form."""
    channels = (*CHANNELS, "open311")  # open311: set by the Open311 endpoint, not chosen by callers
    if report.channel not in channels:
        raise InvalidInput(f"unknown channel {report.channel!r}; use one of {', '.join(channels)}", "channel")
    fields.checked("description", fields.text, report.description, "description", required=True, max_len=4000)
    fields.checked("address", fields.text, report.address, "address", max_len=500)
    fields.checked("reporter_name", fields.text, report.reporter_name, "reporter_name", max_len=100)
    if len(report.photo_urls) > MAX_PHOTO_URLS:
        raise InvalidInput(f"at most {MAX_PHOTO_URLS} photo URLs", "photo_urls")
    for url in report.photo_urls:
        if not _URL.fullmatch(url):
            raise InvalidInput(f"photo URL must be http(s) without spaces; got {url[:80]!r}", "photo_urls")
    if report.reported_at is not None and not now - timedelta(days=3660) <= report.reported_at <= now + timedelta(
        minutes=5
    ):
        raise InvalidInput("reported_at must not lie in the future or more than ten years back", "reported_at")
    # An address of spaces and punctuation says nothing: the one report without a usable place at all.
    if report.lon is None and report.building is None and not normalise(report.address or ""):
        raise InvalidInput("say where: lon/lat (with crs), a building code, or address text", "lon")
    if report.reporter_phone is not None:
        report = dataclasses.replace(report, reporter_phone=normalise_phone(report.reporter_phone))
    return report


def _building_point(conn: psycopg.Connection, building_id: int) -> tuple[float, float]:
    return conn.execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM building WHERE id = %s) s", (building_id,)
    ).fetchone()


def locate(conn: psycopg.Connection, report: NewReport, policy: Policy) -> Location:
    """Where the report is: its point (checked inside the region); else its building's; else the building its
    address names, with the unit and floor it gives, when the match is confident enough. Any other address,
    however weak, gives no point and waits in the needs-location queue with its candidates: never refused."""
    if report.lon is not None:
        check_in_region(conn, report.lon, report.lat, policy.region_margin_m)
        building = conn.execute(
            "SELECT id FROM building WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
            " ORDER BY code LIMIT 1",
            (report.lon, report.lat),
        ).fetchone()
        return Location(report.lon, report.lat, building[0] if building else None, "point", 1.0)
    if report.building is not None:
        row = conn.execute("SELECT id FROM building WHERE code = %s", (report.building,)).fetchone()
        if row is None:
            raise InvalidInput(f"no building with code {report.building!r}", "building")
        return Location(*_building_point(conn, row[0]), row[0], "building", 1.0)
    match = match_address(conn, report.address)
    if match.building_id is None or match.confidence < policy.address_min_confidence:
        return Location(None, None, None, "address", match.confidence, match.candidates, doubts=match.doubts)
    return Location(*_building_point(conn, match.building_id), match.building_id, "address", match.confidence,
                    match.candidates, match.unit, match.floor)  # fmt: skip


def find_repeat(
    conn: psycopg.Connection,
    category: str,
    where: Location,
    policy: Policy,
    now: datetime,
    jurisdiction: list[int] | None,
) -> tuple[int, str] | None:
    """The case a report of ``category`` at ``where`` repeats: same category, open (or closed within
    ``repeat_days``), within ``repeat_m`` metres or in the same building, inside ``jurisdiction``
    (``access.jurisdiction_ids``; None: anywhere); the nearest, then the oldest."""
    if where.lon is None and where.building_id is None:
        return None
    row = conn.execute(
        """
        SELECT i.id, i.state FROM incident i
        WHERE i.category = %(category)s
          AND (i.state = ANY(%(open)s) OR (i.state IN ('closed', 'rated') AND i.closed_at >= %(since)s))
          AND ((%(lon)s::float8 IS NOT NULL AND i.geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
                    %(deg)s / greatest(cos(radians(%(lat)s)), 0.01))
                AND ST_DWithin(i.geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, %(m)s))
               OR i.building_id = %(building)s)
          AND (%(jurisdiction)s::bigint[] IS NULL OR i.area_path && %(jurisdiction)s::bigint[])
        ORDER BY ST_Distance(i.geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)
                 NULLS LAST, i.id
        LIMIT 1
        """,
        dict(category=category, open=list(_REPEATABLE), since=now - timedelta(days=policy.repeat_days),
             lon=where.lon, lat=where.lat, deg=policy.repeat_m / 111_320.0, m=policy.repeat_m,
             building=where.building_id, jurisdiction=jurisdiction),
    ).fetchone()  # fmt: skip
    return (row[0], row[1]) if row else None


def _replay(conn: psycopg.Connection, who: Principal, report: NewReport) -> Outcome | None:
    """The outcome of an earlier report with the same channel and ``external_id`` (a channel's retry), or
    None. Its case must lie inside the caller's jurisdiction: the retry answers with the case."""
    if report.external_id is None:
        return None
    row = conn.execute(
        "SELECT i.id, i.area_path, r.token, r.is_repeat FROM incident_report r JOIN incident i ON i.id = r.incident_id"
        " WHERE r.channel = %s AND r.external_id = %s",
        (report.channel, report.external_id),
    ).fetchone()
    if row is None:
        return None
    incident_id, area_path, token, repeat = row
    if not in_jurisdiction(who, area_path):
        raise InvalidInput(f"external_id {report.external_id!r} is taken on channel {report.channel}", "external_id")
    return Outcome(incident_id, repeat, token, replayed=True)


def _insert_report(
    conn: psycopg.Connection, incident_id: int, repeat: bool, report: NewReport, where: Location, now: datetime
) -> str:
    token = secrets.token_urlsafe(12)
    conn.execute(
        "INSERT INTO incident_report (incident_id, is_repeat, channel, description, reporter_name, reporter_phone,"
        " geom, address, building_id, location_source, location_confidence, reported_at, received_at, token,"
        " external_id) VALUES (%s, %s, %s, %s, %s, %s, CASE WHEN %s::float8 IS NULL THEN NULL"
        " ELSE ST_SetSRID(ST_MakePoint(%s, %s), 4326) END, %s, %s, %s, %s, %s, %s, %s, %s)",
        (incident_id, repeat, report.channel, report.description.strip(), report.reporter_name,
         report.reporter_phone, where.lon, where.lon, where.lat, report.address, where.building_id, where.source,
         where.confidence, report.reported_at or now, now, token, report.external_id),
    )  # fmt: skip
    for url in report.photo_urls:
        conn.execute(
            "INSERT INTO incident_photo (incident_id, url, added_at) VALUES (%s, %s, %s)", (incident_id, url, now)
        )
    return token


def open_case(
    conn: psycopg.Connection,
    who: Principal,
    category: Category,
    report: NewReport,
    where: Location,
    calendar: Calendar,
    policy: Policy,
    now: datetime,
    lookups=None,
    flags: tuple[str, ...] = (),
) -> tuple[int, Route]:
    """Insert a new case (state received, dispatch deadline running) routed from ``where`` (by ``lookups``'
    index when given); InvalidInput, with nothing written, when that route lies outside ``who``'s
    jurisdiction."""
    if where.lon is not None:
        route = route_point(conn, where.lon, where.lat, policy, lookups, where.unit, where.floor)
    else:
        route = unrouted({"candidates": where.candidates, "doubts": where.doubts})
    check_within(who, route, _FIELD_OF_SOURCE.get(where.source, "lon"))
    # One INSERT with the route in it: the case is written whole, never inserted and then updated.
    incident_id = conn.execute(
        "INSERT INTO incident (category, description, channel, geom, address, building_id, location_source,"
        " location_confidence, received_at, stage, stage_started_at, due_at, deadline_at, external_id, updated_at,"
        " route, microgrid_id, grid_id, community_id, subdistrict_id, area_path, level, flags)"
        " VALUES (%s, %s, %s, CASE WHEN %s::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(%s, %s), 4326) END,"
        " %s, %s, %s, %s, %s, 'dispatch', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (category.code, report.description.strip(), report.channel, where.lon, where.lon, where.lat, report.address,
         where.building_id, where.source, where.confidence, now, now, category.due(calendar, "dispatch", now),
         category.deadline(calendar, now), report.external_id, now, Jsonb(route.snapshot),
         *(route.ids[k] for k in AREA_KEYS), route.area_path, route.level, sorted({*route.flags, *flags})),
    ).fetchone()[0]  # fmt: skip
    return incident_id, route


def _join(conn, who, incident_id: int, state: str, report: NewReport, where: Location, now, request_id) -> str:
    after_close = state in ("closed", "rated")
    conn.execute(
        "UPDATE incident SET reports = reports + 1, updated_at = %s, version = version + 1,"
        " flags = CASE WHEN %s AND NOT 'reported_after_close' = ANY(flags)"
        " THEN flags || 'reported_after_close'::text ELSE flags END WHERE id = %s",
        (now, after_close, incident_id),
    )
    token = _insert_report(conn, incident_id, True, report, where, now)
    record_event(conn, incident_id, who, "repeat", state, state, now, request_id=request_id,
                 detail={"channel": report.channel, "after_close": after_close})  # fmt: skip
    return token


def intake(
    conn: psycopg.Connection,
    who: Principal,
    report: NewReport,
    calendar: Calendar,
    policy: Policy,
    now: datetime,
    request_id: str | None = None,
    lookups=None,
) -> Outcome:
    """Take one report in, all or nothing: a repeat joins its case (the count grows, nothing is dispatched
    again) unless ``report.join_repeat`` is False; otherwise a new case opens, routed and flagged, with its
    first event. Either lies inside the caller's jurisdiction (a report that would open a case outside it
    is refused, 422, before any write). A caller who left a phone is told by SMS (outbox) that the report
    was filed or joined. With ``lookups`` (a ``LookupService``) the owner is found in its in-process index.
    A report whose channel and ``external_id`` were taken in before is not taken again: the outcome
    says ``replayed`` and names the first one's case."""
    require(who, "incident.create")
    report = _checked(report, now)
    category = get_category(conn, report.category, for_intake=True)
    with conn.transaction():
        if report.external_id is not None:
            # A retry queues behind the first send of its id, whatever its category says, and then finds it.
            # Taken before the category lock, always, so no two intakes wait for each other crosswise.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridmap.intake.external'), hashtext(%s))",
                         (f"{report.channel}:{report.external_id}",))  # fmt: skip
        # Reports of one category queue here, so two near-simultaneous reports of one problem make one case.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridmap.intake'), hashtext(%s))", (category.code,))
        replayed = _replay(conn, who, report)
        if replayed is not None:
            return replayed
        where = locate(conn, report, policy)
        # A report joins only a case the caller may write to; otherwise it opens one (checked there).
        repeat = find_repeat(conn, category.code, where, policy, now, jurisdiction_ids(who))
        if repeat is not None and report.join_repeat:
            incident_id, state = repeat
            token = _join(conn, who, incident_id, state, report, where, now, request_id)
            event = "joined"
        else:
            incident_id, route = open_case(conn, who, category, report, where, calendar, policy, now, lookups)
            token = _insert_report(conn, incident_id, False, report, where, now)
            record_event(conn, incident_id, who, "receive", None, "received", now, request_id=request_id,
                         detail={"channel": report.channel, "flags": route.flags, "level": route.level,
                                 "location": where.source, "confidence": where.confidence,
                                 "repeat_of": repeat[0] if repeat else None})  # fmt: skip
            event = "filed"
        tell(conn, incident_id, event, "citizen", [(report.reporter_name, report.reporter_phone)], calendar.tz,
             policy.sign, now)  # fmt: skip
        return Outcome(incident_id, event == "joined", token)


def preview(
    conn: psycopg.Connection, who: Principal, report: NewReport, policy: Policy, now: datetime, lookups=None
) -> dict:
    """What taking ``report`` in would do, writing nothing: where it is (building, confidence, unit, floor,
    candidates), its owners and flags, who would receive it on dispatch, and the open case it would join
    (``would``: join, open or needs_location). The same checks as ``intake``: a report intake would refuse
    is refused here alike."""
    require(who, "incident.create")
    report = _checked(report, now)
    category = get_category(conn, report.category, for_intake=True)
    where = locate(conn, report, policy)
    if where.lon is not None:
        route = route_point(conn, where.lon, where.lat, policy, lookups, where.unit, where.floor)
    else:
        route = unrouted({"candidates": where.candidates, "doubts": where.doubts})
    check_within(who, route, _FIELD_OF_SOURCE.get(where.source, "lon"))
    repeat = find_repeat(conn, category.code, where, policy, now, jurisdiction_ids(who))
    same = None
    if repeat is not None:
        row = conn.execute(
            "SELECT id, state, category, description, received_at, reports FROM incident WHERE id = %s", (repeat[0],)
        ).fetchone()
        same = dict(zip(("id", "state", "category", "description", "received_at", "reports"), row, strict=True))
    would = "join" if same and report.join_repeat else "open" if where.lon is not None else "needs_location"
    found = assignment(conn, route.snapshot, route.level)
    return {
        "location": dataclasses.asdict(where), "owner": owner_as_seen(route.snapshot, who), "level": route.level,
        "flags": sorted(route.flags), "assignment": found.public(who.can("incident.contact"), mask_phone),
        "repeat": same, "would": would,
    }  # fmt: skip
