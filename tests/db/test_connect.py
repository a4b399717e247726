"""Connections: batch work (CLI import/export/demo) runs without a statement timeout; API pool
connections carry one, so no request can hang on the database. Every connection given out commits
synchronously, and each new pooled one checks it again."""

from __future__ import annotations

import psycopg
import pytest

from gridmap.db.connect import connect, make_pool, pooled
from gridmap.errors import DatabaseUnavailable
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


# Durability: the code sets no synchronous_commit of its own; it refuses a server, database or role with
# synchronous_commit (or fsync) off, checked on every connection the pool opens (``check_durability``).


def _pool(url: str, **settings):
    pool = make_pool(url, Settings(database_url=url, **settings))
    pool.open(wait=True)
    return pool


def _durability(conn) -> tuple[str, str]:
    return conn.execute("SELECT current_setting('synchronous_commit'), current_setting('fsync')").fetchone()


def test_every_connection_given_out_commits_synchronously(empty_db):
    pool = _pool(empty_db, pool_min_size=1, pool_max_size=3)
    try:
        with pooled(pool) as a, pooled(pool) as b, pooled(pool) as c:
            assert len({a.info.backend_pid, b.info.backend_pid, c.info.backend_pid}) == 3
            assert [_durability(x) for x in (a, b, c)] == [("on", "on")] * 3
    finally:
        pool.close()
    with connect(empty_db) as batch:
        assert _durability(batch) == ("on", "on")


def test_each_new_pooled_connection_checks_synchronous_commit_again(empty_db):
    pool = _pool(empty_db, pool_min_size=1, pool_max_size=2, pool_timeout_s=1)
    try:
        with pooled(pool) as held:
            with psycopg.connect(empty_db, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{admin.info.dbname}" SET synchronous_commit = off')  # noqa: S608
            with psycopg.connect(empty_db) as fresh:  # the change reaches every new session…
                assert _durability(fresh)[0] == "off"
            assert _durability(held) == ("on", "on")  # …but not one already open, which stays safe to lend
            with pytest.raises(DatabaseUnavailable):  # a new pooled connection would commit asynchronously
                with pooled(pool):
                    pass
        with pooled(pool) as again:  # the checked connection is lent again, and it is still synchronous
            assert again.info.backend_pid == held.info.backend_pid and _durability(again) == ("on", "on")
        with psycopg.connect(empty_db, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{admin.info.dbname}" RESET synchronous_commit')  # noqa: S608
    finally:
        pool.close()
    # Once it is safe again new connections are given out (a fresh pool: the old one backs off its retries).
    pool = _pool(empty_db, pool_min_size=1, pool_max_size=2, pool_timeout_s=10)
    try:
        with pooled(pool) as a, pooled(pool) as b:
            assert a.info.backend_pid != b.info.backend_pid
            assert [_durability(a), _durability(b)] == [("on", "on")] * 2
    finally:
        pool.close()


def test_a_per_transaction_setting_does_not_reach_the_next_borrower(empty_db):
    pool = _pool(empty_db, pool_min_size=1, pool_max_size=1)
    try:
        with pooled(pool) as conn:
            pid = conn.info.backend_pid
            with conn.transaction():
                conn.execute("SET LOCAL synchronous_commit = off")
                assert _durability(conn)[0] == "off"
            assert _durability(conn)[0] == "on"
        with pooled(pool) as conn:
            assert conn.info.backend_pid == pid and _durability(conn)[0] == "on"
    finally:
        pool.close()
