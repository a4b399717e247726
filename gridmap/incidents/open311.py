"""Open311 GeoReport v2 documents (services, service requests, tokens, errors) from the project's cases
and categories, in JSON or XML (the spec asks for both). Field lists follow the spec at
wiki.open311.org/GeoReport_v2; statuses map to open/closed with status_notes.

Service requests are public: anyone may list them, but only a caller that may read a case (a role with
``incident.read`` whose jurisdiction holds it) sees it whole; everyone else gets PUBLIC_REQUEST_FIELDS."""

from __future__ import annotations

import json
from datetime import datetime
from xml.etree import ElementTree as ET

import psycopg

from gridmap.access.rules import Principal, in_jurisdiction
from gridmap.incidents.cases import Queue, public, stored_cases
from gridmap.incidents.categories import Category
from gridmap.incidents.workflow import FINAL_STATES

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
# The area that answers for a case, by the level answering now.
_AGENCY_LEVELS = ("microgrid", "grid", "community", "subdistrict")


def service(category: Category) -> dict:
    """A category as an Open311 service (no extra attributes: metadata false)."""
    return {"service_code": category.code, "service_name": category.name, "description": category.name_zh,
            "metadata": False, "type": "realtime", "keywords": category.name_zh, "group": ""}  # fmt: skip


def service_definition(category: Category) -> dict:
    """The definition of a service: it asks for no attributes beyond the standard fields."""
    return {"service_code": category.code, "attributes": []}


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


def _first_media(conn: psycopg.Connection, ids: list[int]) -> dict[int, str]:
    """Per case: its first photo (the reporter's link or the upload's path)."""
    if not ids:
        return {}
    return dict(conn.execute(
        "SELECT DISTINCT ON (incident_id) incident_id,"
        " coalesce(url, '/api/v1/incidents/' || incident_id || '/photos/' || id) FROM incident_photo"
        " WHERE incident_id = ANY(%s) ORDER BY incident_id, id",
        (ids,),
    ).fetchall())  # fmt: skip


def service_requests(
    conn: psycopg.Connection, who: Principal, queue: Queue, now: datetime, limit: int, offset: int
) -> list[dict]:
    """A page of the cases matching ``queue`` (every case: the Open311 list is public) as service requests,
    coordinates in WGS-84: whole (``service_request``, with the latest note of any kind and the first
    photo) for a caller that may read the case, else its ``public_request``."""
    cases, _ = stored_cases(conn, queue, None, now, limit, offset)
    whole = {c["id"] for c in cases if who.can("incident.read") and in_jurisdiction(who, c["area_path"])}
    notes = _latest_notes(conn, sorted(whole), None)
    media = _first_media(conn, sorted(whole))
    public_notes = _latest_notes(conn, [c["id"] for c in cases if c["id"] not in whole], PUBLIC_NOTE_ACTIONS)
    requests = []
    for case in cases:
        request = service_request(public(case, who, "wgs84", now), notes.get(case["id"]), media.get(case["id"]))
        requests.append(request if case["id"] in whole else public_request(request, public_notes.get(case["id"])))
    return requests


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
        return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8"), FORMATS["xml"]
    return json.dumps(items, ensure_ascii=False, default=str).encode(), FORMATS["json"]


def error_document(status: int, message: str, fmt: str) -> tuple[bytes, str]:
    """An Open311 error list: ``[{"code": 404, "description": "…"}]`` or ``<errors><error>…``."""
    return render([{"code": status, "description": message}], "errors", "error", fmt)
