"""Several servers never escalate one case twice: the escalation run (``escalate_overdue``, which claims its
cases with ``FOR UPDATE SKIP LOCKED``) started at the same moment from several connections, and from several
``gridmap escalate`` processes, over the same overdue cases: each case climbs exactly one level per run,
counted in its history (incident_event rows of the escalation kind)."""

from __future__ import annotations

import dataclasses
import subprocess
import threading
from collections import Counter
from datetime import timedelta

import psycopg
import pytest

from gridmap.access.rules import Principal
from gridmap.incidents import escalation
from gridmap.incidents.escalation import escalate_overdue
from gridmap.incidents.intake import NewReport, intake
from tests.support.helpers import GRIDMAP_COMMAND, cli_env
from tests.support.incident_setup import CALENDAR, POLICY, WEDNESDAY_10, spots

DISPATCHER = Principal("disp", "user", "dispatcher")
NO_REPEATS = dataclasses.replace(POLICY, repeat_m=0.0)  # every report opens its own case
CASES = 48
WORKERS = 4
CLAIM = "FOR UPDATE SKIP LOCKED"


@pytest.fixture
def overdue(demo_db) -> tuple[str, list[int]]:
    """A fresh demo city with CASES new cases, one per micro-grid, all received at the same moment."""
    with psycopg.connect(demo_db, autocommit=True) as conn:
        ids = [
            intake(conn, DISPATCHER, NewReport("road", "路面塌陷", "patrol", lon, lat), CALENDAR, NO_REPEATS,
                   WEDNESDAY_10).incident_id
            for lon, lat, _ in spots(conn, CASES)
        ]  # fmt: skip
    assert len(set(ids)) == CASES
    return demo_db, ids


class _HeldClaim:
    """A connection for one worker whose first claim of cases, once executed (its rows locked), waits until
    every worker has made its own claim: so each claim runs while the others hold theirs, the worst
    interleaving, every time. ``rewrite`` changes the claim's SQL (the control below drops the lock)."""

    def __init__(self, conn: psycopg.Connection, barrier: threading.Barrier, rewrite=None):
        self._conn, self._barrier, self._rewrite = conn, barrier, rewrite
        self.claims = 0

    def execute(self, query, *args, **kwargs):
        is_claim = isinstance(query, str) and CLAIM in query
        if is_claim and self._rewrite:
            query = self._rewrite(query)
        cursor = self._conn.execute(query, *args, **kwargs)
        if is_claim:
            self.claims += 1
            if self.claims == 1:
                self._barrier.wait(timeout=30)
        return cursor

    def __getattr__(self, name):
        return getattr(self._conn, name)


def _run_round(url: str, now, rewrite=None) -> tuple[list[list[dict]], list[BaseException], list[int]]:
    """Run ``escalate_overdue`` at ``now`` from WORKERS threads, each on its own connection; return what each
    reported, the exceptions the threads raised (asserted by the caller, not in the threads) and how many
    claims each made."""
    barrier = threading.Barrier(WORKERS)
    done: list[list[dict]] = []
    errors: list[BaseException] = []
    claims: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                held = _HeldClaim(conn, barrier, rewrite)
                try:
                    result = escalate_overdue(held, CALENDAR, now)
                finally:
                    with lock:
                        claims.append(held.claims)
            with lock:
                done.append(result)
        except BaseException as exc:  # handed to the main thread
            barrier.abort()
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "an escalation worker hung"
    return done, errors, claims


def _events_at(url: str, ids: list[int], now) -> Counter:
    """Escalation events (escalate or overdue) per case written by the run at ``now``."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT incident_id FROM incident_event WHERE incident_id = ANY(%s) AND at = %s"
            " AND action IN ('escalate', 'overdue')",
            (ids, now),
        ).fetchall()
    return Counter(incident_id for (incident_id,) in rows)


def _next_now(url: str, ids: list[int]):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT max(due_at) FROM incident WHERE id = ANY(%s)", (ids,)).fetchone()[0] + timedelta(
            minutes=1
        )


def test_concurrent_runs_escalate_each_case_exactly_once_per_level(overdue, monkeypatch):
    url, ids = overdue
    # Small batches: each worker's first claim takes a different slice, so the work really is shared.
    monkeypatch.setattr(escalation, "BATCH", CASES // (2 * WORKERS))
    for level in ("grid", "community", "subdistrict", "overdue"):
        now = _next_now(url, ids)
        done, errors, claims = _run_round(url, now)
        # Without SKIP LOCKED a claim would wait for the held ones and the barrier would break.
        assert not errors, errors
        assert claims and min(claims) >= 1 and len(claims) == WORKERS, claims  # every worker really claimed
        reported = Counter(d["incident"] for result in done for d in result if d["incident"] in set(ids))
        assert sorted(reported) == sorted(ids) and set(reported.values()) == {1}, (level, reported)
        assert sum(1 for result in done if result) >= 2, (level, [len(r) for r in done])  # shared out
        events = _events_at(url, ids, now)
        assert sorted(events) == sorted(ids) and set(events.values()) == {1}, (level, events)
        with psycopg.connect(url) as conn:
            states = set(conn.execute(
                "SELECT level, state, 'overdue' = ANY(flags) FROM incident WHERE id = ANY(%s)", (ids,)
            ).fetchall())  # fmt: skip
        want = ("subdistrict", "escalated", True) if level == "overdue" else (level, "escalated", False)
        assert states == {want}, (level, states)
    with psycopg.connect(url) as conn:
        history = Counter(
            conn.execute(
                "SELECT incident_id, action FROM incident_event WHERE incident_id = ANY(%s)"
                " AND action IN ('escalate', 'overdue')",
                (ids,),
            ).fetchall()
        )
    assert history == Counter({(i, "escalate"): 3 for i in ids} | {(i, "overdue"): 1 for i in ids})


def test_the_check_catches_a_naive_select_then_update(overdue):
    """The same run with its claim's lock removed (select, then update) escalates cases twice, and the
    count above sees it: so that test can fail."""
    url, ids = overdue
    now = _next_now(url, ids)
    _, _, claims = _run_round(url, now, rewrite=lambda q: q.replace(CLAIM, ""))
    assert claims and min(claims) >= 1, claims
    events = _events_at(url, ids, now)
    assert max(events.values()) > 1, events


def test_several_escalate_processes_escalate_each_case_once(overdue):
    url, ids = overdue
    with psycopg.connect(url, autocommit=True) as conn:
        first_event = conn.execute("SELECT coalesce(max(id), 0) FROM incident_event").fetchone()[0]
        conn.execute("UPDATE incident SET due_at = now() - interval '1 hour' WHERE id = ANY(%s)", (ids,))
    env = cli_env(GRIDMAP_DATABASE_URL=url)
    processes = [
        subprocess.Popen([GRIDMAP_COMMAND, "escalate", "--json"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0] * WORKERS, [err for _, err in outputs]
    with psycopg.connect(url) as conn:
        events = Counter(
            incident_id
            for (incident_id,) in conn.execute(
                "SELECT incident_id FROM incident_event WHERE id > %s AND action IN ('escalate', 'overdue')",
                (first_event,),
            ).fetchall()
        )
        levels = {lvl for (lvl,) in conn.execute("SELECT level FROM incident WHERE id = ANY(%s)", (ids,))}
    assert set(ids) <= set(events), sorted(set(ids) - set(events))
    assert set(events.values()) == {1}, {i: n for i, n in events.items() if n > 1}  # no case twice, ours or not
    assert levels == {"grid"}
