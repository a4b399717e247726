"""Intake on the demo city: routing with area versions, unassigned and boundary flags, GCJ-02, repeats
(只投诉一次) positives and negatives, address matching on the compounds, deadlines and escalation with a
frozen clock."""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg
import pytest

from gridmap.access.rules import Principal
from gridmap.coords import from_wgs84
from gridmap.errors import InvalidInput
from gridmap.incidents.actions import ActionInput, act
from gridmap.incidents.cases import Queue, is_overdue, stored_cases
from gridmap.incidents.escalation import escalate_overdue
from gridmap.incidents.gazetteer import match_address
from gridmap.incidents.intake import NewReport, intake
from gridmap.points import point_to_wgs84
from tests.support.incident_setup import CALENDAR, POLICY, WEDNESDAY_10, seed_incidents, spots, unassigned_spot

DISPATCHER = Principal("disp", "user", "dispatcher")


@pytest.fixture(scope="module")
def conn(demo_db_module):
    with psycopg.connect(demo_db_module, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def points(conn):
    return iter(spots(conn, 60))


def report(lon=None, lat=None, category="sanitation", **kw) -> NewReport:
    return NewReport(category, kw.pop("description", "垃圾堆放"), kw.pop("channel", "wechat"), lon, lat, **kw)


def take(conn, rep, now=WEDNESDAY_10, policy=POLICY):
    return intake(conn, DISPATCHER, rep, CALENDAR, policy, now)


def case(conn, incident_id) -> dict:
    row = conn.execute(
        "SELECT state, level, flags, route, microgrid_id, reports, due_at, stage, missed_at FROM incident"
        " WHERE id = %s",
        (incident_id,),
    ).fetchone()
    keys = ("state", "level", "flags", "route", "microgrid_id", "reports", "due_at", "stage", "missed_at")
    return dict(zip(keys, row, strict=True))


def test_routing_stores_the_chain_with_versions(conn, points):
    lon, lat, code = next(points)
    c = case(conn, take(conn, report(lon, lat)).incident_id)
    assert c["state"] == "received" and c["level"] == "microgrid"
    assert c["route"]["microgrid"]["code"] == code and c["route"]["microgrid"]["version"] == 1
    assert {"grid", "community", "subdistrict", "party_cell", "people"} <= set(c["route"])
    assert c["route"]["grid"]["code"] == code[:15] and c["route"]["community"]["code"] == code[:12]
    assert "unassigned" not in c["flags"]


def test_outside_every_microgrid_goes_to_the_subdistrict_queue_at_once(conn):
    lon, lat = unassigned_spot(conn)
    c = case(conn, take(conn, report(lon, lat, "streetlight", description="桥涵下路灯不亮")).incident_id)
    assert "unassigned" in c["flags"] and c["level"] == "subdistrict" and c["microgrid_id"] is None
    assert c["route"]["subdistrict"]["code"] == "440309002"


def test_near_a_grid_boundary_is_flagged_for_confirmation(conn):
    lon, lat = conn.execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_ExteriorRing(ST_GeometryN(geom, 1)), 0.37) p"
        " FROM area WHERE level = 'grid' AND valid_to IS NULL ORDER BY code OFFSET 7 LIMIT 1) x"
    ).fetchone()
    c = case(conn, take(conn, report(lon, lat, "greenery")).incident_id)
    assert "near_boundary" in c["flags"]


def test_region_check(conn):
    with pytest.raises(InvalidInput, match="outside the region") as err:
        take(conn, report(116.39, 39.91))  # Beijing
    assert err.value.field == "lon"


def test_gcj02_point_is_routed_like_its_wgs84_twin(conn, points):
    lon, lat, code = next(points)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    assert abs(glon - lon) > 0.003  # the shift is hundreds of metres: a mix-up would route elsewhere
    wlon, wlat = point_to_wgs84(glon, glat, "gcj02")
    c = case(conn, take(conn, report(wlon, wlat, "noise")).incident_id)
    assert c["route"]["microgrid"]["code"] == code


