"""Open311 GeoReport v2 documents (services, service requests, tokens, errors) from the project's cases
and categories, in JSON or XML (the spec asks for both). Field lists follow the spec at
wiki.open311.org/GeoReport_v2; statuses map to open/closed with status_notes.

Service requests are public: anyone may list them, but only a caller that may read a case (a role with
``incident.read`` whose jurisdiction holds it) sees it whole; everyone else gets PUBLIC_REQUEST_FIELDS.
Creating one takes the spec's form fields (POST_FIELDS) and an API key of a role that may report. Links
to uploaded photos are the API's: the caller passes ``photo_href``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import psycopg

from gridmap.access.accounts import principal_for_token
from gridmap.access.rules import ANONYMOUS, Principal, in_jurisdiction, require
from gridmap.errors import InvalidInput, NotFound
from gridmap.incidents.calendar import Calendar
from gridmap.incidents.cases import MAX_PAGE, Queue, public, stored_cases
from gridmap.incidents.categories import Category, get_category
from gridmap.incidents.intake import NewReport, intake
from gridmap.incidents.routing import Policy
from gridmap.incidents.workflow import FINAL_STATES, OPEN_STATES
from gridmap.points import check_crs, optional_point_to_wgs84, parse_at

# The link to an uploaded photo, from the case id and the photo id (the API's URL).
PhotoHref = Callable[[int, int], str]

SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
)  # fmt: skip
# The public view of a request: what a citizen-facing GeoReport v2 list shows of anyone's report. No
# description or address (the reporter's own words, often with names, phone numbers, flat numbers), no
# building code, photo, agency, deadline or internal note, and the point rounded to PUBLIC_DECIMALS.
PUBLIC_REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "requested_datetime",
    "updated_datetime", "lat", "long",
)  # fmt: skip
PUBLIC_DECIMALS = 3  # about 100 m: the street, not the doorway
# The only notes written to the citizen: a worker's reply. Every other note and reason is internal.
PUBLIC_NOTE_ACTIONS = ("reply",)
FORMATS = {"json": "application/json", "xml": "text/xml; charset=utf-8"}
_XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
# The POST parameters of the spec (attribute[…] is unused: no service defines attributes), plus crs.
POST_FIELDS = frozenset({
    "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email", "device_id",
    "account_id", "first_name", "last_name", "phone", "description", "media_url", "crs",
})  # fmt: skip
REQUESTS_SINCE = timedelta(days=90)  # a request list without start_date: the last 90 days
# The area that answers for a case, by the level answering now.
_AGENCY_LEVELS = ("microgrid", "grid", "community", "subdistrict")


def service(category: Category) -> dict:
    """A category as an Open311 service (no extra attributes: metadata false)."""
    return {"service_code": category.code, "service_name": category.name, "description": category.name_zh,
            "metadata": False, "type": "realtime", "keywords": category.name_zh, "group": ""}  # fmt: skip


def service_definition(category: Category) -> dict:
    """The definition of a service: it asks for no attributes beyond the standard fields."""
    return {"service_code": category.code, "attributes": []}


def definition_document(category: Category, fmt: str) -> tuple[bytes, str]:
    """The service definition (``service_definition``) as JSON or XML, and its media type."""
    body = service_definition(category)
    if fmt == "xml":
        top = ET.Element("service_definition")
        ET.SubElement(top, "service_code").text = body["service_code"]
        ET.SubElement(top, "attributes")
        return _XML_DECLARATION + ET.tostring(top, encoding="utf-8"), FORMATS["xml"]
    return json.dumps(body).encode(), FORMATS["json"]


def _agency(doc: dict) -> str | None:
    """The area answering now; a micro-grid's case is answered by its grid's workstation."""
    owner = doc.get("owner") or {}
    level = "grid" if doc.get("level") in (None, "microgrid") else doc["level"]
    for key in _AGENCY_LEVELS[_AGENCY_LEVELS.index(level) :]:
        area = owner.get(key)
        if area:
            return f"{area['name']} ({area['code']})"
    return None


def service_request(doc: dict, status_notes: str | None, media: str | None) -> dict:
    """A case (as ``cases.public`` shows it, coordinates in WGS-84) as an Open311 service request."""
    location = doc["location"]
    return {
        "service_request_id": str(doc["id"]),
        "status": "closed" if doc["state"] in FINAL_STATES else "open",
        "status_notes": status_notes,
        "service_name": doc["category_name"],
        "service_code": doc["category"],
        "description": doc["description"],
        "agency_responsible": _agency(doc),
        "service_notice": "",
        "requested_datetime": doc["received_at"],
        "updated_datetime": doc["updated_at"],
        "expected_datetime": doc["deadline_at"],
        "address": location["address"],
        "address_id": location["building"],
        "zipcode": None,
        "lat": location["lat"],
        "long": location["lon"],
        "media_url": media,
    }


def public_request(request: dict, public_note: str | None) -> dict:
    """The public view of a ``service_request``: PUBLIC_REQUEST_FIELDS only, ``status_notes`` the latest
    public reply (``public_note``), the point rounded to PUBLIC_DECIMALS."""
    view = {k: request[k] for k in PUBLIC_REQUEST_FIELDS} | {"status_notes": public_note}
    for k in ("lat", "long"):
        if view[k] is not None:
            view[k] = round(view[k], PUBLIC_DECIMALS)
    return view


def _latest_notes(conn: psycopg.Connection, ids: list[int], actions: tuple[str, ...] | None) -> dict[int, str]:
    """Per case: the latest note (or reason) of its history, of ``actions`` only when given."""
    if not ids:
        return {}
    return dict(conn.execute(
        "SELECT DISTINCT ON (incident_id) incident_id, coalesce(note, detail->>'reason') FROM incident_event"
        " WHERE incident_id = ANY(%(ids)s) AND (note IS NOT NULL OR detail ? 'reason')"
        " AND (%(actions)s::text[] IS NULL OR action = ANY(%(actions)s))"
        " ORDER BY incident_id, at DESC, id DESC",
        {"ids": ids, "actions": list(actions) if actions else None},
    ).fetchall())  # fmt: skip


def _first_media(conn: psycopg.Connection, ids: list[int], photo_href: PhotoHref) -> dict[int, str]:
    """Per case: its first photo (the reporter's link, or ``photo_href`` of an upload)."""
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT DISTINCT ON (incident_id) incident_id, id, url FROM incident_photo"
        " WHERE incident_id = ANY(%s) ORDER BY incident_id, id",
        (ids,),
    ).fetchall()
    return {incident_id: url or photo_href(incident_id, photo_id) for incident_id, photo_id, url in rows}


