"""SQL kept as package files, read once with importlib.resources.

Imports nothing of gridmap; every room may read its files."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

# A read of a table with history (migration 0010) as it stood at the statement's instant: `<table>_at(%(at)s…)`.
_AT = re.compile(r"\b(microgrid_member|party_cell_microgrid|party_cell|person)_at\(%\(at\)s::timestamptz\)")


@cache
def load(name: str) -> str:
    """Return the text of ``gridmap/sql/<name>.sql``."""
    return (files(__package__) / f"{name}.sql").read_text(encoding="utf-8")


@cache
def _current(name: str) -> str:
    return _AT.sub(r"\1", load(name))


def load_at(name: str, past: bool) -> str:
    """``load(name)`` for a statement that reads memberships, party cells and people as they stood at its
    ``%(at)s``; for now (``past`` false: at is NULL) each ``<table>_at(%(at)s::timestamptz)`` in it reads the
    current table instead, which holds the same rows as the history's open versions and only those, so now
    is planned and read as before there was history. Both texts answer the same for now."""
    return load(name) if past else _current(name)
