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
from gridmap.io.read import LABEL, MEMBERS, parse_crs

DBF_TEXT_BYTES = 254
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
            membership.format_members(members, hh)
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


def write_frame(frame: gpd.GeoDataFrame, path: str | Path, datum: str | None = None) -> Path:
    """Write ``frame`` in the format its extension names (.geojson, .json, .gpkg, .shp, .csv). CSV is
    UTF-8 with a byte-order mark (so Excel shows the Chinese). With ``datum`` 'gcj02' or 'bd09' (coordinates
    already in it) the file says so, since no format has a code for these systems and their SRS says WGS-84:
    a ``crs`` column, for a Shapefile also a ``<name>.crs`` sidecar, for CSV a first line ``# crs=gcj02``;
    ``gridmap.io.read`` reads each back."""
    path = Path(path)
    driver = _DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(f"cannot tell the format of {path.name}; use one of {', '.join(_DRIVERS)}", "file")
    labelled = datum in ("gcj02", "bd09")
    if driver == "CSV":
        out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
        if frame.geometry.notna().any():
            out["geometry"] = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=-1)
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            if labelled:
                f.write(f"# {LABEL}={datum}\n")
            out.to_csv(f, index=False)
        return path
    if path.exists():
        path.unlink()  # GDAL appends to an existing GPKG/Shapefile layer otherwise
    if labelled:
        frame = frame.assign(**{LABEL: datum})
    if driver == "ESRI Shapefile":
        frame = _split_long_text(frame)
    frame.to_file(path, driver=driver, engine="pyogrio")
    sidecar = path.with_suffix(".crs")
    if driver == "ESRI Shapefile" and labelled:
        sidecar.write_text(datum + "\n", encoding="utf-8")
    elif driver == "ESRI Shapefile" and sidecar.exists():
        sidecar.unlink()  # a label left from an earlier export would lie about this one
    return path


def _split_long_text(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A dBase text field holds 254 bytes, and a tower split into ten unit/floor micro-grids needs more: the
    ``microgrid`` cells are cut at ``;`` into ``microgrid``, ``microgrid2``, … (each within the limit), which
    ``gridmap.io.read`` joins back."""
    if MEMBERS not in frame.columns:
        return frame
    parts = [_cut(text) for text in frame[MEMBERS].fillna("")]
    width = max((len(p) for p in parts), default=1)
    out = frame.copy()
    for k in range(width):
        out[MEMBERS if k == 0 else f"{MEMBERS}{k + 1}"] = [p[k] if k < len(p) else "" for p in parts]
    return out


def _cut(text: str) -> list[str]:
    chunks: list[str] = []
    for entry in text.split(";") if text else []:
        if chunks and len((chunks[-1] + ";" + entry).encode("utf-8")) <= DBF_TEXT_BYTES:
            chunks[-1] += ";" + entry
        else:
            chunks.append(entry)
    return chunks or [""]


def export_file(conn: psycopg.Connection, level: str, path: str | Path, crs: str | None = None) -> int:
    """Export ``level`` to ``path`` in ``crs`` (default WGS-84); return the number of rows written. A file in
    GCJ-02 or BD-09 carries the label ``write_frame`` describes."""
    frame = export_frame(conn, level, crs)
    label = parse_crs(crs)
    write_frame(frame, path, label if isinstance(label, str) else None)
    return len(frame)