def test_repeats_join_the_open_case(conn, points):
    lon, lat, _ = next(points)
    first = take(conn, report(lon, lat, reporter_phone="13800000001"))
    # ~30 m east, same category, another channel: the same problem.
    again = take(conn, report(lon + 0.0003, lat, channel="hotline_12345", reporter_phone="13800000002"))
    assert again.repeat and again.incident_id == first.incident_id
    c = case(conn, first.incident_id)
    assert c["reports"] == 2 and c["state"] == "received"
    phones = {p for (p,) in conn.execute(
        "SELECT reporter_phone FROM incident_report WHERE incident_id = %s", (first.incident_id,))}  # fmt: skip
    assert phones == {"13800000001", "13800000002"}
    events = [a for (a,) in conn.execute(
        "SELECT action FROM incident_event WHERE incident_id = %s ORDER BY id", (first.incident_id,))]  # fmt: skip
    assert events == ["receive", "repeat"]


@pytest.mark.parametrize("why", ["other category", "too far", "closed long ago", "rejected"])
def test_not_repeats(conn, points, why):
    lon, lat, _ = next(points)
    first = take(conn, report(lon, lat))
    later = WEDNESDAY_10
    if why == "closed long ago":
        act(conn, DISPATCHER, first.incident_id, ActionInput("close", note="cleaned"), None, CALENDAR, POLICY,
            WEDNESDAY_10)  # fmt: skip
        later = WEDNESDAY_10 + timedelta(days=POLICY.repeat_days + 1)
    if why == "rejected":
        act(conn, DISPATCHER, first.incident_id, ActionInput("reject", reason="private land"), None, CALENDAR,
            POLICY, WEDNESDAY_10)  # fmt: skip
    second = report(lon + (0.0008 if why == "too far" else 0.0001), lat, "noise" if why == "other category" else
                    "sanitation")  # fmt: skip
    out = take(conn, second, later)
    assert not out.repeat and out.incident_id != first.incident_id


def test_repeat_after_close_is_flagged_and_a_wrong_merge_can_be_split(conn, points):
    lon, lat, _ = next(points)
    first = take(conn, report(lon, lat))
    act(conn, DISPATCHER, first.incident_id, ActionInput("close", note="cleaned"), None, CALENDAR, POLICY,
        WEDNESDAY_10)  # fmt: skip
    again = take(conn, report(lon, lat + 0.0002, description="又堆了"), WEDNESDAY_10 + timedelta(days=2))
    assert again.repeat and "reported_after_close" in case(conn, first.incident_id)["flags"]
    rep = conn.execute("SELECT id FROM incident_report WHERE incident_id = %s AND is_repeat",
                       (first.incident_id,)).fetchone()[0]  # fmt: skip
    result = act(conn, DISPATCHER, first.incident_id, ActionInput("split", report=rep, note="a new pile"), None,
                 CALENDAR, POLICY, WEDNESDAY_10 + timedelta(days=2))  # fmt: skip
    new = case(conn, result["new_incident"])
    assert new["state"] == "received" and new["reports"] == 1 and new["route"]["microgrid"]
    assert case(conn, first.incident_id)["reports"] == 1


