"""Partition drafts in the database: propose micro-grids for a grid, community or subdistrict (a draft
that changes nothing), read a draft, and apply it as new versions in one transaction.

Applying closes the grid's current micro-grids and creates the proposed ones with fresh codes (codes
are never reused, so incidents routed to the old micro-grids keep an unambiguous answer). People of a
retired micro-grid move to the new micro-grid covering most of it; the grid's party cells are reused
in code order before new ones are made. Nothing is applied if the grids, their micro-grids or their
buildings changed after the draft was made (VersionConflict)."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import psycopg
import shapely
from psycopg.types.json import Jsonb

from gridmap import geojson, sql
from gridmap.access import audit
from gridmap.access.rules import Principal, check_jurisdiction, require
from gridmap.areas import rules
from gridmap.areas.codes import child_code
from gridmap.areas.edit import area_in_jurisdiction, insert_version, last_sequence, move_people
from gridmap.db.locks import lock_children, lock_for_edit
from gridmap.errors import InvalidInput, NotFound, StateConflict, VersionConflict
from gridmap.partition.algorithm import Band, Building, GridProposal, propose_grid, tiling_problems

MAX_BAND = 10_000
WORST_SHOWN = 10


@dataclass(frozen=True)
class Params:
    """What a proposal is asked for."""

    min: int = 30
    max: int = 50
    seed: int = 0
    tries: int = 8
    cell_size: int = 2

    def band(self) -> Band:
        """The household band, or InvalidInput naming the bad bound."""
        if not 1 <= self.min <= self.max <= MAX_BAND:
            raise InvalidInput(f"need 1 ≤ min ≤ max ≤ {MAX_BAND}; got min {self.min}, max {self.max}", "min")
        if not 1 <= self.tries <= 64:
            raise InvalidInput(f"tries must be between 1 and 64; got {self.tries}", "tries")
        if not 1 <= self.cell_size <= 20:
            raise InvalidInput(f"cell_size must be between 1 and 20; got {self.cell_size}", "cell_size")
        if not 0 <= self.seed < 2**31:
            raise InvalidInput("seed must be between 0 and 2147483647", "seed")
        return Band(self.min, self.max)


def _scope(conn: psycopg.Connection, who: Principal, area: str) -> tuple[int, str, list[int]]:
    area_id, code, level, path = area_in_jurisdiction(conn, who, area)
    if level == "microgrid":
        raise InvalidInput("partition a grid, a community or a subdistrict, not a micro-grid", "area")
    return area_id, code, list(path)


def _grids(conn: psycopg.Connection, scope_id: int) -> tuple[list[dict], dict[int, list], str]:
    """Grids in scope, their buildings, and a digest of those buildings (to notice later changes)."""
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    grids = cur.execute(sql.load("partition_scope"), {"scope": scope_id}).fetchall()
    rows = cur.execute(sql.load("partition_buildings"), {"grids": [g["id"] for g in grids]}).fetchall()
    by_grid: dict[int, list] = {g["id"]: [] for g in grids}
    for r in rows:
        by_grid[r["grid_id"]].append(r)
    digest = hashlib.sha256("".join(sorted(r["digest"] for r in rows)).encode()).hexdigest()
    return grids, by_grid, digest


def propose(
    conn: psycopg.Connection,
    who: Principal,
    area: str,
    params: Params,
    on_grid: Callable[[int, int], None] | None = None,
    crs: str = "wgs84",
) -> dict:
    """Propose micro-grids for every grid in ``area`` (a code or id) and store them as a draft; return
    the draft (see ``get_draft``, coordinates in ``crs``). Changes no area."""
    require(who, "area.write")
    band = params.band()
    started = time.perf_counter()
    scope_id, scope_code, scope_path = _scope(conn, who, area)
    grids, by_grid, digest = _grids(conn, scope_id)
    if not grids:
        raise InvalidInput(f"area {scope_code} has no grids to partition", "area")
    planned = []
    for done, g in enumerate(grids, start=1):
        buildings = [
            Building(
                r["id"], r["households"], shapely.from_wkb(r["wkb"]), r["units"], r["floors"], r["name"] or r["code"]
            )
            for r in by_grid[g["id"]]
        ]
        grid_geom = shapely.from_wkb(g["wkb"])
        proposal = propose_grid(grid_geom, buildings, band, params.seed, params.tries, params.cell_size)
        first = last_sequence(conn, g["id"], "microgrid") + 1
        if first + len(proposal.microgrids) - 1 > 999:
            raise InvalidInput(f"grid {g['code']} has too few free micro-grid codes left for this proposal", "area")
        planned.append(_plan(g, buildings, proposal, first, tiling_problems(grid_geom, proposal)))
        if on_grid:
            on_grid(done, len(grids))
    base = {
        "grids": {str(g["id"]): g["version"] for g in grids},
        "microgrids": {str(g["id"]): g["microgrids"] for g in grids},
        "buildings": digest,
    }
    summary = _summary(planned, band, time.perf_counter() - started)
    with conn.transaction():
        draft_id = conn.execute(
        "INSERT INTO partition_draft (scope_id, scope_code, scope_path, params, base, proposal, summary, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (scope_id, scope_code, scope_path, Jsonb(asdict(params)), Jsonb(base), Jsonb(planned), Jsonb(summary),
         who.name),
        ).fetchone()[0]  # fmt: skip
    return get_draft(conn, who, draft_id, crs)


def _plan(grid: dict, buildings: list[Building], proposal: GridProposal, first: int, tiling: list[str]) -> dict:
    """One grid's proposal as stored: codes assigned, geometry as WKB hex (exact), members by building id."""
    codes = {m.sequence: child_code(grid["code"], first + m.sequence - 1) for m in proposal.microgrids}
    microgrids = [
        {
            "code": codes[m.sequence],
            "name": f"{grid['name']}{first + m.sequence - 1}号微网格",
            "households": m.households,
            "in_band": m.in_band,
            "reason": m.reason,
            "polsby_popper": m.polsby_popper,
            "party_cell": m.party_cell,
            "wkb": shapely.to_wkb(shapely.multipolygons(shapely.get_parts(m.geometry)), hex=True),
            "members": [
                [buildings[p.building].key, p.unit_from, p.unit_to, p.floor_from, p.floor_to, p.households]
                for p in m.parts
            ],
        }
        for m in proposal.microgrids
    ]
    return {
        "grid_id": grid["id"],
        "grid_code": grid["code"],
        "grid_name": grid["name"],
        "grid_path": grid["path"],
        "households": proposal.households,
        "problems": proposal.problems,
        "tiling": tiling,
        "microgrids": microgrids,
        "party_cells": [[codes[s] for s in cell] for cell in proposal.party_cells],
    }


