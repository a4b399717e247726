"""The base map every map page draws under the project's layers, as the pages are told it.

A base map is off by default (the pages stay offline and the project's own layers — building footprints,
area outlines, labels — make the base). When one is configured its datum says where its pixels sit:
Chinese services (AMap/Gaode, Tencent) draw in GCJ-02, so every overlay must be shifted onto GCJ-02 to
line up with their streets (the pages do it with ``gcoord``, the vector tiles with ``datum=gcj02``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from gridmap.settings import MapSettings, Settings


def basemap(maps: MapSettings) -> dict | None:
    """The configured base map as the pages read it (``url``, ``type`` raster|style, ``datum`` wgs84|gcj02,
    ``attribution``), or None when none is configured."""
    if not maps.map_tiles_url:
        return None
    return {"url": maps.map_tiles_url, "type": maps.map_tiles_type, "datum": maps.map_tiles_crs,
            "attribution": maps.map_tiles_attribution}  # fmt: skip


def page_config(settings: Settings) -> dict:
    """What a map page needs before it draws: the base map (or None), the deepest zoom, the time zone
    people read times in."""
    return {"basemap": basemap(settings.maps), "max_zoom": settings.maps.map_max_zoom, "timezone": settings.timezone}


def basemap_origin(maps: MapSettings) -> str | None:
    """The origin a page must be let load the base map from ({s}.tile.example → *.tile.example), or None."""
    if not maps.map_tiles_url:
        return None
    parts = urlsplit(maps.map_tiles_url)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"
