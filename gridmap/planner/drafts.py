"""Planner drafts in the database: open a draft of a community, edit it (each edit a step that undo and
redo move through), read its tallies and its coverage findings, and save it as new area versions in
one transaction.

A draft keeps only what it changed, over the community as stored: pieces it did not touch always show
what is stored now. Saving checks that every stored area it changed is still at the version and
memberships it copied (else VersionConflict, naming who changed what), refuses a draft whose touched
grids would break coverage (overlaps, areas outside their parent, buildings held twice or elsewhere),
and saves a draft leaving land unassigned only when told to (ConfirmationRequired)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import shapely
from psycopg.types.json import Jsonb

from gridmap import geojson
from gridmap.access import audit
from gridmap.access.rules import Principal, check_jurisdiction, require
from gridmap.areas import rules
from gridmap.areas.edit import area_in_jurisdiction, insert_version, last_sequence, move_people
from gridmap.concurrency import check_version
from gridmap.db.locks import lock_children, lock_for_edit
from gridmap.errors import ConfirmationRequired, DraftRefused, InvalidInput, NotFound, StateConflict, VersionConflict
from gridmap.partition import coverage
from gridmap.partition.algorithm import Band
from gridmap.planner import world as worlds
from gridmap.planner.edits import Editor
from gridmap.planner.world import Piece, World, badge, people_of, stored_digest, tallies

# Steps kept for undo; older ones are folded into the first kept (their changes stay).
MAX_STEPS = 200
# Coverage problems that stop a save; a gap only needs the planner's confirmation.
BLOCKING = frozenset({"overlap", "outside_parent", "building_unassigned", "building_twice", "building_elsewhere"})
COORD_DIGITS = 7  # ≈1 cm: enough for drawing, and a community's draft stays around a megabyte


def _row(conn: psycopg.Connection, who: Principal, draft_id: int, lock: bool = False) -> dict:
    query = "SELECT * FROM plan_draft WHERE id = %s FOR UPDATE" if lock else "SELECT * FROM plan_draft WHERE id = %s"
    row = conn.cursor(row_factory=psycopg.rows.dict_row).execute(query, (draft_id,)).fetchone()
    if row is None:
        raise NotFound(f"planner draft {draft_id} does not exist")
    check_jurisdiction(who, row["scope_path"], f"planner draft {draft_id}")
    return row


def _overlay(row: dict) -> dict[str, dict]:
    return row["steps"][row["position"] - 1]["pieces"] if row["position"] else {}


def _scope(row: dict, conn: psycopg.Connection) -> dict:
    name = conn.execute("SELECT name FROM area WHERE id = %s AND valid_to IS NULL", (row["scope_id"],)).fetchone()
    if name is None:
        raise StateConflict(f"community {row['scope_code']} was retired; its draft cannot be used")
    return {"id": row["scope_id"], "code": row["scope_code"], "name": name[0], "path": row["scope_path"]}


def _world(conn: psycopg.Connection, row: dict) -> World:
    return worlds.load(conn, _scope(row, conn), _overlay(row))


def open_draft(conn: psycopg.Connection, who: Principal, area: str) -> int:
    """Open an empty draft of a community (code or id) inside the caller's jurisdiction; return its id."""
    require(who, "area.write")
    area_id, code, level, path = area_in_jurisdiction(conn, who, area)
    if level != "community":
        raise InvalidInput(f"a draft is made for a community; {code} is a {level}", "area")
    with conn.transaction():
        return conn.execute(
            "INSERT INTO plan_draft (scope_id, scope_code, scope_path, created_by) VALUES (%s, %s, %s, %s)"
            " RETURNING id",
            (area_id, code, list(path), who.name),
        ).fetchone()[0]


def open_drafts(conn: psycopg.Connection, who: Principal, area: str) -> list[dict]:
    """Unsaved drafts of a community (code or id), newest first: id, who opened it, when, steps in force."""
    require(who, "area.write")
    area_id = area_in_jurisdiction(conn, who, area)[0]
    rows = conn.execute(
        "SELECT id, created_by, created_at, updated_at, position FROM plan_draft"
        " WHERE scope_id = %s AND saved_at IS NULL ORDER BY updated_at DESC, id DESC LIMIT 50",
        (area_id,),
    ).fetchall()
    return [
        {"id": r[0], "created_by": r[1], "created_at": r[2].isoformat(), "updated_at": r[3].isoformat(), "steps": r[4]}
        for r in rows
    ]