def _summary(planned: list[dict], band: Band, seconds: float) -> dict:
    mgs = [m | {"grid": g["grid_code"]} for g in planned for m in g["microgrids"]]
    housed = [m for m in mgs if m["households"] > 0]
    worst = sorted(
        (m for m in housed if not m["in_band"]),
        key=lambda m: (-max(band.lo - m["households"], m["households"] - band.hi), m["code"]),
    )[:WORST_SHOWN]
    return {
        "grids": len(planned),
        "microgrids": len(mgs),
        "households": sum(g["households"] for g in planned),
        "in_band": sum(m["in_band"] for m in mgs),
        "without_households": len(mgs) - len(housed),
        "share_in_band": round(sum(m["in_band"] for m in mgs) / len(mgs), 4) if mgs else None,
        "share_in_band_with_households": round(sum(m["in_band"] for m in housed) / len(housed), 4) if housed else None,
        "polsby_popper_median": round(statistics.median(m["polsby_popper"] for m in mgs), 4) if mgs else None,
        "party_cells": sum(len(g["party_cells"]) for g in planned),
        "tiling_problems": sum(len(g["tiling"]) for g in planned),
        "worst": [{k: m[k] for k in ("code", "grid", "households", "reason")} for m in worst],
        "seconds": round(seconds, 2),
    }