def service_requests(
    conn: psycopg.Connection, who: Principal, queue: Queue, now: datetime, limit: int, offset: int,
    photo_href: PhotoHref,
) -> list[dict]:  # fmt: skip
    """A page of the cases matching ``queue`` (every case: the Open311 list is public) as service requests,
    coordinates in WGS-84: whole (``service_request``, with the latest note of any kind and the first
    photo) for a caller that may read the case, else its ``public_request``."""
    cases, _ = stored_cases(conn, queue, None, now, limit, offset)
    whole = {c["id"] for c in cases if who.can("incident.read") and in_jurisdiction(who, c["area_path"])}
    notes = _latest_notes(conn, sorted(whole), None)
    media = _first_media(conn, sorted(whole), photo_href)
    public_notes = _latest_notes(conn, [c["id"] for c in cases if c["id"] not in whole], PUBLIC_NOTE_ACTIONS)
    requests = []
    for case in cases:
        request = service_request(public(case, who, "wgs84", now), notes.get(case["id"]), media.get(case["id"]))
        requests.append(request if case["id"] in whole else public_request(request, public_notes.get(case["id"])))
    return requests


@dataclass(frozen=True)
class RequestSearch:
    """The filters of a request list, as given (text): ``ids`` (comma-separated) picks those requests and
    ignores the other filters, as the spec says; else requests received from ``start_date`` (default 90
    days before ``end_date``) to ``end_date`` (default now), of ``status`` open or closed and of one
    ``service_code``, ``page_size`` per ``page``."""

    ids: str | None = None
    service_code: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    status: str | None = None
    page: int = 1
    page_size: int = 100


