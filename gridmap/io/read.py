"""Read any table geopandas/pyogrio can open (GeoJSON, GPKG, Shapefile) or a CSV with WKT or lon/lat,
and bring its geometries to WGS-84."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridmap.coords import CHINESE_CRS, geometry_to_wgs84
from gridmap.errors import InvalidInput

WGS84 = CRS.from_epsg(4326)
_WKT_COLUMNS = ("geometry", "wkt", "geom")


def parse_crs(value: str | None) -> str | CRS | None:
    """Turn a ``--crs`` value into 'wgs84'|'gcj02'|'bd09', a pyproj CRS, or None (use the file's)."""
    if value is None or value == "":
        return None
    low = value.strip().lower()
    if low in CHINESE_CRS:
        return low
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise InvalidInput(f"unknown CRS {value!r}: use wgs84, gcj02, bd09 or EPSG:xxxx", "crs") from exc


def _read_csv(path: Path) -> gpd.GeoDataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [str(c).strip().lower() for c in df.columns]
    wkt_col = next((c for c in _WKT_COLUMNS if c in df.columns), None)
    if wkt_col is not None:
        text = df.pop(wkt_col).replace("", None)
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
    elif {"lon", "lat"} <= set(df.columns):
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=float)
        geoms = shapely.points(lon, lat)
        geoms[np.isnan(lon) & np.isnan(lat)] = None
    else:
        geoms = np.full(len(df), None, dtype=object)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index), crs=None)


def read_table(path: str | Path, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read ``path`` into a GeoDataFrame in WGS-84 with lower-case column names.

    ``crs`` overrides the file's own CRS: 'wgs84', 'gcj02', 'bd09' (lon/lat in that Chinese system)
    or anything pyproj understands. A file without a CRS is taken as WGS-84. Rows keep their order;
    unreadable geometries become None for the validator to report.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file: {path}", "file")
    target = parse_crs(crs)
    try:
        if path.suffix.lower() == ".csv":
            gdf = _read_csv(path)
        else:
            gdf = gpd.read_file(path, engine="pyogrio")
            gdf.columns = [c if c == gdf.geometry.name else str(c).strip().lower() for c in gdf.columns]
            if gdf.geometry.name != "geometry":
                gdf = gdf.rename_geometry("geometry")
    except Exception as exc:  # pyogrio/GDAL/pandas raise many types for an unreadable file
        raise InvalidInput(f"cannot read {path.name}: {exc}", "file") from exc

    if isinstance(target, str):
        # The file's coordinates are lon/lat in a Chinese system whatever the file says.
        gdf = gdf.set_crs(WGS84, allow_override=True)
        if target != "wgs84":
            gdf["geometry"] = geometry_to_wgs84(gdf.geometry.to_numpy(), target)
        return gdf
    if target is not None:
        gdf = gdf.set_crs(target, allow_override=True)
    elif gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    if not gdf.crs.equals(WGS84) and not gdf.geometry.isna().all():
        gdf = gdf.to_crs(WGS84)
    return gdf.set_crs(WGS84, allow_override=True)