def _draft_row(conn: psycopg.Connection, who: Principal, draft_id: int, lock: bool = False) -> dict:
    query = (
        "SELECT * FROM partition_draft WHERE id = %s FOR UPDATE"
        if lock
        else ("SELECT * FROM partition_draft WHERE id = %s")
    )
    row = conn.cursor(row_factory=psycopg.rows.dict_row).execute(query, (draft_id,)).fetchone()
    if row is None:
        raise NotFound(f"partition draft {draft_id} does not exist")
    check_jurisdiction(who, row["scope_path"], f"partition draft {draft_id}")
    return row


def get_draft(conn: psycopg.Connection, who: Principal, draft_id: int, crs: str = "wgs84") -> dict:
    """A stored draft as a document: status, parameters, summary, per-grid problems and party cells,
    and the proposed micro-grids as a GeoJSON FeatureCollection (coordinates in ``crs``)."""
    require(who, "area.write")
    row = _draft_row(conn, who, draft_id)
    features = [
        geojson.feature(m["wkb"], {k: v for k, v in m.items() if k != "wkb"} | {"grid": plan["grid_code"]}, crs=crs)
        for plan in row["proposal"]
        for m in plan["microgrids"]
    ]
    return {
        "id": row["id"],
        "status": "applied" if row["applied_at"] else "draft",
        "area": row["scope_code"],
        "params": row["params"],
        "summary": row["summary"],
        "grids": [
            {k: plan[k] for k in ("grid_code", "households", "problems", "tiling", "party_cells")}
            for plan in row["proposal"]
        ],
        "created_by": row["created_by"],
        "created_at": row["created_at"].isoformat(),
        "applied_by": row["applied_by"],
        "applied_at": row["applied_at"].isoformat() if row["applied_at"] else None,
        "microgrids": geojson.collection(features),
    }


def apply_draft(conn: psycopg.Connection, who: Principal, draft_id: int, request_id: str | None = None) -> dict:
    """Write a draft's micro-grids as new versions in one transaction and return what changed.

    Raises StateConflict when the draft was applied already and VersionConflict when a grid, its
    micro-grids or its buildings changed after the draft was made (make a new proposal then)."""
    require(who, "area.write")
    with conn.transaction():
        lock_for_edit(conn)
        draft = _draft_row(conn, who, draft_id, lock=True)
        if draft["applied_at"] is not None:
            raise StateConflict(f"partition draft {draft_id} was applied at {draft['applied_at'].isoformat()}")
        plans = draft["proposal"]
        for plan in plans:
            lock_children(conn, plan["grid_id"], "microgrid")
        _check_base(conn, draft)
        totals = {"retired": 0, "created": 0, "people_moved": 0, "party_cells_created": 0, "party_cells_reused": 0}
        for plan in plans:
            done = _apply_grid(conn, plan)
            for key, value in done.items():
                totals[key] += value if isinstance(value, int) else len(value)
            audit.record(
                conn,
                who,
                audit.Change("partition", "area", plan["grid_id"], plan["grid_code"], tuple(plan["grid_path"]),
                             detail={"draft": draft_id} | done),
                request_id,
            )  # fmt: skip
        conn.execute(
            "UPDATE partition_draft SET applied_by = %s, applied_at = now() WHERE id = %s", (who.name, draft_id)
        )
    return {"draft": draft_id, "grids": len(plans)} | totals


def _check_base(conn: psycopg.Connection, draft: dict) -> None:
    grids, _, digest = _grids(conn, draft["scope_id"])
    base = draft["base"]
    now_grids = {str(g["id"]): g["version"] for g in grids}
    now_mgs = {str(g["id"]): g["microgrids"] for g in grids}
    stale = sorted(
        g["code"]
        for g in grids
        if base["grids"].get(str(g["id"])) != g["version"]
        or base["microgrids"].get(str(g["id"])) != now_mgs[str(g["id"])]
    )
    if stale or set(now_grids) != set(base["grids"]):
        shown = ", ".join(stale[:5]) or "the set of grids"
        raise VersionConflict(
            f"partition draft {draft['id']}: {shown} changed after the draft was made; make a new proposal", None, None
        )
    if digest != base["buildings"]:
        raise VersionConflict(
            f"partition draft {draft['id']}: buildings in {draft['scope_code']} changed after the draft was made;"
            " make a new proposal",
            None,
            None,
        )


