"""Advisory locks shared by the write paths, so that the lock names live in one place."""

from __future__ import annotations

import psycopg

_IMPORT = "SELECT {}(hashtext('gridmap:import'))"


def lock_for_import(conn: psycopg.Connection) -> None:
    """One import at a time, and no API write meanwhile: its checks read what is stored and must stay true."""
    conn.execute(_IMPORT.format("pg_advisory_xact_lock"))


def lock_for_edit(conn: psycopg.Connection) -> None:
    """API writes run side by side but never while an import runs (the import holds the lock exclusively)."""
    conn.execute(_IMPORT.format("pg_advisory_xact_lock_shared"))


def lock_children(conn: psycopg.Connection, parent_id: int | None, level: str) -> None:
    """One writer per parent and level: overlap checks and code numbering read the siblings."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"gridmap:children:{level}:{parent_id}",))
