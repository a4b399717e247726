"""The levels of the hierarchy and the other things we store, with their file columns."""

from __future__ import annotations

import re

# File/CLI name → stored area level (街镇 → 社区 → 网格 → 微网格).
AREA_LEVELS: dict[str, str] = {
    "subdistricts": "subdistrict",
    "communities": "community",
    "grids": "grid",
    "microgrids": "microgrid",
}
PARENT_LEVEL: dict[str, str | None] = {
    "subdistrict": None,
    "community": "subdistrict",
    "grid": "community",
    "microgrid": "grid",
}
# DB11/T 2157-2023: 6-digit district (GB/T 2260) + 3 per level below it.
CODE_DIGITS: dict[str, int] = {"subdistrict": 9, "community": 12, "grid": 15, "microgrid": 18}
CODE_PATTERN: dict[str, re.Pattern] = {level: re.compile(rf"^[0-9]{{{n}}}$") for level, n in CODE_DIGITS.items()}

LEVELS: tuple[str, ...] = (*AREA_LEVELS, "buildings", "party-cells", "people")

# The columns each level reads and writes; export writes exactly these, so export → import round-trips.
COLUMNS: dict[str, tuple[str, ...]] = {
    **{name: ("code", "name", "parent", "kind", "layer") for name in AREA_LEVELS},
    "buildings": ("code", "name", "compound", "type", "households", "floors", "units", "microgrid"),
    "party-cells": ("code", "name", "branch", "microgrids"),
    "people": ("name", "phone", "role", "area", "party_cell"),
}
HAS_GEOMETRY: dict[str, bool] = {name: name in AREA_LEVELS or name == "buildings" for name in LEVELS}

KINDS: dict[str, str] = {
    "comprehensive": "comprehensive",
    "综合": "comprehensive",
    "综合网格": "comprehensive",
    "specialised": "specialised",
    "specialized": "specialised",
    "专属": "specialised",
    "专属网格": "specialised",
}
ROLES: dict[str, str] = {
    "grid_worker": "grid_worker",
    "网格员": "grid_worker",
    "microgrid_worker": "microgrid_worker",
    "微网格员": "microgrid_worker",
    "building_chief": "building_chief",
    "楼栋长": "building_chief",
    "cell_leader": "cell_leader",
    "党小组长": "cell_leader",
}
DEFAULT_LAYER = "comprehensive"
# A grid layer name (多格合一: comprehensive, public_security, …), as the database CHECK has it.
LAYER_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
