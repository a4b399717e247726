"""History for any date (migration 0010): memberships, party cells, their micro-grids and people are versioned by
triggers on every write, and ``lookup at=`` answers with them as they stood then, on the demo city: after a
partition apply, after plain edits, for rows that came and went in one transaction, and after migrating a
database that already held rows."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest

from gridmap.access.rules import cli_principal
from gridmap.db.migrate import _backend, migrate
from gridmap.io.demo import load_demo
from gridmap.lookup import LookupOptions, lookup
from gridmap.partition.drafts import Params, apply_draft, propose
from tests.conftest import SESSION_TAG
from tests.support.helpers import connect, create_database, drop_database

# table → key column: the four tables with history
HISTORY = {"microgrid_member": "id", "party_cell": "id", "party_cell_microgrid": "microgrid_id", "person": "id"}


def _instant(url: str) -> datetime:
    """Now, by the server's clock, outside any transaction: after everything committed so far."""
    with connect(url) as conn:
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def _lookup(url: str, points: list[tuple[float, float]], at: datetime | None = None) -> list[dict]:
    with psycopg.connect(url) as conn:
        return lookup(conn, points, LookupOptions(at=at))


def _without_valid_to(value):
    """An answer with every area's valid_to left out: a version closed since is the same version."""
    if isinstance(value, dict):
        return {k: _without_valid_to(v) for k, v in value.items() if k != "valid_to"}
    if isinstance(value, list):
        return [_without_valid_to(v) for v in value]
    return value


def _people(record: dict, role: str) -> list[tuple]:
    return sorted((p["name"], p["phone"], p["area"], p["party_cell"]) for p in record["people"] if p["role"] == role)


def _grid_to_partition(conn: psycopg.Connection) -> tuple[int, str]:
    return conn.execute(
        "SELECT g.id, g.code FROM area g WHERE g.level = 'grid' AND g.valid_to IS NULL"
        " AND (SELECT count(*) FROM area m WHERE m.parent_id = g.id AND m.valid_to IS NULL) >= 4"
        " ORDER BY g.code LIMIT 1"
    ).fetchone()


def assert_history_matches_current(conn: psycopg.Connection) -> None:
    """The open versions of each table are exactly its rows, one per key, and no period is empty or overlaps."""
    for table, key in HISTORY.items():
        columns = [r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
            " ORDER BY attnum", (table,))]  # fmt: skip
        cols = ", ".join(columns)
        differ = conn.execute(
            f"SELECT count(*) FROM ((SELECT {cols} FROM {table} EXCEPT ALL"  # noqa: S608 - constants
            f" SELECT {cols} FROM {table}_history WHERE valid_to IS NULL) UNION ALL"
            f" (SELECT {cols} FROM {table}_history WHERE valid_to IS NULL EXCEPT ALL SELECT {cols} FROM {table})) d"
        ).fetchone()[0]
        assert differ == 0, f"{table}: {differ} rows differ from the open versions"
        overlaps = conn.execute(
            f"SELECT count(*) FROM {table}_history a JOIN {table}_history b ON a.{key} = b.{key}"  # noqa: S608
            " AND a.valid_from < b.valid_from AND (a.valid_to IS NULL OR a.valid_to > b.valid_from)"
        ).fetchone()[0]
        assert overlaps == 0, f"{table}: versions of one key overlap"


# -- (a) a partition apply -------------------------------------------------------------------------------------


