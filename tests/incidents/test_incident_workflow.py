"""The state machine: every action from every state (allowed ones succeed with the right target state,
the others are refused with 409 and change nothing), the roles that may act, and what each action keeps."""

from __future__ import annotations

import dataclasses
import itertools

import psycopg
import pytest

from gridmap.access.rules import Principal
from gridmap.errors import Forbidden, InvalidInput, StateConflict
from gridmap.incidents.actions import ActionInput, act
from gridmap.incidents.intake import NewReport, intake
from gridmap.incidents.workflow import ACTIONS, STATES
from tests.support.incident_setup import CALENDAR, POLICY, WEDNESDAY_10, spots

ADMIN = Principal("boss", "user", "admin")
DISPATCHER = Principal("disp", "user", "dispatcher")
WORKER = Principal("worker", "user", "worker")
INTAKE = Principal("wechat", "key", "intake")
VIEWER = Principal("viewer", "user", "viewer")

# How to bring a fresh case into each state.
PATHS = {
    "received": [],
    "dispatched": ["dispatch"],
    "in_progress": ["dispatch", "accept"],
    "replied": ["dispatch", "accept", "reply"],
    "closed": ["dispatch", "accept", "reply", "verify"],
    "rated": ["dispatch", "accept", "reply", "verify", "rate"],
    "escalated": ["escalate"],
    "rejected": ["reject"],
    "reopened": ["dispatch", "accept", "reply", "reopen"],
}
FIELDS = dict(note="done", assignee="王芳", satisfaction=4, reason="not a public matter")
# Each case here lies in its own micro-grid, but two of them may be closer than the repeat distance.
NO_REPEATS = dataclasses.replace(POLICY, repeat_m=0.0)
MATRIX = [(s, a) for s, a in itertools.product(STATES, ACTIONS) if a != "split"]