def _feature(geom: shapely.Geometry, properties: dict, crs: str) -> dict:
    return geojson.feature(geom, properties, crs=crs, digits=COORD_DIGITS)


def document(conn: psycopg.Connection, who: Principal, draft_id: int, crs: str = "wgs84", band: Band = Band()) -> dict:
    """The draft as the planner sees it: status, steps (undo/redo), tallies, and the community's grids,
    micro-grids (households, band badge, party cell, people, changed) and buildings (holders) as GeoJSON
    in ``crs``."""
    require(who, "area.write")
    row = _row(conn, who, draft_id)
    return _render(row, _world(conn, row), crs, band)


def _render(row: dict, world: World, crs: str, band: Band) -> dict:
    """The draft document of ``row`` whose world (its changes laid over the store) is ``world``."""
    live = world.live()
    code_of = {p.key: p.code for p in live}
    grids = {p.id: p for p in live if p.level == "grid" and p.id is not None}
    grid_households: dict[str, int] = {}
    microgrids = []
    for p in live:
        if p.level != "microgrid":
            continue
        grid = grids.get(p.parent_id)
        if grid is not None:
            grid_households[grid.key] = grid_households.get(grid.key, 0) + p.households
        cell = world.party_cells.get(p.party_cell) if p.party_cell is not None else None
        microgrids.append(_feature(p.geom, {
            "key": p.key, "id": p.id, "code": p.code, "name": p.name, "version": p.version, "layer": p.layer,
            "grid": grid.code if grid else None, "households": p.households, "badge": badge(p.households, band),
            "party_cell": {"code": cell["code"], "name": cell["name"]} if cell else None,
            "people": people_of(world, p), "changed": p.key in world.changed, "new": p.id is None,
        }, crs))  # fmt: skip
    grid_features = [
        _feature(
            p.geom,
            {
                "key": p.key,
                "id": p.id,
                "code": p.code,
                "name": p.name,
                "version": p.version,
                "layer": p.layer,
                "kind": p.kind,
                "households": grid_households.get(p.key, 0),
                "changed": p.key in world.changed,
                "new": p.id is None,
            },
            crs,
        )
        for p in live
        if p.level == "grid"
    ]
    holders = world.holders()
    buildings = [
        _feature(
            b.geom,
            {
                "id": b.id,
                "code": b.code,
                "name": b.name,
                "households": b.households,
                "holders": [code_of[k] for k in holders.get(b.id, []) if k in code_of],
            },
            crs,
        )
        for b in world.buildings.values()
    ]
    steps = row["steps"]
    return {
        "id": row["id"],
        "area": row["scope_code"],
        "name": world.scope["name"],
        "status": "saved" if row["saved_at"] else "draft",
        "revision": row["revision"],
        "steps": [s["label"] for s in steps[: row["position"]]],
        "can_undo": row["position"] > 0 and not row["saved_at"],
        "can_redo": row["position"] < len(steps) and not row["saved_at"],
        "redo": steps[row["position"]]["label"] if row["position"] < len(steps) else None,
        "created_by": row["created_by"],
        "created_at": row["created_at"].isoformat(),
        "saved_by": row["saved_by"],
        "saved_at": row["saved_at"].isoformat() if row["saved_at"] else None,
        "tallies": tallies(world, band),
        "community": _feature(world.scope["geom"], {"code": row["scope_code"], "name": world.scope["name"]}, crs),
        "grids": geojson.collection(grid_features),
        "microgrids": geojson.collection(microgrids),
        "buildings": geojson.collection(buildings),
    }


def _new_key_counter(steps: list[dict]) -> Callable[[], str]:
    used = [int(k[1:]) for s in steps for k in s["pieces"] if k.startswith("n")]
    counter = iter(range(max(used, default=0) + 1, 2**31))
    return lambda: f"n{next(counter)}"


def _writable(row: dict, if_match: int | None, draft_id: int) -> None:
    if row["saved_at"] is not None:
        raise StateConflict(f"planner draft {draft_id} was saved at {row['saved_at'].isoformat()}; open a new one")
    check_version(if_match, row["revision"], f"planner draft {draft_id}")


