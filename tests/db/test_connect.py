"""Connections: batch work (CLI import/export/demo) runs without a statement timeout; API pool
connections carry one, so no request can hang on the database."""

from __future__ import annotations

import psycopg
import pytest

from gridmap.db.connect import connect, make_pool
from gridmap.settings import Settings


def test_batch_connections_have_no_statement_timeout(empty_db):
    with connect(empty_db) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "0"
        assert conn.execute("SHOW TimeZone").fetchone()[0] == "UTC"


def test_pool_connections_cancel_long_statements(empty_db):
    pool = make_pool(empty_db, Settings(database_url=empty_db, statement_timeout_ms=200))
    pool.open(wait=True)
    try:
        with pool.connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == "200ms"
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("SELECT pg_sleep(2)")
    finally:
        pool.close()