def test_partition_apply_leaves_the_old_microgrids_cells_and_people_at_the_instant_before(demo_db):
    with connect(demo_db) as conn:
        grid_id, grid_code = _grid_to_partition(conn)
        old_ids = {r[0] for r in conn.execute(
            "SELECT id FROM area WHERE parent_id = %s AND valid_to IS NULL", (grid_id,))}  # fmt: skip
        # a point inside each micro-grid and inside each building of the grid (split ones list their units)
        points = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(a.geom) p FROM area a"
            "  WHERE a.parent_id = %(g)s AND a.valid_to IS NULL"
            " UNION ALL SELECT ST_PointOnSurface(b.geom) FROM building b WHERE b.id IN ("
            "  SELECT m.building_id FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id"
            "  WHERE a.parent_id = %(g)s AND a.valid_to IS NULL)) s",
            {"g": grid_id},
        ).fetchall()
        cell_before = dict(conn.execute(
            "SELECT microgrid_id, party_cell_id FROM party_cell_microgrid WHERE microgrid_id = ANY(%s)",
            (list(old_ids),)).fetchall())  # fmt: skip
    before = _lookup(demo_db, points)
    inside = [i for i, r in enumerate(before) if r["microgrid"] and r["microgrid"]["id"] in old_ids]
    # (points in a building split by unit name no micro-grid: they list the parts under units)
    assert len({before[i]["microgrid"]["id"] for i in inside}) >= 2 and any(r["units"] for r in before)
    then = _instant(demo_db)

    with psycopg.connect(demo_db, autocommit=True) as conn:
        draft = propose(conn, cli_principal(), grid_code, Params(seed=3))
        done = apply_draft(conn, cli_principal(), draft["id"])
    assert done["retired"] and done["created"] and done["people_moved"] > 0

    old = _lookup(demo_db, points, at=then)
    new = _lookup(demo_db, points)
    # At the instant before, the answers are the ones given then: the old micro-grids (closed since), their
    # party cells, the people as they were attached then, households, units, notes.
    assert _without_valid_to(old) == _without_valid_to(before)
    assert all(old[i]["microgrid"]["valid_to"] is not None for i in inside)
    for i in inside:
        assert (old[i]["party_cell"] or {}).get("id") == cell_before.get(old[i]["microgrid"]["id"])
    # Now the new micro-grids answer, with their own party cells and the people moved to them.
    with connect(demo_db) as conn:
        created = dict(
            conn.execute(
                "SELECT a.id, a.code FROM area a WHERE a.parent_id = %s AND a.valid_to IS NULL", (grid_id,)
            ).fetchall()
        )
        cell_now = dict(
            conn.execute(
                "SELECT pcm.microgrid_id, pc.code FROM party_cell_microgrid pcm JOIN party_cell pc"
                " ON pc.id = pcm.party_cell_id WHERE pcm.microgrid_id = ANY(%s)",
                (list(created),),
            ).fetchall()
        )
        assert_history_matches_current(conn)  # fmt: skip
    assert len(created) == done["created"] and not set(created) & old_ids  # apply_draft counts them
    answered = [new[i] for i in inside if new[i]["microgrid"]]
    assert answered, "the new micro-grids should cover the old points"
    for r in answered:
        assert r["microgrid"]["id"] in created and r["microgrid"]["valid_to"] is None
        assert (r["party_cell"] or {}).get("code") == cell_now.get(r["microgrid"]["id"])
        assert {w[2] for w in _people(r, "microgrid_worker")} <= {created[r["microgrid"]["id"]]}
    assert any(_people(r, "microgrid_worker") for r in answered), "people moved to the new micro-grids"
    # the old people answered for the old codes: nobody then was attached to a new micro-grid
    for i in inside:
        assert {w[2] for w in _people(old[i], "microgrid_worker")} <= {before[i]["microgrid"]["code"]}


# -- (b) plain edits -------------------------------------------------------------------------------------------