def edit(
    conn: psycopg.Connection,
    who: Principal,
    draft_id: int,
    if_match: int | None,
    change: Callable[[Editor], str],
    crs: str = "wgs84",
    band: Band = Band(),
) -> dict:
    """Apply one edit (``change`` calls an Editor method and returns its label) as the draft's next step;
    steps undone before it are dropped. Returns the draft document (see ``document``) with ``label``."""
    require(who, "area.write")
    with conn.transaction():
        row = _row(conn, who, draft_id, lock=True)
        _writable(row, if_match, draft_id)
        world = _world(conn, row)
        editor = Editor(world, lambda parent, level: last_sequence(conn, parent, level), _new_key_counter(row["steps"]))
        label = change(editor)
        pieces = dict(_overlay(row))
        for key in editor.touched:
            p = world.pieces[key]
            if p.removed and p.id is None:
                pieces.pop(key, None)  # made and dropped inside the draft: nothing to save
            else:
                pieces[key] = p.to_json()
        steps = row["steps"][: row["position"]] + [{"label": label, "pieces": pieces}]
        steps = steps[-MAX_STEPS:]
        row = _update(conn, draft_id, len(steps), steps)
    world.changed = set(pieces)  # pieces made and dropped within the draft are not changes
    return _render(row, world, crs, band) | {"label": label}


def _update(conn: psycopg.Connection, draft_id: int, position: int, steps: list[dict] | None = None) -> dict:
    """Move a draft to ``position`` (with new ``steps`` when given), count the revision; return the new row."""
    return (
        conn.cursor(row_factory=psycopg.rows.dict_row)
        .execute(
            "UPDATE plan_draft SET steps = coalesce(%s, steps), position = %s, revision = revision + 1,"
            " updated_at = now() WHERE id = %s RETURNING *",
            (Jsonb(steps) if steps is not None else None, position, draft_id),
        )
        .fetchone()
    )


def step(
    conn: psycopg.Connection,
    who: Principal,
    draft_id: int,
    if_match: int | None,
    forward: bool,
    crs: str = "wgs84",
    band: Band = Band(),
) -> dict:
    """Undo the last step (or redo the next undone one); return the draft document with the step's
    ``label``."""
    require(who, "area.write")
    with conn.transaction():
        row = _row(conn, who, draft_id, lock=True)
        _writable(row, if_match, draft_id)
        position = row["position"] + (1 if forward else -1)
        if not 0 <= position <= len(row["steps"]):
            raise StateConflict(f"nothing to {'redo' if forward else 'undo'} in planner draft {draft_id}")
        label = row["steps"][max(position, row["position"]) - 1]["label"]
        row = _update(conn, draft_id, position)
        return _render(row, _world(conn, row), crs, band) | {"label": label}


def _ids(world: World) -> dict[str, int]:
    """An integer id for every piece (stored id, or minus the new key's number) for the checks."""
    return {k: p.id if p.id is not None else -int(k[1:]) for k, p in world.pieces.items()}


def check(world: World, band: Band = Band()) -> coverage.CoverageReport:
    """Coverage findings for the grids the draft changed (and the micro-grids around them): gaps inside
    them, overlaps, areas outside their parent, buildings unassigned, held twice or elsewhere, and the
    micro-grid warnings."""
    live = world.live()
    ids = _ids(world)
    touched = set()
    for key in world.changed:
        p = world.pieces[key]
        touched.add(key if p.level == "grid" else str(p.parent_id))
    scope_row = {"id": world.scope["id"], "code": world.scope["code"], "name": world.scope["name"],
                 "level": "community", "layer": "comprehensive", "kind": "comprehensive",
                 "parent_id": world.scope["parent_id"], "geom": world.scope["geom"], "households": 0,
                 "has_party_cell": False, "people": 0, "in_scope": False, "container": False}  # fmt: skip
    if not touched:
        return coverage.evaluate(world.scope["code"], [scope_row], [], band)
    focus = shapely.union_all([world.pieces[k].geom for k in touched if k in world.pieces])
    near = shapely.intersects(shapely.envelope(focus), [p.geom for p in live])
    rows = [scope_row]
    in_scope_ids = set()
    for p, is_near in zip(live, near, strict=True):
        mine = (p.key if p.level == "grid" else str(p.parent_id)) in touched
        if not (mine or is_near):
            continue
        if mine and p.level == "microgrid":
            in_scope_ids.add(ids[p.key])
        rows.append({
            "id": ids[p.key], "code": p.code, "name": p.name, "level": p.level, "layer": p.layer, "kind": p.kind,
            "parent_id": p.parent_id, "geom": p.geom, "households": p.households,
            "has_party_cell": p.party_cell is not None, "people": len(people_of(world, p)), "in_scope": mine,
            "container": mine and p.level == "grid" and p.layer == "comprehensive",
        })  # fmt: skip
    holders = world.holders()
    points = shapely.point_on_surface([b.geom for b in world.buildings.values()])
    inside = shapely.covers(focus, points)
    buildings = []
    for b, ok in zip(world.buildings.values(), inside, strict=True):
        held_by = [ids[k] for k in holders.get(b.id, [])]
        if not (ok or in_scope_ids.intersection(held_by)):
            continue
        counted = sum(m[5] for k in holders.get(b.id, []) for m in world.pieces[k].members if m[0] == b.id)
        buildings.append({"id": b.id, "code": b.code, "name": b.name, "households": b.households, "geom": b.geom,
                          "holders": held_by, "held": counted})  # fmt: skip
    return coverage.evaluate(world.scope["code"], rows, buildings, band)


