"""Open311 GeoReport v2 documents (services, service requests, tokens, errors) from the project's cases
and categories, in JSON or XML (the spec asks for both). Field lists follow the spec at
wiki.open311.org/GeoReport_v2; statuses map to open/closed with status_notes."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from gridmap.incidents.categories import Category
from gridmap.incidents.workflow import FINAL_STATES

SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
)  # fmt: skip
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
