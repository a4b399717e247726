"""Planner drafts: open a draft of a community, edit it step by step (split, merge, move buildings,
reshape, draw a specialised grid, propose), undo and redo, read its findings, save it with If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import JSONResponse

from api.deps import (
    BandDep,
    Conn,
    IfMatch,
    RequestId,
    SettingsDep,
    Who,
    crs_query,
    etag,
    permission,
    reject_unknown_query,
)
from api.schemas.drafts import (
    DraftCreate,
    DrawEdit,
    Edit,
    MergeEdit,
    MoveEdit,
    ProposeEdit,
    ReshapeEdit,
    SaveRequest,
    SplitEdit,
)
from gridmap.areas.geometry import line_from_geojson, polygon_from_geojson
from gridmap.partition.drafts import Params
from gridmap.planner import drafts
from gridmap.planner.edits import Editor
from gridmap.settings import Settings

router = APIRouter(
    prefix="/api/v1",
    tags=["planner drafts"],
    dependencies=[Depends(reject_unknown_query), permission("area.write")],
)

Crs = crs_query("CRS of coordinates sent and returned: wgs84, gcj02 or bd09.")
DraftId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Draft id.")]


def _answer(doc: dict, status: int = 200) -> JSONResponse:
    headers = etag(doc["revision"]) | ({"Location": f"/api/v1/drafts/{doc['id']}"} if status == 201 else {})
    return JSONResponse(doc, status, headers=headers)


@router.post("/drafts", status_code=201, summary="Open a draft of a community")
def create(conn: Conn, who: Who, band: BandDep, body: DraftCreate, crs: Crs) -> JSONResponse:
    """An empty draft: nothing changes until it is saved. The answer is the draft (see GET)."""
    draft_id = drafts.open_draft(conn, who, body.area)
    return _answer(drafts.document(conn, who, draft_id, crs, band), 201)


@router.get("/drafts", summary="Drafts of a community not saved yet")
def listing(conn: Conn, who: Who, area: Annotated[str, Query(max_length=18, description="Community code.")]) -> dict:
    """The open drafts of a community, newest first, so a planner can pick up where they stopped."""
    return {"drafts": drafts.open_drafts(conn, who, area)}


@router.get("/drafts/{draft_id}", summary="A draft: tallies, grids, micro-grids, buildings")
def read(conn: Conn, who: Who, band: BandDep, draft_id: DraftId, crs: Crs) -> JSONResponse:
    """The community with the draft's changes: `tallies` (micro-grids under, within and over the band),
    grids, micro-grids (households, `badge`, party cell, people, `changed`) and buildings (`holders`) as
    GeoJSON, the steps taken (`can_undo`, `can_redo`) and `revision` (also the ETag; send it as If-Match)."""
    return _answer(drafts.document(conn, who, draft_id, crs, band))


def _change(body, crs: str, settings: Settings):
    """The Editor call an edit request stands for (its geometry checked and converted first)."""
    if isinstance(body, SplitEdit):
        line = line_from_geojson(body.line.model_dump(), crs, settings.limits.max_vertices)
        return lambda e: Editor.split(e, body.key, line)
    if isinstance(body, MergeEdit):
        return lambda e: Editor.merge(e, body.keys)
    if isinstance(body, MoveEdit):
        return lambda e: Editor.move(e, body.buildings, body.to)
    if isinstance(body, ProposeEdit):
        params = Params(body.min, body.max, body.seed, body.tries, body.cell_size)
        return lambda e: Editor.propose(e, body.grid, params)
    geom = polygon_from_geojson(body.geometry.model_dump(), crs, settings.limits.max_vertices)
    if isinstance(body, ReshapeEdit):
        return lambda e: Editor.reshape(e, body.key, geom, body.give_way)
    assert isinstance(body, DrawEdit)
    return lambda e: Editor.draw(e, geom, body.name, body.layer)


@router.post("/drafts/{draft_id}/edits", summary="Apply an edit to a draft")
def apply_edit(
    conn: Conn,
    who: Who,
    settings: SettingsDep,
    band: BandDep,
    draft_id: DraftId,
    if_match: IfMatch,
    body: Annotated[Edit, Body(discriminator="op")],
    crs: Crs,
) -> JSONResponse:
    """One edit, by `op`: **split** a micro-grid along a line; **merge** bordering micro-grids; **move**
    buildings (with their land) to a micro-grid; **reshape** an area (`give_way`: siblings lose what it
    takes); **draw** a specialised grid; **propose** a grid's micro-grids with the partitioner. Needs the
    draft's revision as If-Match (409 when another tab changed it). Answers the draft and `label`."""
    return _answer(drafts.edit(conn, who, draft_id, if_match, _change(body, crs, settings), crs, band))


@router.post("/drafts/{draft_id}/undo", summary="Undo the last edit of a draft")
def undo(conn: Conn, who: Who, band: BandDep, draft_id: DraftId, if_match: IfMatch, crs: Crs):
    """Steps back one edit (redo brings it back until a new edit is made)."""
    return _answer(drafts.step(conn, who, draft_id, if_match, False, crs, band))


@router.post("/drafts/{draft_id}/redo", summary="Redo an undone edit of a draft")
def redo(conn: Conn, who: Who, band: BandDep, draft_id: DraftId, if_match: IfMatch, crs: Crs):
    """Applies the next undone edit again."""
    return _answer(drafts.step(conn, who, draft_id, if_match, True, crs, band))


@router.get("/drafts/{draft_id}/findings", summary="Coverage findings of a draft's changes")
def findings(conn: Conn, who: Who, band: BandDep, draft_id: DraftId, crs: Crs) -> JSONResponse:
    """Coverage findings for the grids the draft changed, as in /api/v1/coverage, each with `blocking`
    (the save is refused) and `confirm` (the save must be confirmed: land left unassigned)."""
    doc = drafts.findings(conn, who, draft_id, crs, band)
    return JSONResponse(doc, media_type="application/geo+json", headers=etag(doc["revision"]))


@router.post("/drafts/{draft_id}/save", summary="Save a draft as new versions")
def save(
    conn: Conn, who: Who, request_id: RequestId, draft_id: DraftId, if_match: IfMatch, body: SaveRequest | None = None
) -> dict:
    """Writes every change in one transaction, with an audit entry per area. 409 when someone saved one
    of the changed areas meanwhile (the message says who and when: reload the draft); 422 `draft_refused`
    with the `findings` when it would overlap, stick out or misplace buildings; 422
    `confirmation_required` when it leaves land unassigned and `confirm` is not set."""
    confirm = body.confirm if body else False
    return drafts.save(conn, who, draft_id, if_match, confirm, request_id)
