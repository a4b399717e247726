"""Shapes shared by several resources."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from gridmap.areas.geometry import polygon_from_geojson


class Strict(BaseModel):
    """Requests refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class GeoJSONGeometry(Strict):
    """A GeoJSON Polygon or MultiPolygon; a ``crs`` member is refused (say ``crs=`` in the query)."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list


def given_fields(body: BaseModel, crs: str, max_vertices: int, exclude: frozenset[str] = frozenset()) -> dict:
    """The fields a request set (for an edit: what to change), its GeoJSON ``geometry`` turned into a
    checked WGS-84 polygon."""
    given = body.model_dump(exclude_unset=True, exclude=set(exclude))
    if getattr(body, "geometry", None) is not None:
        given["geometry"] = polygon_from_geojson(body.geometry.model_dump(), crs, max_vertices)
    return given