def findings(conn: psycopg.Connection, who: Principal, draft_id: int, crs: str = "wgs84", band: Band = Band()) -> dict:
    """The draft's coverage findings (see ``check``) as GeoJSON in ``crs``, each with ``blocking``
    (stops a save) or ``confirm`` (a save must be confirmed), and the summary."""
    require(who, "area.write")
    row = _row(conn, who, draft_id)
    report = check(_world(conn, row), band)
    doc = coverage.to_geojson(report, crs)
    for f in doc["features"]:
        problem = f["properties"]["problem"]
        f["properties"]["blocking"] = problem in BLOCKING and f["properties"]["severity"] == "error"
        f["properties"]["confirm"] = problem == "gap"
    doc["revision"] = row["revision"]
    return doc


def _stale(conn: psycopg.Connection, pieces: list[Piece]) -> list[str]:
    """Stored areas the draft changed that someone else changed since: their code, who and when."""
    stored = [p for p in pieces if p.id is not None]
    if not stored:
        return []
    versions = dict(
        conn.execute(
            "SELECT id, version FROM area WHERE id = ANY(%s) AND valid_to IS NULL FOR UPDATE",
            ([p.id for p in stored],),
        ).fetchall()
    )
    members = worlds.member_rows(conn, [p.id for p in stored])
    out = []
    for p in stored:
        version = versions.get(p.id)
        if version is not None and stored_digest(version, members[p.id]) == p.base:
            continue
        last = conn.execute(
            "SELECT actor, at FROM audit_log WHERE object_type = 'area' AND object_id = %s ORDER BY id DESC LIMIT 1",
            (p.id,),
        ).fetchone()
        by = f" by {last[0]} at {last[1].isoformat(timespec='seconds')}" if last else ""
        out.append(f"{p.code} ({'retired' if version is None else f'now version {version}'}{by})")
    return out


def save(
    conn: psycopg.Connection,
    who: Principal,
    draft_id: int,
    if_match: int | None,
    confirm: bool = False,
    request_id: str | None = None,
) -> dict:
    """Write the draft as new versions in one transaction: changed stored areas get their next version,
    retired ones are closed (their people move to the new area covering most of them), new ones are
    created; memberships and party cells follow. Returns the codes created, updated and retired."""
    require(who, "area.write")
    with conn.transaction():
        lock_for_edit(conn)
        row = _row(conn, who, draft_id, lock=True)
        _writable(row, if_match, draft_id)
        overlay = _overlay(row)
        if not overlay:
            raise InvalidInput("the draft changes nothing: nothing to save", "draft")
        pieces = [Piece.from_json(doc) for doc in overlay.values()]
        for parent_id, level in sorted({(p.parent_id, p.level) for p in pieces}):
            lock_children(conn, parent_id, level)
        stale = _stale(conn, pieces)
        if stale:
            raise VersionConflict(
                f"someone saved changes to {', '.join(stale[:5])} after this draft was made; reload to see their"
                " version and redo your edits on it",
                row["revision"],
                None,
            )
        new_codes = [p.code for p in pieces if p.id is None]
        taken = [c for (c,) in conn.execute("SELECT DISTINCT code FROM area WHERE code = ANY(%s)", (new_codes,))]
        if taken:
            raise VersionConflict(
                f"code(s) {', '.join(taken[:5])} were given to areas saved by someone else after this draft was"
                " made; reload the draft",
                row["revision"],
                None,
            )
        world = _world(conn, row)
        report = check(world)
        blocking = [f for f in report.findings if f.problem in BLOCKING and f.severity == "error"]
        if blocking:
            raise DraftRefused("the draft cannot be saved: " + "; ".join(f.message for f in blocking[:5]),
                               [f.message for f in blocking])  # fmt: skip
        gaps = [f for f in report.findings if f.problem == "gap"]
        if gaps and not confirm:
            raise ConfirmationRequired(
                "the draft leaves land no micro-grid covers: "
                + "; ".join(f.message for f in gaps[:5])
                + ". Save anyway with confirm, or fix it first",
                [f.message for f in gaps],
            )
        try:
            done = _write(conn, who, world, pieces, draft_id, request_id)
        except psycopg.errors.ExclusionViolation:  # a building given to another micro-grid meanwhile
            raise VersionConflict(
                "a building of this draft was given to another micro-grid after the draft was made; reload it",
                row["revision"],
                None,
            ) from None
        conn.execute(
            "UPDATE plan_draft SET saved_by = %s, saved_at = now(), revision = revision + 1 WHERE id = %s",
            (who.name, draft_id),
        )
    return {"draft": draft_id} | done