def _apply_grid(conn: psycopg.Connection, plan: dict) -> dict:
    """Replace one grid's micro-grids by the planned ones; return codes retired/created and counts."""
    grid_id = plan["grid_id"]
    old = conn.execute(
        "SELECT id, code FROM area WHERE parent_id = %s AND level = 'microgrid' AND valid_to IS NULL ORDER BY code",
        (grid_id,),
    ).fetchall()
    old_ids = [r[0] for r in old]
    old_cells = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT pc.id, pc.code FROM party_cell_microgrid pcm"
            " JOIN party_cell pc ON pc.id = pcm.party_cell_id WHERE pcm.microgrid_id = ANY(%s) ORDER BY pc.code",
            (old_ids,),
        ).fetchall()
    ]
    placed = sorted({m[0] for mg in plan["microgrids"] for m in mg["members"]})
    # Buildings the old micro-grids held: the rules check them again once the new ones are written.
    old_members = [b for (b,) in conn.execute(
        "SELECT DISTINCT building_id FROM microgrid_member WHERE microgrid_id = ANY(%s)", (old_ids,)
    )]  # fmt: skip
    conn.execute("DELETE FROM party_cell_microgrid WHERE microgrid_id = ANY(%s)", (old_ids,))
    conn.execute(
        "DELETE FROM microgrid_member WHERE microgrid_id = ANY(%s) OR building_id = ANY(%s)", (old_ids, placed)
    )
    conn.execute("UPDATE area SET valid_to = now() WHERE id = ANY(%s) AND valid_to IS NULL", (old_ids,))
    new_ids: dict[str, int] = {}
    for mg in plan["microgrids"]:
        area_id = conn.execute("INSERT INTO area_identity (level) VALUES ('microgrid') RETURNING id").fetchone()[0]
        insert_version(conn, dict(
            id=area_id, version=1, level="microgrid", code=mg["code"], parent_id=grid_id, name=mg["name"],
            kind="comprehensive", layer="comprehensive", wkb=bytes.fromhex(mg["wkb"]), attrs=Jsonb({}),
        ))  # fmt: skip
        new_ids[mg["code"]] = area_id
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO microgrid_member (microgrid_id, building_id, unit_from, unit_to, floor_from, floor_to,"
            " households) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(new_ids[mg["code"]], *member) for mg in plan["microgrids"] for member in mg["members"]],
        )
    moved = move_people(conn, old_ids, list(new_ids.values()))
    rules.enforce(conn, new_ids.values(), [*placed, *old_members])
    created = _party_cells(conn, plan, new_ids, old_cells)
    return {
        "retired": [r[1] for r in old],
        "created": list(new_ids),
        "people_moved": moved,
        "party_cells_reused": min(len(old_cells), len(plan["party_cells"])),
        "party_cells_created": created,
    }


def _party_cells(conn: psycopg.Connection, plan: dict, new_ids: dict[str, int], old_cells: list[int]) -> int:
    """Link the planned party cells, reusing the grid's old cells first; return how many were created."""
    prefix = f"{plan['grid_code']}-P"
    taken = {
        r[0] for r in conn.execute("SELECT code FROM party_cell WHERE starts_with(code, %s)", (prefix,)).fetchall()
    }
    number, created = 0, 0
    for i, cell in enumerate(plan["party_cells"]):
        if i < len(old_cells):
            cell_id = old_cells[i]
        else:
            number += 1
            while f"{prefix}{number:02d}" in taken:
                number += 1
            cell_id = conn.execute(
                "INSERT INTO party_cell (code, name, branch) VALUES (%s, %s, %s) RETURNING id",
                (f"{prefix}{number:02d}", f"{plan['grid_name']}第{number}党小组", f"{plan['grid_name']}党支部"),
            ).fetchone()[0]
            created += 1
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO party_cell_microgrid (microgrid_id, party_cell_id) VALUES (%s, %s)",
                [(new_ids[code], cell_id) for code in cell],
            )
    return created