def test_deadlines_and_escalation_with_a_frozen_clock(conn, points):
    lon, lat, _ = next(points)
    friday = WEDNESDAY_10.replace(day=20, hour=17, minute=30)
    incident_id = take(conn, report(lon, lat, "road"), friday).incident_id
    c = case(conn, incident_id)
    assert c["stage"] == "dispatch" and c["due_at"] == friday.replace(day=23, hour=9, minute=30)  # Monday 09:30
    early = escalate_overdue(conn, CALENDAR, friday.replace(day=23, hour=9, minute=29))
    assert incident_id not in {d["incident"] for d in early}
    climbed = []
    now = c["due_at"]
    for _ in range(3):
        now += timedelta(minutes=1)
        done = [d for d in escalate_overdue(conn, CALENDAR, now) if d["incident"] == incident_id]
        assert len(done) == 1 and done[0]["action"] == "escalate"
        climbed.append(done[0]["to_level"])
        c = case(conn, incident_id)
        assert c["state"] == "escalated" and c["due_at"] == CALENDAR.add(now, 60)
        # the new deadline does not hide the missed one: the first miss is kept, the case stays overdue
        assert c["missed_at"] == friday.replace(day=23, hour=9, minute=30)
        assert is_overdue(c["state"], c["due_at"], c["missed_at"], now) and c["due_at"] > now
        overdue, _ = stored_cases(conn, Queue(ids=(incident_id,), overdue=True), None, now, 10, 0)
        assert [q["id"] for q in overdue] == [incident_id]
        assert [d for d in escalate_overdue(conn, CALENDAR, now) if d["incident"] == incident_id] == []
        now = c["due_at"]
    assert climbed == ["grid", "community", "subdistrict"]
    now += timedelta(minutes=1)
    assert [d["action"] for d in escalate_overdue(conn, CALENDAR, now) if d["incident"] == incident_id] == ["overdue"]
    assert "overdue" in case(conn, incident_id)["flags"]
    assert [d for d in escalate_overdue(conn, CALENDAR, now + timedelta(days=3)) if d["incident"] == incident_id] == []
    actors = {a for (a,) in conn.execute(
        "SELECT actor FROM incident_event WHERE incident_id = %s AND action IN ('escalate', 'overdue')",
        (incident_id,))}  # fmt: skip
    assert actors == {"system:escalation"}


def test_safety_hazards_run_on_the_wall_clock(conn, points):
    lon, lat, _ = next(points)
    saturday_night = WEDNESDAY_10.replace(day=21, hour=23)
    c = case(conn, take(conn, report(lon, lat, "safety_hazard"), saturday_night).incident_id)
    assert c["due_at"] == saturday_night + timedelta(minutes=15)


# --- addresses -----------------------------------------------------------------------------------


def _addresses(conn, n: int) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT code, compound, name FROM building b WHERE compound <> '' AND name ~ '^[A-Z]?[0-9]+栋$'"
        " AND (SELECT count(*) FROM building o WHERE o.compound = b.compound AND o.name = b.name) = 1 ORDER BY code"
    ).fetchall()
    return random.Random(7).sample(rows, n)


def test_address_matching_on_the_demo_compounds(conn):
    sample = _addresses(conn, 60)
    prefixes = ("深圳市龙华区民治街道", "民治", "", "广东省深圳市")
    right = 0
    for i, (code, compound, name) in enumerate(sample):
        m = match_address(conn, f"{prefixes[i % len(prefixes)]}{compound}{name}")
        right += m.code == code and m.confidence >= POLICY.address_min_confidence
    assert right / len(sample) >= 0.95, f"{right}/{len(sample)} addresses matched their building"
    # Full-width digits and spaces are normalised.
    code, compound, name = sample[0]
    wide = name.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert match_address(conn, f"{compound} {wide}").code == code
    # A one-character slip in the compound finds the building or stays unsure: never a confident wrong one.
    guessed = 0
    for code, compound, name in sample:
        slipped = compound[:1] + "某" + compound[2:]
        m = match_address(conn, f"{slipped}{name}")
        assert m.code == code or m.confidence < POLICY.address_min_confidence, (slipped, name, m)
        guessed += m.code == code and m.confidence >= POLICY.address_min_confidence
    assert guessed > 0


def test_vague_or_wrong_addresses_are_not_guessed(conn):
    code, compound, name = _addresses(conn, 1)[0]
    vague = match_address(conn, compound)  # the compound, but which building?
    assert vague.confidence < POLICY.address_min_confidence and vague.candidates
    wrong_door = match_address(conn, f"{compound}987栋")
    assert wrong_door.confidence < POLICY.address_min_confidence
    nowhere = match_address(conn, "完全无关的地方")
    assert nowhere.building_id is None and nowhere.confidence < POLICY.address_min_confidence
    assert match_address(conn, code.lower()).code == code  # building codes, any case


