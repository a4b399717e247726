"""GeoJSON (RFC 7946) Features and FeatureCollections, written one way for every collection gridmap serves.

What it promises:

* a Feature is ``{"type": "Feature", "id": …, "geometry": …, "properties": …}`` in that key order; ``id``
  only when one is given (RFC 7946 makes it optional);
* a FeatureCollection is ``{"type": "FeatureCollection", <foreign members>…, "features": […]}``: members
  such as ``numberMatched`` or ``summary`` come between ``type`` and ``features``, in the order given;
* a geometry may be given as a shapely geometry, as WKB (bytes, or a hex string: what ``ST_AsBinary`` and
  stored drafts hold) or as an already-GeoJSON mapping. Shapely and WKB geometries are WGS-84, as
  stored, and come out in ``crs`` (wgs84, gcj02 or bd09; ``gridmap.coords``), rounded to ``digits``
  decimals when asked; a mapping is taken to be in its output CRS already and is used as it is;
* no ``crs`` member is written: the caller's ``crs=`` says what the coordinates are;
* properties and mappings are used as given (not copied), so callers own what they pass.

It knows no database and no web framework: rows come in as plain tuples."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import shapely

from gridmap.coords import geometry_from_wgs84

GeometryLike = shapely.Geometry | bytes | memoryview | str | Mapping | None


def geometry(geom: GeometryLike, crs: str = "wgs84", digits: int | None = None) -> dict | Mapping | None:
    """The GeoJSON geometry object of ``geom`` (shapely, WKB bytes or hex, or a GeoJSON mapping, passed
    through unchanged) with WGS-84 coordinates turned into ``crs`` and rounded to ``digits`` decimals
    when given; None (a Feature without a location) stays None."""
    if geom is None or isinstance(geom, Mapping):
        return geom
    if isinstance(geom, (bytes, memoryview, str)):
        geom = shapely.from_wkb(bytes(geom) if isinstance(geom, memoryview) else geom)
    geom = geometry_from_wgs84(geom, crs)
    if digits is not None:
        geom = shapely.transform(geom, lambda xy: np.round(xy, digits))
    return json.loads(shapely.to_geojson(geom))


def feature(
    geom: GeometryLike, properties: Mapping, id: object = None, crs: str = "wgs84", digits: int | None = None
) -> dict:
    """A GeoJSON Feature: ``id`` (left out when None), the geometry as ``geometry`` makes it from ``geom``,
    ``crs`` and ``digits``, and ``properties`` as given."""
    out: dict = {"type": "Feature"}
    if id is not None:
        out["id"] = id
    out["geometry"] = geometry(geom, crs, digits)
    out["properties"] = properties
    return out


def collection(features: Iterable[Mapping], **members: object) -> dict:
    """A GeoJSON FeatureCollection of ``features``, with ``members`` (e.g. ``numberMatched``, ``summary``)
    after ``type`` and before ``features``, in the order given."""
    return {"type": "FeatureCollection", **members, "features": list(features)}


def from_rows(rows: Iterable[Sequence], crs: str = "wgs84", id_key: str = "id") -> list[dict]:
    """Features from database rows whose first two columns are a properties object and a WGS-84 WKB
    geometry (further columns, such as a window count, are ignored); each Feature's id is the property
    ``id_key``."""
    return [feature(row[1], row[0], id=row[0][id_key], crs=crs) for row in rows]
