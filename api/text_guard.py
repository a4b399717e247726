"""One dependency for every route: refuse text with control or bidirectional characters (gridmap.text)
wherever it comes in (query, path, JSON or URL-encoded form body), with a 422 naming the field, before any handler
or database sees it."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from fastapi import Request

from gridmap import text


async def refuse_unsafe_text(request: Request) -> None:
    """Raise InvalidInput for the first query parameter, path segment or body field holding a refused
    character. A clean JSON body is only scanned, never parsed a second time."""
    for name, value in request.query_params.multi_items():
        text.check_text(name, name)
        text.check_text(value, name)
    for name, value in request.path_params.items():
        if isinstance(value, str):
            text.check_text(value, name)
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        body = await request.body()  # already read and kept by FastAPI for the handler
        if body and text.may_hold_unsafe_json(body):
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                return  # not JSON at all: the handler's own parsing answers that
            text.check_tree(parsed, "")
    elif content_type.startswith("application/x-www-form-urlencoded"):
        body = await request.body()  # kept by Starlette, so the handler reads the same bytes
        for name, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
            text.check_text(name, name)
            text.check_text(value, name)