def test_address_intake_queues_vague_ones_and_nonsense_too(conn):
    code, compound, name = _addresses(conn, 2)[1]
    exact = case(conn, take(conn, report(address=f"{compound}{name}", category="property")).incident_id)
    assert exact["route"]["building"]["code"] == code and exact["level"] == "microgrid"
    vague = take(conn, report(address=f"{compound}门口", category="dispute"))
    c = case(conn, vague.incident_id)
    assert c["flags"] == ["needs_location"] and c["level"] is None and c["route"]["candidates"]
    # Text that fits no building is a case all the same, for a dispatcher to place (a call back, a map).
    nowhere = case(conn, take(conn, report(address="月球背面环形山", category="dispute")).incident_id)
    assert nowhere["flags"] == ["needs_location"] and nowhere["level"] is None
    # Only text with no place in it at all is refused.
    with pytest.raises(InvalidInput, match="say where"):
        take(conn, report(address=" ，。？ ", category="dispute"))
    # A dispatcher gives the location: the case is routed then.
    lon, lat = conn.execute("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM building"
                            " WHERE code = %s", (code,)).fetchone()  # fmt: skip
    act(conn, DISPATCHER, vague.incident_id, ActionInput("reroute", lon=lon, lat=lat), None, CALENDAR, POLICY,
        WEDNESDAY_10)  # fmt: skip
    c = case(conn, vague.incident_id)
    assert c["level"] == "microgrid" and "needs_location" not in c["flags"]


def test_imported_history_is_never_escalated_but_live_cases_are(demo_db_module, conn, points):
    """A past case brought in by ``gridmap import incidents`` still open keeps its state and level whatever
    time it is; a live case taken in at the same time climbs."""
    lon, lat, _ = next(points)
    past = {"category": "road", "description": "旧工单", "reported_at": "2026-12-01T09:00:00+08:00"}
    seed_incidents(demo_db_module, [past | {"lon": lon, "lat": lat, "external_id": "HIST-OPEN-1"}])
    (old,) = conn.execute("SELECT id FROM incident WHERE external_id = 'HIST-OPEN-1'").fetchone()
    before = case(conn, old)
    assert before["state"] == "received" and before["due_at"] is not None  # past due long before now
    live = take(conn, report(*next(points)[:2], "road"), WEDNESDAY_10).incident_id
    later = WEDNESDAY_10 + timedelta(days=30)
    escalated = {d["incident"] for d in escalate_overdue(conn, CALENDAR, later)}
    assert live in escalated and old not in escalated
    assert case(conn, old) == before


def test_imported_history_keeps_its_states(demo_db_module, conn, points):
    """Past cases come in the state their file gives (Chinese or English status words, closed_at meaning
    closed), with the stage and deadline of that state; a word the import does not know is kept as received
    and named in a warning."""
    import geopandas as gpd
    import shapely

    from gridmap.incidents.bulk import import_incidents

    statuses = {"H-1": "处理中", "H-2": "已派遣", "H-3": "In Progress", "H-4": "已办结", "H-5": "已反馈",
                "H-6": "不予受理", "H-7": "", "H-8": "挂起"}  # fmt: skip
    frame = gpd.GeoDataFrame(
        [{"external_id": ext, "category": "road", "description": "旧工单", "status": status,
          "reported_at": "2026-11-30T09:00:00+08:00"} for ext, status in statuses.items()],
        geometry=[shapely.Point(*next(points)[:2]) for _ in statuses], crs=4326,
    )  # fmt: skip
    with psycopg.connect(demo_db_module) as c:
        report, _ = import_incidents(c, frame, CALENDAR, POLICY, "Asia/Shanghai", commit=True)
    assert report.ok and report.created == len(statuses), report.errors
    assert report.warnings == ["status(es) taken as received: 挂起"]
    rows = conn.execute(
        "SELECT external_id, state, stage, due_at IS NOT NULL, closed_at IS NOT NULL FROM incident"
        " WHERE external_id = ANY(%s)", (list(statuses),)).fetchall()  # fmt: skip
    stored = {ext: tuple(rest) for ext, *rest in rows}
    assert stored == {
        "H-1": ("in_progress", "handle", True, False), "H-2": ("dispatched", "accept", True, False),
        "H-3": ("in_progress", "handle", True, False), "H-4": ("closed", None, False, True),
        "H-5": ("replied", "verify", True, False), "H-6": ("rejected", None, False, False),
        "H-7": ("received", "dispatch", True, False), "H-8": ("received", "dispatch", True, False),
    }  # fmt: skip
