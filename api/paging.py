"""Links between the pages of a list: self, next and prev, as OGC API – Features has them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlencode

# A link object from its href and rel.
MakeLink = Callable[[str, str], dict]


def page_links(
    url: str,
    query: Mapping[str, object],
    offset: int,
    limit: int,
    returned: int,
    matched: int | None,
    link: MakeLink,
    limit_first: bool = False,
) -> list[dict]:
    """The ``self`` link of the page at ``offset``, ``next`` when more than ``offset + returned`` of
    ``matched`` match, ``prev`` when the page is not the first, each made by ``link(href, rel)``. The
    hrefs are ``url`` with ``query`` and the page's ``offset`` and ``limit`` (in that order, or limit
    first; a key already in ``query`` keeps its place)."""

    def href(at: int) -> str:
        paging = {"limit": limit, "offset": at} if limit_first else {"offset": at, "limit": limit}
        return f"{url}?{urlencode(dict(query) | paging)}"

    links = [link(href(offset), "self")]
    if matched is not None and offset + returned < matched:
        links.append(link(href(offset + limit), "next"))
    if offset > 0:
        links.append(link(href(max(offset - limit, 0)), "prev"))
    return links
