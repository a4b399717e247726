"""Request shapes of the area and building writes; separate Create and Update models, because what a
caller may set differs (mass assignment: ``version`` is never a field, ``code``/``parent`` are admin-only
on an update)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.schemas.common import GeoJSONGeometry, Strict

Name = Field(default=None, min_length=1, max_length=200)
Attrs = Field(default=None, description="Free attributes (a JSON object, ≤ 16 kB).")


class AreaCreate(Strict):
    level: Literal["subdistrict", "community", "grid", "microgrid"]
    parent: str | None = Field(default=None, description="Parent area id or code (required below subdistrict).")
    code: str | None = Field(default=None, description="Admins only; others get the next free code under parent.")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["comprehensive", "specialised"] = "comprehensive"
    layer: str = Field(default="comprehensive", max_length=40)
    geometry: GeoJSONGeometry
    attrs: dict | None = Attrs

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "level": "grid",
                    "parent": "440309002005",
                    "name": "实验学校专属网格",
                    "kind": "specialised",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[114.03, 22.6], [114.031, 22.6], [114.031, 22.601], [114.03, 22.6]]],
                    },
                }
            ]
        },
    }


class AreaUpdate(Strict):
    name: str | None = Name
    kind: Literal["comprehensive", "specialised"] | None = None
    layer: str | None = Field(default=None, max_length=40)
    geometry: GeoJSONGeometry | None = None
    attrs: dict | None = Attrs
    code: str | None = Field(default=None, description="Admins only.")
    parent: str | None = Field(default=None, description="Admins only: move the area under another parent.")


class BuildingUpdate(Strict):
    name: str | None = Name
    compound: str | None = Field(default=None, max_length=200, description="小区 / 院落")
    building_type: str | None = Field(default=None, max_length=60)
    households: int | None = Field(default=None, ge=0, le=100_000)
    floors: int | None = Field(default=None, ge=1, le=200)
    units: int | None = Field(default=None, ge=1, le=100, description="单元 (stairwell units)")
    attrs: dict | None = Attrs
    geometry: GeoJSONGeometry | None = None