def test_phone_membership_and_party_cell_edits_answer_for_each_instant(demo_db):
    with connect(demo_db) as conn:
        # a building held whole by one micro-grid A, a neighbour A2 in the same grid, A's worker and cell
        building, a_id, households = conn.execute(
            "SELECT m.building_id, m.microgrid_id, m.households FROM microgrid_member m WHERE m.households > 0"
            "  AND (SELECT count(*) FROM microgrid_member o WHERE o.building_id = m.building_id) = 1"
            "  AND EXISTS (SELECT FROM party_cell_microgrid l WHERE l.microgrid_id = m.microgrid_id)"
            " ORDER BY m.building_id LIMIT 1"
        ).fetchone()
        a2_id = conn.execute(
            "SELECT n.id FROM area a JOIN area n ON n.parent_id = a.parent_id AND n.valid_to IS NULL AND n.id <> a.id"
            " WHERE a.id = %s AND a.valid_to IS NULL ORDER BY n.code LIMIT 1",
            (a_id,),
        ).fetchone()[0]
        point = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM building WHERE id = %s) s", (building,)
        ).fetchone()
        worker, old_phone = conn.execute(
            "SELECT id, phone FROM person WHERE area_id = %s AND role = 'microgrid_worker' ORDER BY id LIMIT 1", (a_id,)
        ).fetchone()
        cell = conn.execute(
            "SELECT party_cell_id FROM party_cell_microgrid WHERE microgrid_id = %s", (a_id,)
        ).fetchone()[0]
        other_cell = conn.execute(
            "SELECT id FROM party_cell c WHERE id <> %s AND EXISTS (SELECT FROM person p WHERE p.party_cell_id = c.id)"
            " ORDER BY id LIMIT 1",
            (cell,),
        ).fetchone()[0]
        codes = dict(
            conn.execute("SELECT id, code FROM party_cell WHERE id IN (%s, %s)", (cell, other_cell)).fetchall()
        )
        # a building split between two micro-grids: moving one part makes it whole
        split, x_id, y_id = conn.execute(
            "SELECT building_id, min(microgrid_id), max(microgrid_id) FROM microgrid_member"
            " GROUP BY building_id HAVING count(DISTINCT microgrid_id) = 2 ORDER BY building_id LIMIT 1"
        ).fetchone()
        split_point = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM building WHERE id = %s) s", (split,)
        ).fetchone()
    points = [point, split_point]
    snapshots, instants = [_lookup(demo_db, points)], [_instant(demo_db)]
    assert snapshots[0][0]["microgrid"]["id"] == a_id and snapshots[0][1]["units"]
    edits = [
        ("UPDATE person SET phone = '13999990000' WHERE id = %s", (worker,)),
        # two memberships move in one transaction: the whole building to A2, the split building's Y part to X
        ("UPDATE microgrid_member SET microgrid_id = CASE WHEN building_id = %s THEN %s ELSE %s END"
         " WHERE building_id = %s OR (building_id = %s AND microgrid_id = %s)",
         (building, a2_id, x_id, building, split, y_id)),
        ("UPDATE party_cell_microgrid SET party_cell_id = %s WHERE microgrid_id = %s", (other_cell, a_id)),
    ]  # fmt: skip
    for statement, args in edits:
        with connect(demo_db) as conn:
            conn.execute(statement, args)
        snapshots.append(_lookup(demo_db, points))
        instants.append(_instant(demo_db))

    # Asked afterwards, each instant answers what a lookup of now answered then.
    for at, snapshot in zip(instants, snapshots, strict=True):
        assert _lookup(demo_db, points, at=at) == snapshot
    assert _lookup(demo_db, points) == snapshots[-1]
    # and the edits are there to see: phone, households, the split building's parts, party cell and its leader
    phones = [{p[1] for p in _people(s[0], "microgrid_worker")} for s in snapshots]
    assert old_phone in phones[0] and "13999990000" not in phones[0] and "13999990000" in phones[1]
    hh = [s[0]["microgrid"]["households"] for s in snapshots]
    assert hh[0] == hh[1] and hh[2] == hh[3] == hh[1] - households
    units = [s[1]["units"] for s in snapshots]
    assert units[0] and units[1] and {u["microgrid"]["id"] for u in units[1]} == {x_id, y_id}
    assert not units[2] and not units[3]
    cells = [s[0]["party_cell"]["code"] for s in snapshots]
    assert cells == [codes[cell]] * 3 + [codes[other_cell]]
    leaders = [{p[3] for p in _people(s[0], "cell_leader")} for s in snapshots]
    assert leaders[2] == {codes[cell]} and leaders[3] == {codes[other_cell]}
    with connect(demo_db) as conn:
        assert_history_matches_current(conn)


# -- (c) rows that come and go in one transaction --------------------------------------------------------------


def _versions(conn: psycopg.Connection, table: str, key_value: int) -> list[tuple]:
    return conn.execute(
        f"SELECT valid_from, valid_to FROM {table}_history WHERE {HISTORY[table]} = %s ORDER BY valid_from",  # noqa: S608
        (key_value,),
    ).fetchall()


