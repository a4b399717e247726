"""The geometry rules every write path applies before it commits: the API's area writes, a planner's draft
save, a partition apply and ``gridmap import``. One definition, so no path can commit what another refuses.

A write first changes the tables inside its transaction, then asks ``breaches`` what the new state breaks
around what it changed, and commits only when the answer is empty (``enforce``). The rules:

- **overlap** — two current areas of one level and layer share more than ``OVERLAP_M2`` of land (smaller
  slivers are shared edges stored as doubles). Micro-grids holding parts of one building (a tower split by
  unit or floor) share its footprint by design: two that share a building may overlap; a micro-grid that
  holds nothing yet may overlap one that does only on stored building footprints; two that hold nothing yet
  (a file of micro-grids before its buildings) are judged when the buildings import fills them;
- **outside_parent** — an area sticks out of its parent by more than ``PARENT_TOLERANCE_M`` metres;
- **child_outside** — a changed area leaves one of its children sticking out of it;
- **building_twice** — a building counted for more households than it has;
- **building_elsewhere** — less than ``BUILDING_SHARE`` of a building's footprint lies in the micro-grids
  holding it (a lookup at the building would answer someone else);
- **building_unassigned** — a building with households that no micro-grid holds.

The checks are set-wise SQL over the GiST indexes (``area_rules.sql``), so a city-sized import costs one
statement, not one per row. ``gridmap check`` (partition.coverage) reports the same problems for a whole
scope, with the same tolerances."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from gridmap import sql
from gridmap.errors import InvalidInput

# A drawn boundary may stray this far outside its parent (snapping, rounding); overlaps smaller than
# OVERLAP_M2 are the slivers of shared edges stored as doubles, not real double coverage.
PARENT_TOLERANCE_M = 1.0
OVERLAP_M2 = 1.0
# A building is "in" the micro-grids holding it when at least this share of its footprint lies there.
BUILDING_SHARE = 0.2

# problem → (English, Chinese) sentence; {code} is the area or building, {other} the neighbour, parent,
# child's area or holders, {m2} the land in square metres, {households} the households involved.
_SENTENCES: dict[str, tuple[str, str]] = {
    "overlap": ("{code} overlaps {other} by {m2} m²", "{code} 与 {other} 重叠 {m2} 平方米"),
    "outside_parent": (
        "{code} sticks out of its parent {other} by {m2} m² (more than {tolerance} m)",
        "{code} 超出上级 {other} {m2} 平方米（容差 {tolerance} 米）",
    ),
    "child_outside": (
        "{code} is left sticking out of its parent {other} by {m2} m²",
        "{code} 因上级 {other} 变更而超出上级 {m2} 平方米",
    ),
    "building_twice": (
        "building {code} is counted for {households} households by {other}, more than it has",
        "楼栋 {code} 被 {other} 重复计算（共计 {households} 户，超过其户数）",
    ),
    "building_elsewhere": (
        "building {code} is held by {other} but {m2} m² of its footprint lies outside them",
        "楼栋 {code} 归属 {other}，但有 {m2} 平方米占地不在其范围内",
    ),
    "building_unassigned": (
        "building {code} with {households} households is in no micro-grid",
        "楼栋 {code}（{households} 户）不属于任何微网格",
    ),
}
PROBLEMS = tuple(_SENTENCES)


@dataclass(frozen=True)
class Breach:
    """One broken rule: ``code`` is the area (or building) at fault, ``other`` the area it meets (the
    neighbour, the parent) or the holders of a building, ``area_m2`` the land involved."""

    problem: str
    code: str
    other: str | None = None
    area_m2: float | None = None
    households: int | None = None

    def message(self, lang: str = "en") -> str:
        """The breach as a sentence in ``lang`` (``en`` or ``zh``)."""
        english, chinese = _SENTENCES[self.problem]
        return (chinese if lang == "zh" else english).format(
            code=self.code,
            other=self.other or "",
            m2=f"{self.area_m2:,.0f}" if self.area_m2 is not None else "?",
            households=self.households,
            tolerance=f"{PARENT_TOLERANCE_M:g}",
        )

    def codes(self) -> tuple[str, ...]:
        """Every area or building code the breach names."""
        return (self.code, *(self.other.split(",") if self.other else ()))


class RulesBroken(InvalidInput):
    """A write whose result breaks the geometry rules; ``breaches`` lists each, nothing was committed."""

    def __init__(self, breaches: list[Breach], field: str = "geometry"):
        shown = "; ".join(b.message() for b in breaches[:5])
        more = f" (and {len(breaches) - 5} more)" if len(breaches) > 5 else ""
        super().__init__(f"refused: {shown}{more}", field)
        self.breaches = breaches
        self.findings = [b.message() for b in breaches]


def breaches(conn: psycopg.Connection, area_ids: Iterable[int] = (), building_ids: Iterable[int] = ()) -> list[Breach]:
    """What the state this transaction sees breaks around ``area_ids`` (areas whose current version it wrote)
    and ``building_ids`` (buildings whose shape or memberships it wrote), in problem and code order."""
    area_ids, building_ids = sorted(set(area_ids)), sorted(set(building_ids))
    if not (area_ids or building_ids):
        return []
    with conn.transaction():
        # The statement's cost estimate for a city-sized import is in the millions, which switches on JIT
        # compilation: measured here, 1.1 s of compiling for a statement that then runs in 0.6 s.
        conn.execute("SET LOCAL jit = off")
        rows = conn.execute(
            sql.load("area_rules"),
            {
                "area_ids": area_ids, "building_ids": building_ids,
                "tolerance_m": PARENT_TOLERANCE_M, "overlap_m2": OVERLAP_M2, "building_share": BUILDING_SHARE,
            },
        ).fetchall()  # fmt: skip
    return [Breach(problem, code, other, m2, households) for problem, code, other, m2, households in rows]


def enforce(
    conn: psycopg.Connection, area_ids: Iterable[int] = (), building_ids: Iterable[int] = (), field: str = "geometry"
) -> None:
    """Raise RulesBroken (an InvalidInput, so the caller's transaction rolls back) when ``breaches`` finds any."""
    found = breaches(conn, area_ids, building_ids)
    if found:
        raise RulesBroken(found, field)