def _write(
    conn: psycopg.Connection, who: Principal, world: World, pieces: list[Piece], draft_id: int, request_id: str | None
) -> dict:
    stored = [p.id for p in pieces if p.id is not None]
    microgrids = [p for p in pieces if p.level == "microgrid"]
    # Buildings the retired and changed micro-grids held: the rules check them again after the write.
    touched = [b for (b,) in conn.execute(
        "SELECT DISTINCT building_id FROM microgrid_member WHERE microgrid_id = ANY(%s)", (stored,)
    )]  # fmt: skip
    conn.execute("DELETE FROM party_cell_microgrid WHERE microgrid_id = ANY(%s)", (stored,))
    conn.execute("DELETE FROM microgrid_member WHERE microgrid_id = ANY(%s)", (stored,))
    conn.execute("UPDATE area SET valid_to = now() WHERE id = ANY(%s) AND valid_to IS NULL", (stored,))
    path = tuple(world.scope["path"])
    done: dict[str, list[str]] = {"created": [], "updated": [], "retired": []}
    ids: dict[str, int] = {}
    for p in pieces:
        if p.removed:
            done["retired"].append(p.code)
            audit.record(conn, who, audit.Change("retire", "area", p.id, p.code, (p.id, *path), p.version, None,
                                                 {"draft": draft_id}), request_id)  # fmt: skip
            continue
        area_id = p.id
        if area_id is None:
            area_id = conn.execute("INSERT INTO area_identity (level) VALUES (%s) RETURNING id", (p.level,)).fetchone()[
                0
            ]
        version = (p.version or 0) + 1
        insert_version(conn, dict(
            id=area_id, version=version, level=p.level, code=p.code, parent_id=p.parent_id, name=p.name,
            kind=p.kind, layer=p.layer, wkb=shapely.to_wkb(p.geom), attrs=Jsonb({}),
        ))  # fmt: skip
        ids[p.key] = area_id
        action = "create" if p.id is None else "update"
        done["created" if p.id is None else "updated"].append(p.code)
        chain = (area_id, *([p.parent_id] if p.level == "microgrid" else []), *path)
        audit.record(conn, who, audit.Change(action, "area", area_id, p.code, chain, p.version, version,
                                             {"draft": draft_id}), request_id)  # fmt: skip
    live = [p for p in microgrids if not p.removed]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO microgrid_member (microgrid_id, building_id, unit_from, unit_to, floor_from, floor_to,"
            " households) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(ids[p.key], *m) for p in live for m in p.members],
        )
        cur.executemany(
            "INSERT INTO party_cell_microgrid (microgrid_id, party_cell_id) VALUES (%s, %s)",
            [(ids[p.key], p.party_cell) for p in live if p.party_cell is not None],
        )
    retired = [p.id for p in microgrids if p.removed]
    moved = move_people(conn, retired, [ids[p.key] for p in live]) if retired else 0
    try:
        rules.enforce(conn, ids.values(), [*touched, *(m[0] for p in live for m in p.members)])
    except rules.RulesBroken as broken:
        raise DraftRefused(f"the draft cannot be saved: {broken}", broken.findings) from None
    return done | {"people_moved": moved}
