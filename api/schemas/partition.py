"""Request shape of a partition proposal."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import Strict


class PartitionCreate(Strict):
    area: str = Field(min_length=1, max_length=18, description="Code (or id) of a grid, community or subdistrict.")
    min: int = Field(default=30, ge=1, le=10_000, description="Fewest households in a micro-grid.")
    max: int = Field(default=50, ge=1, le=10_000, description="Most households in a micro-grid.")
    seed: int = Field(default=0, ge=0, lt=2**31, description="The same seed gives the same proposal.")
    tries: int = Field(default=8, ge=1, le=64, description="Random spanning trees tried per grid.")
    cell_size: int = Field(default=2, ge=1, le=20, description="Micro-grids per party cell.")

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [{"area": "440309002005003"}]}}
