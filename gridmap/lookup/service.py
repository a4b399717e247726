"""Lookups as a server process answers them: from its live index where it can, from SQL for the rest,
with people's phone numbers masked for callers who are not signed in (the one place that rule is applied
to lookups)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg_pool import ConnectionPool

from gridmap.access.rules import Principal
from gridmap.db.connect import pooled
from gridmap.lookup import LookupOptions, fill_from_sql, lookup_now
from gridmap.lookup.live import LiveIndex


class LookupService:
    """One process's lookups: ``live`` (None: SQL only) and ``pool`` for what the index cannot answer."""

    def __init__(self, pool: ConnectionPool, live: LiveIndex | None):
        self.pool = pool
        self.live = live

    def answer_now(self, who: Principal, points: Sequence[tuple[float, float]], options: LookupOptions) -> list | None:
        """The records for ``who`` if the index answers every point, else None (call ``answer``). Touches
        no database unless a write on this machine has just committed (then one round trip)."""
        if self.live is None:
            return None
        with self.live.reading() as index:
            records = lookup_now(index, points, options, masked=who.anonymous)
        return None if None in records else records

    def answer(self, who: Principal, points: Sequence[tuple[float, float]], options: LookupOptions) -> list:
        """The records for ``who``: the index's, and SQL's (a pooled connection) for the rest. Blocks."""
        records = self._from_index(points, options, masked=who.anonymous)
        if None in records or not points:
            with pooled(self.pool) as conn:
                fill_from_sql(conn, records, points, options, who)
        return records

    def lookup(self, conn: psycopg.Connection, points: Sequence[tuple[float, float]], options: LookupOptions) -> list:
        """``gridmap.lookup.lookup`` on ``conn`` with the index where it is current (intake, imports)."""
        return fill_from_sql(conn, self._from_index(points, options), points, options)

    def _from_index(self, points, options: LookupOptions, masked: bool = False) -> list:
        if self.live is None:
            return lookup_now(None, points, options)
        with self.live.reading() as index:
            return lookup_now(index, points, options, masked)
