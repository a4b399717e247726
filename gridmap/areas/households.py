"""Household estimates for buildings that come without them: from footprint, floors and building type.

A dwelling is taken as FLAT_M2 of gross floor area; a stairwell unit (单元) serves about
UNIT_FLOORPLATE_M2 of each floor. Floors missing from the source default by building type."""

from __future__ import annotations

import numpy as np
import pandas as pd

FLAT_M2 = 90
UNIT_FLOORPLATE_M2 = 250
MIN_DWELLING_FOOTPRINT_M2 = 30  # sheds, kiosks and garages hold no household
# Floors where the source has none, by OSM building type; only these types hold dwellings.
DEFAULT_FLOORS = {"apartments": 18, "residential": 8, "house": 6, "yes": 6, "terrace": 4, "dormitory": 6}


def estimate(footprint_m2, floors, building_type=None) -> pd.DataFrame:
    """Floors, households and units per building. ``floors`` may hold NaN (then the type's default is
    used); ``building_type`` None means every building is a plain ``yes``. Returns columns floors
    (nullable), households and units, one row per building."""
    area = np.asarray(footprint_m2, dtype=float)
    kinds = pd.Series(["yes"] * len(area) if building_type is None else list(building_type), dtype="object")
    given = pd.to_numeric(pd.Series(floors, dtype="object"), errors="coerce").where(lambda f: f >= 1)
    floors_ = given.fillna(kinds.map(DEFAULT_FLOORS)).clip(1, 200)
    residential = kinds.isin(list(DEFAULT_FLOORS)).to_numpy() & (area >= MIN_DWELLING_FOOTPRINT_M2)
    households = np.where(residential, np.maximum(1, np.round(area * floors_.fillna(1).to_numpy() / FLAT_M2)), 0)
    units = np.where(residential, np.clip(np.round(area / UNIT_FLOORPLATE_M2), 1, 12), 1)
    return pd.DataFrame(
        {"floors": floors_.round().astype("Int64"), "households": households.astype(int), "units": units.astype(int)}
    )
