"""Read any table geopandas/pyogrio can open (GeoJSON, GPKG, Shapefile) or a CSV with WKT or lon/lat, as an
office sends it, and bring its geometries to WGS-84.

How the file is read is reported back (``Source``) because each part may be a guess:

* **coordinates** (``crs_source``): ``given`` (``--crs``), ``label`` (the file says it holds GCJ-02 or BD-09:
  a ``crs`` column, a Shapefile's ``<name>.crs`` sidecar, a CSV's first line ``# crs=gcj02``, as ``gridmap
  export`` writes them), ``file`` (the format's own CRS: a ``.prj``, a GeoPackage's SRS), or ``none`` (taken
  as WGS-84; a GeoJSON's CRS84 counts as none, since software stamps it on GCJ-02 data too). The importer
  checks ``none`` and WGS-84 ``file`` reads against the stored map (gridmap.io.datum).
* **encoding** (``encoding_source``): see gridmap.io.encoding (GeoPackage is always UTF-8: None).
* **columns** (``renamed``): see gridmap.io.columns.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridmap.coords import CHINESE_CRS, geometry_to_wgs84
from gridmap.errors import InvalidInput
from gridmap.io import columns, encoding

WGS84 = CRS.from_epsg(4326)
_WKT_COLUMNS = ("geometry", "wkt", "geom")
# The datum label gridmap export writes into GCJ-02/BD-09 files (see the module docstring).
LABEL = "crs"
# A building's memberships; a Shapefile holds long ones as microgrid, microgrid2, … (gridmap.io.export).
MEMBERS = "microgrid"
_MORE_MEMBERS = re.compile(rf"^{MEMBERS}(\d+)$")
SAMPLE_NAMES = 5


@dataclass(frozen=True)
class Source:
    """A file read: its rows in WGS-84 with import column names, and how it was read."""

    frame: gpd.GeoDataFrame
    crs: str  # wgs84, gcj02, bd09, or the file's CRS as EPSG:xxxx / its name
    crs_source: str  # given | label | file | none
    encoding: str | None = None
    encoding_source: str | None = None  # given | declared | detected; None: the format fixes it
    renamed: dict[str, str] = field(default_factory=dict)
    sample: tuple[str, ...] = ()


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


def label_of(value) -> str:
    """A datum label's value (``gcj02``…) checked; InvalidInput naming it otherwise."""
    low = str(value).strip().lower()
    if low not in CHINESE_CRS:
        raise InvalidInput(f"the file says its coordinates are {value!r}: expected one of {', '.join(CHINESE_CRS)}",
                           "crs")  # fmt: skip
    return low


def _csv_notes(path: Path, enc: str) -> tuple[int, dict[str, str]]:
    """How many ``# key=value`` lines open the CSV, and what they say."""
    notes: dict[str, str] = {}
    skip = 0
    with path.open(encoding=enc, errors="replace", newline="") as f:
        for line in f:
            if not line.startswith("#"):
                break
            skip += 1
            key, _, value = line[1:].strip().partition("=")
            notes[key.strip().lower()] = value.strip()
    return skip, notes


def _read_csv(path: Path, enc: str, level: str | None, mapping) -> tuple[gpd.GeoDataFrame, dict, str | None]:
    skip, notes = _csv_notes(path, enc)
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc, skiprows=skip)
    df.columns = [str(c).strip().lower() for c in df.columns]
    renamed = columns.rename_for(level, list(df.columns), mapping)
    df = df.rename(columns=renamed)
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
    frame = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index), crs=None)
    return frame, renamed, notes.get(LABEL)


def _read_ogr(path: Path, enc: str | None, level: str | None, mapping) -> tuple[gpd.GeoDataFrame, dict]:
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json") and enc not in (None, "utf-8", "utf-8-sig"):
        # GDAL reads GeoJSON as UTF-8 only (RFC 7946): give it the text re-encoded.
        data = io.BytesIO(path.read_bytes().decode(enc).encode("utf-8"))
        gdf = gpd.read_file(data, engine="pyogrio")
    elif suffix == ".shp" and enc is not None:
        gdf = gpd.read_file(path, engine="pyogrio", encoding=enc)
    else:
        gdf = gpd.read_file(path, engine="pyogrio")
    gdf.columns = [c if c == gdf.geometry.name else str(c).strip().lower() for c in gdf.columns]
    if gdf.geometry.name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    renamed = columns.rename_for(level, [c for c in gdf.columns if c != "geometry"], mapping)
    return _join_members(gdf.rename(columns=renamed)), renamed


