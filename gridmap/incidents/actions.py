"""Moving cases through the workflow: each action checked against the state machine, the caller's role
and jurisdiction (and ``If-Match`` when sent), applied in one transaction with its event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql as pgsql

from gridmap import fields
from gridmap.access.rules import Principal, require
from gridmap.concurrency import check_version
from gridmap.errors import InvalidInput, StateConflict
from gridmap.incidents.address import Reading, read_address
from gridmap.incidents.assignment import assignment, receiver
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.cases import visible_case
from gridmap.incidents.categories import get_category
from gridmap.incidents.history import record_event
from gridmap.incidents.intake import Location, NewReport, locate, open_case
from gridmap.incidents.notices import people_of, tell
from gridmap.incidents.routing import Policy, check_within, route_point, save_route
from gridmap.incidents.workflow import STAGE_OF_STATE, next_level, transition


@dataclass(frozen=True)
class ActionInput:
    """An action and what it carries. ``lon``/``lat`` (WGS-84) or ``building`` give a reroute a new location;
    ``person`` (a person id the assignment rule offers) or ``assignee`` (a receiver typed by hand) say who a
    dispatch or reassign goes to."""

    action: str
    note: str | None = None
    assignee: str | None = None
    satisfaction: int | None = None
    reason: str | None = None
    report: int | None = None
    lon: float | None = None
    lat: float | None = None
    building: str | None = None
    person: int | None = None


def _check_input(given: ActionInput) -> None:
    for name in transition(given.action).needs:
        if getattr(given, name) in (None, ""):
            raise InvalidInput(f"{given.action} needs {name}", name)
    fields.checked("note", fields.text, given.note, "note", max_len=2000)
    fields.checked("reason", fields.text, given.reason, "reason", max_len=2000)
    fields.checked("assignee", fields.text, given.assignee, "assignee", max_len=200)
    if given.action == "reassign" and given.person is None and not given.assignee:
        raise InvalidInput("reassign needs person (an id) or assignee (a name)", "person")
    if given.satisfaction is not None and not 1 <= given.satisfaction <= 5:
        raise InvalidInput("satisfaction is 1 (very unsatisfied) … 5 (very satisfied)", "satisfaction")


def _update(conn: psycopg.Connection, incident_id: int, values: dict) -> None:
    assignments = pgsql.SQL(", ").join(
        pgsql.SQL("{} = {}").format(pgsql.Identifier(k), pgsql.Placeholder(k)) for k in values
    )
    conn.execute(
        pgsql.SQL("UPDATE incident SET {}, version = version + 1 WHERE id = {}").format(
            assignments, pgsql.Placeholder("id")
        ),
        values | {"id": incident_id},
    )


def _reroute(conn: psycopg.Connection, who: Principal, incident_id: int, row: dict, given: ActionInput,
             policy: Policy) -> dict:  # fmt: skip
    """Route the case again, from the new location when one is given; the new route is checked against
    the caller's jurisdiction before the case is touched. Returns the area versions before and after."""
    where = None
    if given.lon is not None or given.building is not None:
        probe = NewReport(category="", description="-", channel="api", lon=given.lon, lat=given.lat,
                          building=given.building)  # fmt: skip
        where = locate(conn, probe, policy)
    elif row["lon"] is None:
        raise InvalidInput("this case has no location yet: send lon/lat or a building to route it", "lon")
    lon, lat = (where.lon, where.lat) if where else (row["lon"], row["lat"])
    route = route_point(conn, lon, lat, policy)
    check_within(who, route, "building" if given.building is not None and given.lon is None else "lon")
    if where is not None:
        conn.execute(
            "UPDATE incident SET geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326), building_id = %s,"
            " location_source = %s, location_confidence = %s WHERE id = %s",
            (where.lon, where.lat, where.building_id, where.source, where.confidence, incident_id),
        )
    save_route(conn, incident_id, route)
    return dict(before={k: (row["route"].get(k) or {}).get("version") for k in route.ids},
                after={k: (route.snapshot.get(k) or {}).get("version") for k in route.ids},
                flags=route.flags, level=route.level)  # fmt: skip


