"""Mapbox Vector Tiles (``ST_AsMVT``) of the area levels and buildings, in Web Mercator XYZ.

Each layer has a lowest zoom: below it a tile is empty, so a city-wide view never asks the database
for every micro-grid or building at once (the map shows the level above instead)."""

from __future__ import annotations

import psycopg

from gridmap import sql
from gridmap.areas.levels import DEFAULT_LAYER
from gridmap.errors import InvalidInput, NotFound
from gridmap.lookup import check_layer

MAX_ZOOM = 22
# tile layer → (area level or None for buildings, lowest zoom served)
LAYERS: dict[str, tuple[str | None, int]] = {
    "subdistricts": ("subdistrict", 0),
    "communities": ("community", 6),
    "grids": ("grid", 10),
    "microgrids": ("microgrid", 13),
    "buildings": (None, 14),
}


def check_tile(layer: str, z: int, x: int, y: int) -> None:
    """NotFound for an unknown layer, InvalidInput for a tile address outside the XYZ pyramid."""
    if layer not in LAYERS:
        raise NotFound(f"no tile layer {layer!r}; layers: {', '.join(LAYERS)}")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom must be between 0 and {MAX_ZOOM}; got {z}", "z")
    side = 1 << z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < side:
            raise InvalidInput(f"{name} must be between 0 and {side - 1} at zoom {z}; got {value}", name)


def tile(
    conn: psycopg.Connection,
    layer: str,
    z: int,
    x: int,
    y: int,
    grid_layer: str = DEFAULT_LAYER,
    jurisdiction: list[int] | None = None,
) -> bytes:
    """The MVT bytes of one tile of ``layer`` (b"" when nothing is there or below the layer's zoom).
    Area layers carry code, name, kind, version, households, micro-grids, incidents, open incidents
    (counting only cases inside ``jurisdiction``: ``access.case_jurisdiction`` of the viewer, None for
    all); buildings carry code, name, households, floors and their micro-grid."""
    check_tile(layer, z, x, y)
    level, min_zoom = LAYERS[layer]
    if z < min_zoom:
        return b""
    if level is None:
        row = conn.execute(sql.load("tile_buildings"), {"z": z, "x": x, "y": y, "name": layer}).fetchone()
    else:
        check_layer(conn, grid_layer, allow_all=False)
        params = {"z": z, "x": x, "y": y, "level": level, "layer": grid_layer, "name": layer,
                  "jurisdiction": jurisdiction}  # fmt: skip
        row = conn.execute(sql.load("tile_areas"), params).fetchone()
    return bytes(row[0]) if row and row[0] else b""
