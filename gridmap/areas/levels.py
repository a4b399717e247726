"""The levels of the hierarchy, the roles of the people on the ground, and the other things we store
with their file columns: the one place that names them and says their order.

A *level* is a rank of area: 街道 subdistrict → 社区 community → 网格 grid → 微网格 micro-grid (30–50
households). A *person role* is what someone does on the ground (网格员, 楼栋长, …); it is not an account's
role, which says what a login may do (``gridmap.access.rules.ACCOUNT_ROLES``)."""

from __future__ import annotations

import re

# Top down; an incident escalates up it (小事不出网格、大事不出社区), one level at a time.
AREA_LEVEL_ORDER: tuple[str, ...] = ("subdistrict", "community", "grid", "microgrid")
# File/CLI name → stored area level.
AREA_LEVELS: dict[str, str] = {
    "subdistricts": "subdistrict",
    "communities": "community",
    "grids": "grid",
    "microgrids": "microgrid",
}
PARENT_LEVEL: dict[str, str | None] = dict(zip(AREA_LEVEL_ORDER, (None, *AREA_LEVEL_ORDER[:-1]), strict=True))
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
# The people of an area, in the order they are called (sql/lookup_owners.sql sorts the same way), and the
# level of the area each one serves.
PERSON_ROLES: tuple[str, ...] = ("microgrid_worker", "building_chief", "cell_leader", "grid_worker")
PERSON_LEVEL: dict[str, str] = {
    "microgrid_worker": "microgrid",
    "building_chief": "microgrid",
    "cell_leader": "microgrid",
    "grid_worker": "grid",
}
# Person role as a file may spell it → stored role.
PERSON_ROLE_NAMES: dict[str, str] = {
    "grid_worker": "grid_worker",
    "网格员": "grid_worker",
    "microgrid_worker": "microgrid_worker",
    "微网格员": "microgrid_worker",
    "building_chief": "building_chief",
    "楼栋长": "building_chief",
    "cell_leader": "cell_leader",
    "党小组长": "cell_leader",
}
# How people read the levels and roles on screen and in messages.
LEVEL_ZH: dict[str, str] = {"subdistrict": "街道", "community": "社区", "grid": "网格", "microgrid": "微网格"}
PERSON_ROLE_ZH: dict[str, str] = {v: k for k, v in PERSON_ROLE_NAMES.items() if not k.isascii()}
DEFAULT_LAYER = "comprehensive"
# A grid layer name (多格合一: comprehensive, public_security, …), as the database CHECK has it.
LAYER_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
