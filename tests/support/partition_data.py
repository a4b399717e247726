"""Inputs for the partition tests: the demo city's grids from fixtures/, the Suzhou old-city blocks and
the Beijing compounds from tests/data (households estimated where the source has none)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gridmap.areas.households import estimate
from gridmap.partition.algorithm import Building
from tests.support.shared_data import shared_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "minzhi"


def _buildings(frame: gpd.GeoDataFrame, households, units, floors) -> list[Building]:
    return [
        Building(code, int(h), geom, int(u), None if f is None or f != f else int(f), code)
        for code, geom, h, u, f in zip(frame["code"], frame.geometry, households, units, floors, strict=True)
    ]


def demo_grids() -> list[tuple[str, shapely.Geometry, list[Building]]]:
    """Every grid of the demo city with the buildings whose representative point lies in it."""
    grids = gpd.read_file(FIXTURES / "grids.geojson")
    bld = gpd.read_file(FIXTURES / "buildings.geojson")
    points = gpd.GeoDataFrame(geometry=bld.geometry.representative_point(), crs=4326)
    bld["grid"] = gpd.sjoin(points, grids[["code", "geometry"]], predicate="within")["code"]
    floors = bld["floors"].astype("float").to_numpy()
    out = []
    for code, geom in zip(grids["code"], grids.geometry, strict=True):
        mine = bld["grid"] == code
        sub = bld[mine]
        out.append((code, geom, _buildings(sub, sub["households"], sub["units"], floors[mine.to_numpy()])))
    return out


def _land(metric: gpd.GeoSeries) -> shapely.Geometry:
    """The land around buildings (a 10 m margin, small gaps closed), in WGS-84."""
    land = shapely.buffer(shapely.union_all(shapely.buffer(metric.to_numpy(), 30)), -20)
    return gpd.GeoSeries([land], crs=metric.crs).to_crs(4326).iloc[0]


def suzhou() -> tuple[shapely.Geometry, list[Building]]:
    """Gusu west (old-city lanes) as one grid: the land its 1,326 buildings stand on."""
    bld = gpd.read_file(shared_file("suzhou_gusu_west_buildings_floors.geojson")).rename(columns={"bldg_id": "code"})
    bld["geometry"] = [g if g.is_valid else shapely.make_valid(g) for g in bld.geometry]
    metric = bld.to_crs(bld.estimate_utm_crs())
    est = estimate(metric.area, bld["floors"])
    return _land(metric.geometry), _buildings(bld, est.households, est.units, est.floors.astype("float"))


def beijing() -> list[tuple[str, shapely.Geometry, list[Building]]]:
    """Each residential compound (小区) of Qinghua East Road as a grid, with the buildings inside it."""
    compounds = gpd.read_file(shared_file("beijing_haidian_qinghuadonglu_osm_residential.geojson"))
    bld = gpd.read_file(shared_file("beijing_haidian_qinghuadonglu_osm_buildings.geojson"))
    bld["code"] = bld["osm_type"] + "-" + bld["osm_id"].astype(str)
    metric = bld.to_crs(bld.estimate_utm_crs())
    est = estimate(metric.area, bld["building_levels"], bld["building"].fillna("yes"))
    floors = est.floors.astype("float").to_numpy()
    out = []
    rows = zip(compounds["osm_type"], compounds["osm_id"], compounds["name"], compounds.geometry, strict=True)
    for kind, osm_id, name, geom in rows:
        mine = (bld["compound_osm_id"] == f"{kind}/{osm_id}").to_numpy()
        sub = bld[mine]
        label = name if isinstance(name, str) else f"compound {osm_id}"
        out.append((label, geom, _buildings(sub, est.households[mine], est.units[mine], floors[mine])))
    return out


def share_in_band(households: list[int], lo: int = 30, hi: int = 50) -> float:
    """Share of the values inside [lo, hi]."""
    return float(np.mean([lo <= h <= hi for h in households])) if households else 0.0
