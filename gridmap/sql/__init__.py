"""SQL kept as package files, read once with importlib.resources.

Imports nothing of gridmap; every room may read its files."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def load(name: str) -> str:
    """Return the text of ``gridmap/sql/<name>.sql``."""
    return (files(__package__) / f"{name}.sql").read_text(encoding="utf-8")
