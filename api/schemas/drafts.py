"""Request shapes of planner drafts: open one, and the edits (one shape per ``op``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.schemas.common import GeoJSONGeometry, Strict

Key = Annotated[
    str,
    Field(
        min_length=1, max_length=24, pattern=r"^n?[0-9]+$",
        description="Piece key: an area id, or n<k> for a piece the draft made.",
    ),
]  # fmt: skip


class DraftCreate(Strict):
    area: str = Field(min_length=1, max_length=18, description="Code (or id) of a community in your jurisdiction.")

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [{"area": "440309002005"}]}}


class GeoJSONLine(Strict):
    type: Literal["LineString"]
    coordinates: list


class SplitEdit(Strict):
    op: Literal["split"]
    key: Key
    line: GeoJSONLine = Field(description="A line across the micro-grid, from outside to outside.")


class MergeEdit(Strict):
    op: Literal["merge"]
    keys: list[Key] = Field(min_length=2, max_length=50, description="Bordering micro-grids of one grid.")


class MoveEdit(Strict):
    op: Literal["move"]
    buildings: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1, max_length=500)
    to: Key = Field(description="The micro-grid that takes the buildings (and their land).")


class ReshapeEdit(Strict):
    op: Literal["reshape"]
    key: Key
    geometry: GeoJSONGeometry
    give_way: bool = Field(default=True, description="Sibling micro-grids lose what the new outline takes.")


class DrawEdit(Strict):
    op: Literal["draw"]
    geometry: GeoJSONGeometry
    name: str = Field(min_length=1, max_length=200)
    layer: str = Field(default="specialised", min_length=1, max_length=40, description="Its own layer, e.g. school.")


class ProposeEdit(Strict):
    op: Literal["propose"]
    grid: Key
    min: int = Field(default=30, ge=1, le=10_000)
    max: int = Field(default=50, ge=1, le=10_000)
    seed: int = Field(default=0, ge=0, lt=2**31)
    tries: int = Field(default=8, ge=1, le=64)
    cell_size: int = Field(default=2, ge=1, le=20)


Edit = Annotated[SplitEdit | MergeEdit | MoveEdit | ReshapeEdit | DrawEdit | ProposeEdit, Field(discriminator="op")]


class SaveRequest(Strict):
    confirm: bool = Field(default=False, description="Save even though the draft leaves land unassigned.")