def find_requests(
    conn: psycopg.Connection, who: Principal, search: RequestSearch, now: datetime, timezone: str,
    photo_href: PhotoHref,
) -> list[dict]:  # fmt: skip
    """The service requests ``search`` asks for, open ones first, then by deadline (``service_requests``:
    each whole or its public view); dates without an offset are read in ``timezone``."""
    if search.ids:
        ids = {p.strip() for p in search.ids.split(",") if p.strip()}
        if not all(i.isdigit() and len(i) < 19 for i in ids):
            raise InvalidInput("service_request_id must be comma-separated numbers", "service_request_id")
        if len(ids) > MAX_PAGE:
            raise InvalidInput(f"at most {MAX_PAGE} service_request_id values at once", "service_request_id")
        q = Queue(ids=tuple(sorted(int(i) for i in ids)))
        return service_requests(conn, who, q, now, len(ids), 0, photo_href) if ids else []
    until = parse_at(search.end_date, timezone, "end_date") or now
    since = parse_at(search.start_date, timezone, "start_date") or until - REQUESTS_SINCE
    states = {"open": tuple(sorted(OPEN_STATES)), "closed": tuple(sorted(FINAL_STATES))}.get(search.status or "", ())
    if search.service_code:
        get_category(conn, search.service_code)
    q = Queue(state=states, category=search.service_code, since=since, until=until)
    offset = (search.page - 1) * search.page_size
    return service_requests(conn, who, q, now, search.page_size, offset, photo_href)


def one_request(
    conn: psycopg.Connection, who: Principal, request_id: int, now: datetime, photo_href: PhotoHref
) -> list[dict]:
    """A list of one request, as the spec shows: its public view unless ``who`` may read the case."""
    items = service_requests(conn, who, Queue(ids=(request_id,)), now, 1, 0, photo_href)
    if not items:
        raise NotFound(f"request {request_id} does not exist")
    return items


def token_request(conn: psycopg.Connection, token: str) -> dict:
    """The request a POST's token became (requests are routed at once, so the id is known immediately)."""
    row = conn.execute("SELECT incident_id FROM incident_report WHERE token = %s", (token,)).fetchone()
    if row is None:
        raise NotFound(f"no request has token {token!r}")
    return {"service_request_id": str(row[0]), "token": token}


def new_report(form: Mapping[str, str]) -> NewReport:
    """The report a POST's form fields describe (``lat``/``long`` in the form's ``crs``, default WGS-84)."""
    if not form.get("service_code"):
        raise InvalidInput("service_code is required", "service_code")
    crs = check_crs(form.get("crs"))
    lon, lat = optional_point_to_wgs84(form.get("long") or None, form.get("lat") or None, crs)
    name = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p) or None
    return NewReport(
        category=form["service_code"], description=form.get("description") or "", channel="open311",
        lon=lon, lat=lat, address=form.get("address_string") or None,
        building=form.get("address_id") or None, reporter_name=name, reporter_phone=form.get("phone") or None,
        photo_urls=(form["media_url"],) if form.get("media_url") else (),
    )  # fmt: skip


def create_request(
    conn: psycopg.Connection, who: Principal, form: Mapping[str, str], secret_key: str, calendar: Calendar,
    policy: Policy, now: datetime, request_id: str | None = None, lookups=None,
) -> dict:  # fmt: skip
    """Take in the request a POST's form fields describe and return its entry of the answer (id, token,
    notice). An anonymous caller is the one behind the form's ``api_key``, as the spec says; the caller
    needs a role that may report."""
    if who is ANONYMOUS and form.get("api_key"):
        who = principal_for_token(conn, secret_key, form["api_key"])
    require(who, "incident.create")
    outcome = intake(conn, who, new_report(form), calendar, policy, now, request_id, lookups)
    notice = "joined an open request for the same problem nearby" if outcome.repeat else ""
    return {"service_request_id": str(outcome.incident_id), "token": outcome.token, "service_notice": notice,
            "account_id": None}  # fmt: skip


def _xml_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(items: list[dict], root: str, item: str, fmt: str) -> tuple[bytes, str]:
    """A list document as JSON (a bare array, as the spec shows) or XML (``<root><item>…``)."""
    if fmt == "xml":
        top = ET.Element(root)
        for entry in items:
            node = ET.SubElement(top, item)
            for key, value in entry.items():
                if isinstance(value, list):
                    continue  # service definitions' attributes: none here
                ET.SubElement(node, key).text = _xml_value(value)
        return _XML_DECLARATION + ET.tostring(top, encoding="utf-8"), FORMATS["xml"]
    return json.dumps(items, ensure_ascii=False, default=str).encode(), FORMATS["json"]


def error_document(status: int, message: str, fmt: str) -> tuple[bytes, str]:
    """An Open311 error list: ``[{"code": 404, "description": "…"}]`` or ``<errors><error>…``."""
    return render([{"code": status, "description": message}], "errors", "error", fmt)