def _join_members(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``microgrid`` with its continuation columns ``microgrid2``, … joined back by ``;``."""
    more = sorted((c for c in gdf.columns if _MORE_MEMBERS.match(str(c))), key=lambda c: int(c[len(MEMBERS) :]))
    if MEMBERS not in gdf.columns or not more:
        return gdf
    cells = gdf[[MEMBERS, *more]].astype(object).where(gdf[[MEMBERS, *more]].notna(), "")
    gdf[MEMBERS] = [";".join(str(v) for v in row if str(v).strip()) for row in cells.itertuples(index=False)]
    return gdf.drop(columns=more)


def _encoding_of(path: Path, given: str | None) -> tuple[str | None, str | None]:
    suffix = path.suffix.lower()
    if given:
        return encoding.check(given), "given"
    if suffix == ".csv":
        return encoding.of_csv(path)
    if suffix == ".shp":
        return encoding.of_shapefile(path)
    if suffix in (".geojson", ".json"):
        return encoding.detect(encoding.head(path)), "detected"
    return None, None


def _label(frame: gpd.GeoDataFrame, path: Path, noted: str | None) -> str | None:
    """The datum the file says it holds (and the label column dropped from ``frame``), or None."""
    found: set[str] = set()
    if LABEL in frame.columns:
        found |= {v for v in frame.pop(LABEL).astype(str).str.strip() if v and v.lower() not in ("none", "nan")}
    sidecar = path.with_suffix(".crs")
    if sidecar.exists():
        found.add(sidecar.read_text(encoding="utf-8").strip())
    if noted:
        found.add(noted)
    labels = {label_of(v) for v in found}
    if len(labels) > 1:
        raise InvalidInput(f"the file says its coordinates are in several systems: {', '.join(sorted(labels))}",
                           "crs")  # fmt: skip
    return labels.pop() if labels else None


def read_source(
    path: str | Path,
    crs: str | None = None,
    *,
    encoding: str | None = None,
    mapping: dict[str, str] | None = None,
    level: str | None = None,
) -> Source:
    """Read ``path`` into a ``Source``: rows in WGS-84, in file order, with lower-case column names, the
    level's Chinese column names and ``mapping`` ({file column: import column}) applied.

    ``crs`` overrides whatever the file says: 'wgs84', 'gcj02', 'bd09' (lon/lat in that Chinese system) or
    anything pyproj understands; ``encoding`` overrides the declared or detected one. Unreadable geometries
    become None for the validator to report. InvalidInput for a missing or unreadable file, an unknown CRS
    or encoding, a text that does not decode, or a mapping that does not fit the file."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file: {path}", "file")
    target = parse_crs(crs)
    enc, enc_source = _encoding_of(path, encoding)
    noted = None
    try:
        if path.suffix.lower() == ".csv":
            gdf, renamed, noted = _read_csv(path, enc, level, mapping)
        else:
            gdf, renamed = _read_ogr(path, enc, level, mapping)
    except InvalidInput:
        raise
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} is not {enc} text ({exc.reason} at byte {exc.start}); pass --encoding",
                           "encoding") from exc  # fmt: skip
    except Exception as exc:  # pyogrio/GDAL/pandas raise many types for an unreadable file
        raise InvalidInput(f"cannot read {path.name}: {exc}", "file") from exc
    label = _label(gdf, path, noted)
    gdf, name, crs_source = _to_wgs84(gdf, target, label, path.suffix.lower() in (".geojson", ".json"))
    names = gdf["name"] if "name" in gdf.columns else pd.Series([], dtype=object)
    sample = tuple(dict.fromkeys(str(v) for v in names if isinstance(v, str) and v.strip()))[:SAMPLE_NAMES]
    return Source(gdf, name, crs_source, enc, enc_source, renamed, sample)


def _to_wgs84(gdf: gpd.GeoDataFrame, target, label: str | None, geojson: bool) -> tuple[gpd.GeoDataFrame, str, str]:
    """``gdf`` in WGS-84, the system it was read as, and why (given, label, file, none)."""
    if target is None and label is not None:
        target, source = label, "label"
    elif target is not None:
        source = "given"
    elif gdf.crs is None or (geojson and _is_wgs84(gdf.crs)):
        source = "none"
    else:
        source = "file"
    if isinstance(target, str):
        # The file's coordinates are lon/lat in a Chinese system whatever the file says.
        gdf = gdf.set_crs(WGS84, allow_override=True)
        if target != "wgs84":
            gdf["geometry"] = geometry_to_wgs84(gdf.geometry.to_numpy(), target)
        return gdf, target, source
    if target is not None:
        gdf = gdf.set_crs(target, allow_override=True)
    elif gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    name = "wgs84" if _is_wgs84(gdf.crs) else (gdf.crs.to_string() or gdf.crs.name)
    if not _is_wgs84(gdf.crs) and not gdf.geometry.isna().all():
        gdf = gdf.to_crs(WGS84)
    return gdf.set_crs(WGS84, allow_override=True), name, source


def _is_wgs84(crs: CRS) -> bool:
    return crs.equals(WGS84, ignore_axis_order=True)


def read_table(path: str | Path, crs: str | None = None) -> gpd.GeoDataFrame:
    """The rows of ``read_source(path, crs)`` alone (for callers that need no account of the reading)."""
    return read_source(path, crs).frame
