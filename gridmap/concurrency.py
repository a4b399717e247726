"""Optimistic concurrency (as the OSM API does it): every edit names the version it was based on."""

from __future__ import annotations

from gridmap.errors import PreconditionRequired, VersionConflict


def check_version(if_match: int | None, current: int, what: str) -> None:
    """PreconditionRequired without a version; VersionConflict when ``if_match`` is not ``current``."""
    if if_match is None:
        raise PreconditionRequired(
            f'{what}: send the version your edit is based on as If-Match (e.g. If-Match: "{current}" after a GET)'
        )
    if if_match != current:
        raise VersionConflict(
            f"{what} changed since version {if_match}: it is at version {current}; reload it and redo the edit",
            if_match,
            current,
        )
