"""Household-balanced partition: POST /api/v1/partition makes a draft, GET reads it, POST …/apply writes
it as new micro-grid versions (planners and admins, inside their jurisdiction)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from api.deps import Conn, RequestId, Who, crs_query, permission, reject_unknown_query
from api.schemas.partition import PartitionCreate
from gridmap.partition.drafts import Params, apply_draft, get_draft, propose

router = APIRouter(
    prefix="/api/v1",
    tags=["partition"],
    dependencies=[Depends(reject_unknown_query), permission("area.write")],
)

Crs = crs_query("CRS of the output coordinates: wgs84, gcj02 or bd09.")
DraftId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Draft id.")]


@router.post("/partition", status_code=201, summary="Propose micro-grids for a grid, community or subdistrict")
def create(conn: Conn, who: Who, body: PartitionCreate, crs: Crs) -> JSONResponse:
    """Propose micro-grids of `min`–`max` households for every grid in `area` and keep the proposal as
    a draft. Nothing changes until the draft is applied. The answer holds the summary (share in the
    band, Polsby-Popper median, worst outliers with reasons), per-grid problems and party cells, and
    the micro-grids as GeoJSON."""
    params = Params(body.min, body.max, body.seed, body.tries, body.cell_size)
    draft = propose(conn, who, body.area, params, crs=crs)
    return JSONResponse(draft, 201, headers={"Location": f"/api/v1/partition/{draft['id']}"})


@router.get("/partition/{draft_id}", summary="A partition draft")
def read(conn: Conn, who: Who, draft_id: DraftId, crs: Crs) -> dict:
    """The draft as made (or as applied): summary, problems, party cells and micro-grids."""
    return get_draft(conn, who, draft_id, crs)


@router.post("/partition/{draft_id}/apply", summary="Apply a partition draft")
def apply(conn: Conn, who: Who, request_id: RequestId, draft_id: DraftId) -> dict:
    """Close the grids' current micro-grids and write the drafted ones in one transaction, with an
    audit entry per grid. 409 when the draft was applied already or its grids, micro-grids or
    buildings changed since it was made."""
    return apply_draft(conn, who, draft_id, request_id)
