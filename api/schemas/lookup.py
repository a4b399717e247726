"""Request and response shapes of the lookup and area-query endpoints (they also document /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import GeoJSONGeometry, Strict


class PointIn(Strict):
    id: str | int | None = Field(default=None, description="Your reference, echoed back.")
    lon: float = Field(description="Longitude in the batch's crs.", examples=[114.0405])
    lat: float = Field(description="Latitude in the batch's crs.", examples=[22.6187])


class AreaPublic(BaseModel):
    id: int
    code: str = Field(examples=["440309002005061001"])
    name: str
    level: Literal["microgrid", "grid", "community", "subdistrict"]
    kind: Literal["comprehensive", "specialised"]
    layer: str
    version: int
    households: int = Field(description="Today's total of the households of its micro-grids.")
    valid_from: datetime
    valid_to: datetime | None


class PersonPublic(BaseModel):
    name: str
    role: Literal["grid_worker", "microgrid_worker", "building_chief", "cell_leader"]
    phone: str
    area: str | None = Field(description="Code of the area the person answers for.")
    party_cell: str | None


class PartyCellPublic(BaseModel):
    id: int
    code: str
    name: str
    branch: str | None


class BuildingPublic(BaseModel):
    id: int
    code: str
    name: str | None
    compound: str | None
    type: str | None
    households: int
    floors: int | None
    units: int


class UnitPart(BaseModel):
    microgrid: AreaPublic
    unit_from: int | None
    unit_to: int | None
    floor_from: int | None
    floor_to: int | None
    households: int
    party_cell: str | None


class OwnerRef(BaseModel):
    id: int
    code: str
    name: str
    level: str


class PointEcho(BaseModel):
    lon: float
    lat: float
    crs: Literal["wgs84", "gcj02", "bd09"]
    wgs84: tuple[float, float] = Field(description="The point as stored and searched, (lon, lat).")


class LookupRecord(BaseModel):
    id: str | int | None = Field(default=None, description="Batch only: the id you sent.")
    point: PointEcho
    layer: str
    match: Literal["inside", "nearest", "unassigned"]
    distance_m: float | None = Field(description="Set when match is nearest.")
    microgrid: AreaPublic | None = Field(description="Null when unassigned, or in a split building without unit.")
    grid: AreaPublic | None
    community: AreaPublic | None
    subdistrict: AreaPublic | None
    owner: OwnerRef | None = Field(description="Whom to route to: the smallest area that answers for the point.")
    fallback: bool = Field(description="True when no micro-grid owns the point and an enclosing area does (属地兜底).")
    note: str
    party_cell: PartyCellPublic | None
    building: BuildingPublic | None
    units: list[UnitPart] | None = Field(description="The micro-grids of a building split by unit/floor.")
    people: list[PersonPublic]


class LayeredRecord(BaseModel):
    id: str | int | None = None
    layers: list[LookupRecord]


class AreaQueryIn(Strict):
    """Either a GeoJSON polygon, or a circle given by centre and radius."""

    geometry: GeoJSONGeometry | None = None
    lon: float | None = None
    lat: float | None = None
    radius_m: float | None = Field(default=None, gt=0, description="Circle radius in metres.")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"lon": 114.0405, "lat": 22.6187, "radius_m": 300},
                {
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[114.04, 22.61], [114.05, 22.61], [114.05, 22.62], [114.04, 22.62], [114.04, 22.61]]
                        ],
                    }
                },
            ]
        },
    )
