"""Export the current state of one level in the columns ``import`` reads, so export → import round-trips."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import shapely

from gridmap import sql
from gridmap.areas import membership
from gridmap.areas.levels import AREA_LEVELS, COLUMNS, HAS_GEOMETRY, LEVELS
from gridmap.coords import geometry_from_wgs84
from gridmap.errors import InvalidInput
from gridmap.io.read import parse_crs

_DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".csv": "CSV"}


def export_frame(conn: psycopg.Connection, level: str, crs: str | None = None) -> gpd.GeoDataFrame:
    """Current rows of ``level`` as a GeoDataFrame with exactly the import columns (+ geometry)."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown level {level!r}; use one of {', '.join(LEVELS)}", "level")
    if level in AREA_LEVELS:
        cur = conn.execute(sql.load("export_areas"), (AREA_LEVELS[level],))
    else:
        cur = conn.execute(sql.load("export_" + level.replace("-", "_")))
    names = [d.name for d in cur.description]
    df = pd.DataFrame(cur.fetchall(), columns=names)
    if level == "buildings":
        df["microgrid"] = [
            ";".join(membership.format_entry(*m[:5], m[5], hh) for m in members)
            for members, hh in zip(df.pop("members"), df["households"], strict=True)
        ]
        df["floors"] = df["floors"].astype("Int64")
    if not HAS_GEOMETRY[level]:
        return gpd.GeoDataFrame(df[list(COLUMNS[level])], geometry=[None] * len(df), crs=4326)
    geometry = shapely.from_wkb(df.pop("wkb").to_numpy())
    target = parse_crs(crs)
    if isinstance(target, str):
        geometry = geometry_from_wgs84(geometry, target)
        target = None
    out = gpd.GeoDataFrame(df[list(COLUMNS[level])], geometry=geometry, crs=4326)
    return out.to_crs(target) if target is not None else out


def write_frame(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``frame`` in the format its extension names (.geojson, .json, .gpkg, .shp, .csv)."""
    path = Path(path)
    driver = _DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(f"cannot tell the format of {path.name}; use one of {', '.join(_DRIVERS)}", "file")
    if driver == "CSV":
        out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
        if frame.geometry.notna().any():
            out["geometry"] = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=-1)
        out.to_csv(path, index=False)
        return path
    if path.exists():
        path.unlink()  # GDAL appends to an existing GPKG/Shapefile layer otherwise
    frame.to_file(path, driver=driver, engine="pyogrio")
    return path


def export_file(conn: psycopg.Connection, level: str, path: str | Path, crs: str | None = None) -> int:
    """Export ``level`` to ``path``; return the number of rows written."""
    frame = export_frame(conn, level, crs)
    write_frame(frame, path)
    return len(frame)