@pytest.fixture(scope="module")
def conn(demo_db_module):
    with psycopg.connect(demo_db_module, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def points(conn):
    return iter(spots(conn, len(MATRIX) + 40))


def new_case(conn, points, category="road") -> int:
    lon, lat, _ = next(points)
    report = NewReport(category, "路面塌陷", "patrol", lon, lat, reporter_name="张三", reporter_phone="13812345678")
    return intake(conn, DISPATCHER, report, CALENDAR, NO_REPEATS, WEDNESDAY_10).incident_id


def do(conn, who, incident_id, action, **extra):
    given = ActionInput(action, **({k: v for k, v in FIELDS.items()} | extra))
    return act(conn, who, incident_id, given, None, CALENDAR, POLICY, WEDNESDAY_10)


def state_of(conn, incident_id) -> tuple:
    return conn.execute("SELECT state, version, level FROM incident WHERE id = %s", (incident_id,)).fetchone()


@pytest.mark.parametrize(("state", "action"), MATRIX)
def test_every_action_from_every_state(conn, points, state, action):
    incident_id = new_case(conn, points)
    for step in PATHS[state]:
        do(conn, ADMIN, incident_id, step)
    assert state_of(conn, incident_id)[0] == state
    rule = ACTIONS[action]
    before = state_of(conn, incident_id)
    events = conn.execute("SELECT count(*) FROM incident_event WHERE incident_id = %s", (incident_id,)).fetchone()[0]
    if state in rule.sources:
        result = do(conn, ADMIN, incident_id, action)
        after = state_of(conn, incident_id)
        assert after[0] == (rule.target or state) == result["to_state"]
        assert after[1] == before[1] + 1
        last = conn.execute(
            "SELECT action, from_state, to_state, actor FROM incident_event WHERE incident_id = %s ORDER BY id DESC"
            " LIMIT 1", (incident_id,)
        ).fetchone()  # fmt: skip
        assert last == (action, state, rule.target or state, "boss")
    else:
        with pytest.raises(StateConflict, match=f"cannot {action}"):
            do(conn, ADMIN, incident_id, action)
        assert state_of(conn, incident_id) == before
        assert conn.execute(
            "SELECT count(*) FROM incident_event WHERE incident_id = %s", (incident_id,)
        ).fetchone()[0] == events  # fmt: skip


@pytest.mark.parametrize(
    ("who", "action", "allowed"),
    [
        (WORKER, "accept", True), (WORKER, "reply", True), (WORKER, "escalate", True),
        (WORKER, "dispatch", False), (WORKER, "verify", False), (WORKER, "close", False), (WORKER, "reject", False),
        (DISPATCHER, "dispatch", True), (DISPATCHER, "verify", True),
        (INTAKE, "accept", False), (INTAKE, "dispatch", False), (VIEWER, "dispatch", False), (VIEWER, "accept", False),
    ],
)  # fmt: skip
def test_roles(conn, points, who, action, allowed):
    incident_id = new_case(conn, points)
    # Bring the case to a state the action applies to, as an admin.
    for step in {"accept": ["dispatch"], "reply": ["dispatch", "accept"], "verify": ["dispatch", "accept", "reply"],
                 "close": [], "reject": [], "dispatch": [], "escalate": []}[action]:  # fmt: skip
        do(conn, ADMIN, incident_id, step)
    before = state_of(conn, incident_id)
    if allowed:
        do(conn, who, incident_id, action)
        assert state_of(conn, incident_id)[1] == before[1] + 1
    else:
        with pytest.raises(Forbidden):
            do(conn, who, incident_id, action)
        assert state_of(conn, incident_id) == before


def test_required_fields_and_values(conn, points):
    incident_id = new_case(conn, points)
    for action, missing in (("reject", "reason"), ("close", "note"), ("reassign", "person")):
        with pytest.raises(InvalidInput) as err:
            act(conn, ADMIN, incident_id, ActionInput(action), None, CALENDAR, POLICY, WEDNESDAY_10)
        assert err.value.field == missing
    with pytest.raises(InvalidInput, match="unknown action"):
        act(conn, ADMIN, incident_id, ActionInput("approve"), None, CALENDAR, POLICY, WEDNESDAY_10)
    for step in ("dispatch", "accept", "reply", "verify"):
        do(conn, ADMIN, incident_id, step)
    with pytest.raises(InvalidInput, match="satisfaction"):
        do(conn, ADMIN, incident_id, "rate", satisfaction=6)


def test_dispatch_picks_the_microgrid_worker_and_escalation_climbs_to_the_top(conn, points):
    incident_id = new_case(conn, points)
    result = do(conn, ADMIN, incident_id, "dispatch", assignee=None)
    worker = conn.execute(
        "SELECT p.name FROM incident i JOIN area a ON a.id = i.microgrid_id AND a.valid_to IS NULL"
        " JOIN person p ON p.area_id = a.id AND p.role = 'microgrid_worker' WHERE i.id = %s ORDER BY p.name",
        (incident_id,),
    ).fetchall()
    assert worker and result["assignee"].split(" ")[0] in {w for (w,) in worker}
    levels = []
    for _ in range(3):
        levels.append(do(conn, DISPATCHER, incident_id, "escalate")["to_level"])
    assert levels == ["grid", "community", "subdistrict"]
    with pytest.raises(StateConflict, match="cannot climb higher"):
        do(conn, DISPATCHER, incident_id, "escalate")


def test_reopen_clears_the_closure_and_rating(conn, points):
    incident_id = new_case(conn, points)
    for step in ("dispatch", "accept", "reply", "verify", "rate"):
        do(conn, ADMIN, incident_id, step)
    assert conn.execute("SELECT closed_at IS NOT NULL, satisfaction FROM incident WHERE id = %s",
                        (incident_id,)).fetchone() == (True, 4)  # fmt: skip
    do(conn, ADMIN, incident_id, "reopen")
    assert conn.execute("SELECT state, closed_at, satisfaction, stage FROM incident WHERE id = %s",
                        (incident_id,)).fetchone() == ("reopened", None, None, "dispatch")  # fmt: skip