def _split(conn, who, incident_id: int, row: dict, given: ActionInput, calendar, policy, now, request_id) -> dict:
    report = conn.execute(
        "SELECT is_repeat, channel, description, ST_X(geom), ST_Y(geom), address, building_id, location_source,"
        " location_confidence FROM incident_report WHERE id = %s AND incident_id = %s",
        (given.report, incident_id),
    ).fetchone()
    if report is None or not report[0]:
        raise InvalidInput(f"report {given.report} is not a repeat joined to incident {incident_id}", "report")
    _, channel, description, lon, lat, address, building_id, source, confidence = report
    category = get_category(conn, row["category"])
    new_report = NewReport(category.code, description, channel, address=address)
    # A report located by its address routes again with the unit and floor the address gives, as it did.
    said = read_address(address) if source == "address" and address else Reading("", None)
    where = Location(lon, lat, building_id, source, confidence, unit=said.unit, floor=said.floor)
    new_id, route = open_case(conn, who, category, new_report, where, calendar, policy, now)
    conn.execute("UPDATE incident_report SET incident_id = %s, is_repeat = false WHERE id = %s", (new_id, given.report))
    conn.execute("UPDATE incident SET reports = reports - 1 WHERE id = %s", (incident_id,))
    record_event(conn, new_id, who, "receive", None, "received", now, given.note, request_id=request_id,
                 detail={"split_from": incident_id, "report": given.report, "flags": route.flags})  # fmt: skip
    return {"new_incident": new_id}


def act(
    conn: psycopg.Connection,
    who: Principal,
    incident_id: int,
    given: ActionInput,
    if_match: int | None,
    calendar: Calendar,
    policy: Policy,
    now: datetime,
    request_id: str | None = None,
) -> dict:
    """Apply one action to a case and return what it changed (``from_state``, ``to_state``, and
    ``new_incident`` for a split). A dispatch goes to whom the level's assignment rule offers (or a
    receiver typed by hand; with neither, 409 with the rule's reason) and texts that person the work
    order; an escalation texts the next level's people. 403 for the wrong role, 404 outside the
    jurisdiction, 409 when the state does not allow it (or ``If-Match`` is stale), 422 when a required
    field is missing or a reroute or split would put a case outside the jurisdiction; every check comes
    before the first write."""
    rule = transition(given.action)
    require(who, rule.permission)
    _check_input(given)
    with conn.transaction():
        row = visible_case(conn, who, incident_id, lock=True)
        if if_match is not None:
            check_version(if_match, row["version"], f"incident {incident_id}")
        state = row["state"]
        if state not in rule.sources:
            allowed = ", ".join(sorted(rule.sources))
            raise StateConflict(
                f"cannot {given.action} incident {incident_id} while it is {state}; only from {allowed}"
            )
        target = rule.target or state
        values: dict = {"state": target, "updated_at": now}
        detail: dict = {}
        told: tuple[str, list] | None = None  # (event, recipients) of the message this action sends
        if given.action in ("dispatch", "reassign"):
            found = assignment(conn, row["route"], row["level"])
            values["assignee"], person = receiver(found, given.person, given.assignee)
            values["assignee_person_id"] = person["person_id"] if person else None
            detail.update(assignee=values["assignee"], person=values["assignee_person_id"])
            told = ("dispatched", [(person["name"], person["phone"])] if person else [])
        elif given.action == "accept" and given.assignee:
            values["assignee"] = given.assignee
        elif given.action in ("verify", "close"):
            values["closed_at"] = now
        elif given.action == "rate":
            values["satisfaction"] = given.satisfaction
            detail["satisfaction"] = given.satisfaction
        elif given.action == "escalate":
            higher = next_level(row["level"])
            if higher is None:
                where = row["level"] or "no level (it waits for a location)"
                raise StateConflict(f"incident {incident_id} cannot climb higher: it is at {where}")
            values.update(level=higher, assignee=None, assignee_person_id=None)
            detail.update(from_level=row["level"], to_level=higher)
            told = ("escalated", people_of(assignment(conn, row["route"], higher)))
        elif given.action == "reopen":
            values.update(closed_at=None, satisfaction=None)
        elif given.action == "reject":
            values["reason"] = given.reason
        elif given.action == "reroute":
            detail.update(_reroute(conn, who, incident_id, row, given, policy))
        elif given.action == "split":
            detail.update(_split(conn, who, incident_id, row, given, calendar, policy, now, request_id))
        if given.reason:
            detail["reason"] = given.reason
        stage = STAGE_OF_STATE.get(target)
        if rule.target is not None:
            values["stage"] = stage
            values["stage_started_at"] = now
            values["due_at"] = get_category(conn, row["category"]).due(calendar, stage, now)
        _update(conn, incident_id, values)
        record_event(conn, incident_id, who, given.action, state, target, now, given.note, detail, request_id)
        if told is not None:
            audience = "assignee" if told[0] == "dispatched" else "next_level"
            tell(conn, incident_id, told[0], audience, told[1], calendar.tz, policy.sign, now)
    return {"incident": incident_id, "action": given.action, "from_state": state, "to_state": target} | detail