def test_a_row_inserted_and_deleted_in_one_transaction_leaves_no_history(demo_db):
    with psycopg.connect(demo_db) as conn:
        microgrid, building = conn.execute(
            "SELECT microgrid_id, building_id FROM microgrid_member ORDER BY id LIMIT 1").fetchone()  # fmt: skip
        link_before = _versions(conn, "party_cell_microgrid", microgrid)
        # one transaction: a cell, a person in it, a membership, the micro-grid relinked, all updated and gone again
        cell = conn.execute(
            "INSERT INTO party_cell (code, name) VALUES ('HIST-TMP', '临时党小组') RETURNING id"
        ).fetchone()[0]
        person = conn.execute(
            "INSERT INTO person (name, phone, role, party_cell_id)"
            " VALUES ('临时组长', '13900000000', 'cell_leader', %s) RETURNING id", (cell,)).fetchone()[0]  # fmt: skip
        building = conn.execute(
            "INSERT INTO building (code, households, geom) SELECT 'HIST-TMP', 3, geom FROM building WHERE id = %s"
            " RETURNING id", (building,)).fetchone()[0]  # fmt: skip
        member = conn.execute(
            "INSERT INTO microgrid_member (microgrid_id, building_id, households) VALUES (%s, %s, 3) RETURNING id",
            (microgrid, building)).fetchone()[0]  # fmt: skip
        old_cell = conn.execute(
            "UPDATE party_cell_microgrid SET party_cell_id = %s WHERE microgrid_id = %s"
            " RETURNING (SELECT party_cell_id FROM party_cell_microgrid WHERE microgrid_id = %s)",
            (cell, microgrid, microgrid)).fetchone()[0]  # fmt: skip
        conn.execute("UPDATE person SET phone = '13900000001' WHERE id = %s", (person,))
        conn.execute("UPDATE microgrid_member SET households = 4 WHERE id = %s", (member,))
        # inside the transaction the versions are there
        assert len(_versions(conn, "person", person)) == 1 and len(_versions(conn, "party_cell", cell)) == 1
        conn.execute(
            "UPDATE party_cell_microgrid SET party_cell_id = %s WHERE microgrid_id = %s", (old_cell, microgrid)
        )
        conn.execute("DELETE FROM building WHERE id = %s", (building,))  # the membership goes by cascade
        conn.execute("DELETE FROM party_cell WHERE id = %s", (cell,))  # the person goes by cascade
        conn.commit()
        assert _versions(conn, "party_cell", cell) == []
        assert _versions(conn, "person", person) == []
        assert _versions(conn, "microgrid_member", member) == []
        # relinked and relinked back in one transaction: the link's one version stays open, unsplit
        assert _versions(conn, "party_cell_microgrid", microgrid) == link_before
        assert conn.execute("SELECT count(*) FROM person_history WHERE valid_from = valid_to").fetchone()[0] == 0

        # the same rows in two transactions do leave a closed version (the test above can fail)
        cell = conn.execute(
            "INSERT INTO party_cell (code, name) VALUES ('HIST-TMP2', '临时党小组') RETURNING id"
        ).fetchone()[0]
        conn.commit()
        conn.execute("UPDATE party_cell SET name = name WHERE id = %s", (cell,))  # no change: no new version
        conn.commit()
        opened = _versions(conn, "party_cell", cell)
        assert len(opened) == 1 and opened[0][1] is None
        conn.execute("DELETE FROM party_cell WHERE id = %s", (cell,))
        conn.commit()
        closed = _versions(conn, "party_cell", cell)
        assert len(closed) == 1 and closed[0][0] == opened[0][0] and closed[0][1] > closed[0][0]
        assert_history_matches_current(conn)


# -- (d) migrating a database that already holds rows ----------------------------------------------------------

