"""Shapes shared by several resources."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Requests refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class GeoJSONGeometry(Strict):
    """A GeoJSON Polygon or MultiPolygon; a ``crs`` member is refused (say ``crs=`` in the query)."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list
