"""The API's URLs of what the core returns by id."""

from __future__ import annotations


def photo_href(incident_id: int, photo_id: int) -> str:
    """Where an uploaded photo of a case is served."""
    return f"/api/v1/incidents/{incident_id}/photos/{photo_id}"


def with_photo_links(doc: dict) -> dict:
    """A case (``cases.get_incident``) with each photo's ``href``: its link when uploaded, None when it is
    the reporter's ``url``. A case without photos (an acknowledgement) is returned as it is."""
    if "photos" in doc:
        doc["photos"] = [p | {"href": None if p["url"] else photo_href(doc["id"], p["id"])} for p in doc["photos"]]
    return doc