# Rows whose backfilled version does not start at the creation of what it belongs to: the micro-grid's first
# version (memberships, cell links), a cell's earliest micro-grid, the later of a person's area and cell.
_BACKFILL_MISMATCHES = """
WITH born AS (SELECT id, min(valid_from) AS at FROM area GROUP BY id)
SELECT (SELECT count(*) FROM microgrid_member_history h JOIN born b ON b.id = h.microgrid_id
        WHERE h.valid_from <> b.at),
       (SELECT count(*) FROM party_cell_microgrid_history h JOIN born b ON b.id = h.microgrid_id
        WHERE h.valid_from <> b.at),
       (SELECT count(*) FROM party_cell_history h
        WHERE h.valid_from IS DISTINCT FROM coalesce((SELECT min(b.at) FROM party_cell_microgrid l
                                                      JOIN born b ON b.id = l.microgrid_id
                                                      WHERE l.party_cell_id = h.id), '-infinity')),
       (SELECT count(*) FROM person_history h
        WHERE h.valid_from IS DISTINCT FROM coalesce(greatest(
            (SELECT b.at FROM born b WHERE b.id = h.area_id),
            (SELECT c.valid_from FROM party_cell_history c WHERE c.id = h.party_cell_id)), '-infinity'))
"""


@pytest.fixture
def before_history(server_url):
    """A database migrated up to the one before history, holding the demo city with one grid partitioned again
    in a later transaction (new micro-grids, memberships, people moved, cells relinked): (url, the grid's id,
    an instant after both)."""
    name = f"gm_before_history_{SESSION_TAG}"
    url = create_database(server_url, name)
    try:
        with _backend(url) as (backend, migrations), backend.lock():
            backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id < "0010")))
        with psycopg.connect(url) as conn:
            load_demo(conn)
        with psycopg.connect(url, autocommit=True) as conn:
            grid_id, grid_code = _grid_to_partition(conn)
            apply_draft(conn, cli_principal(), propose(conn, cli_principal(), grid_code, Params(seed=5))["id"])
        yield url, grid_id, _instant(url)
    finally:
        drop_database(server_url, name)


def test_migration_makes_existing_rows_valid_from_their_creation(before_history):
    url, grid_id, after = before_history
    with connect(url) as conn:
        assert conn.execute("SELECT to_regclass('person_history')").fetchone()[0] is None
        points = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM building ORDER BY id LIMIT 400) s"
            " UNION ALL SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM area"
            "  WHERE parent_id = %s AND valid_to IS NULL) s",
            (grid_id,),
        ).fetchall()
    assert "0010.history" in migrate(url)
    now_before = _lookup(url, points)  # now: from the current tables, which the migration leaves as they were
    with connect(url) as conn:
        assert_history_matches_current(conn)
        assert (
            conn.execute(
                "SELECT count(*) FROM (SELECT valid_to FROM microgrid_member_history UNION ALL SELECT valid_to"
                " FROM person_history UNION ALL SELECT valid_to FROM party_cell_history UNION ALL SELECT valid_to"
                " FROM party_cell_microgrid_history UNION ALL SELECT valid_to FROM area_households_history) v"
                " WHERE valid_to IS NOT NULL"
            ).fetchone()[0]
            == 0
        )
        assert conn.execute(_BACKFILL_MISMATCHES).fetchone() == (0, 0, 0, 0)
        # the city's load and the later partition: rows of the new micro-grids are valid from their creation
        load, partition = conn.execute(
            "SELECT min(valid_from), max(valid_from) FROM area WHERE level = 'microgrid'").fetchone()  # fmt: skip
        assert load < partition
        starts = conn.execute(
            "SELECT h.valid_from = %s, count(*) FROM microgrid_member_history h"
            " JOIN area a ON a.id = h.microgrid_id AND a.valid_to IS NULL WHERE a.parent_id = %s GROUP BY 1",
            (partition, grid_id),
        ).fetchall()
        assert [s[0] for s in starts] == [True]
        assert (
            conn.execute(
                "SELECT count(DISTINCT valid_from) FROM person_history WHERE valid_from IN (%s, %s)", (load, partition)
            ).fetchone()[0]
            == 2
        )

    # at= after the rows' creation and before any edit answers as now did
    assert _lookup(url, points, at=after) == now_before
    # an edit after the migration closes a backfilled version; the instant before still answers the same
    with connect(url) as conn:
        conn.execute(
            "UPDATE person SET phone = '13911112222' WHERE area_id IN"
            " (SELECT id FROM area WHERE parent_id = %s AND valid_to IS NULL)",
            (grid_id,),
        )
    assert _lookup(url, points, at=after) == now_before
    assert _lookup(url, points) != now_before
