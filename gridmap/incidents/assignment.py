"""Who receives a case on dispatch: a rule per answering level (the micro-grid's own worker first, then
its 楼栋长 and party-cell leader; a grid's 网格员), read from the people registered to the case's areas
*now*, so an escalated case lists the next level's people and a redraw that moved a worker is followed.
A dispatch names a person (their phone is where the work order goes) or, where the rule finds nobody,
a receiver typed by hand (a department); with neither it is refused with the reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import psycopg

from gridmap.areas.levels import AREA_LEVEL_ORDER, LEVEL_ZH, PERSON_LEVEL, PERSON_ROLE_ZH, PERSON_ROLES
from gridmap.errors import InvalidInput, StateConflict

# The roles asked at each level, in the register's order (PERSON_ROLES: the micro-grid's own worker, then
# its 楼栋长, then its party-cell leader). Community and subdistrict desks have no person role of their
# own: a case answered there is given to a department or official named by hand.
RULES: dict[str, tuple[str, ...]] = {
    level: tuple(r for r in PERSON_ROLES if PERSON_LEVEL[r] == level) for level in AREA_LEVEL_ORDER
}


@dataclass
class Assignment:
    """Whom a dispatch at ``level`` goes to: the ``roles`` asked and the ``candidates`` found, first
    first; ``reason`` says why there is nobody (then the dispatcher must name a receiver)."""

    level: str | None
    roles: tuple[str, ...]
    candidates: list[dict] = field(default_factory=list)
    reason: str | None = None

    def public(self, show_phones: bool, mask) -> dict:
        """As the API shows it; phones through ``mask`` unless ``show_phones``."""
        doc = asdict(self)
        if not show_phones:
            doc["candidates"] = [c | {"phone": mask(c["phone"])} for c in self.candidates]
        return doc


def _area_id(route: dict, level: str) -> int | None:
    return ((route or {}).get(level) or {}).get("id")


def assignment(conn: psycopg.Connection, route: dict, level: str | None) -> Assignment:
    """The rule of ``level`` applied to the areas of a stored ``route`` (a case's snapshot): the people
    registered today to the area answering at that level (and, for a micro-grid, to its party cell)."""
    if level is None:
        return Assignment(None, (), reason="案件尚未定位，无法派遣：请先确定位置 · the case has no location yet")
    roles = RULES[level]
    area_id = _area_id(route, level)
    if not roles or area_id is None:
        reason = (f"{LEVEL_ZH[level]}一级没有登记的接收人：请填写处置部门或人员 · nobody is registered to"
                  f" receive cases at {level} level: name the receiver")  # fmt: skip
        return Assignment(level, roles, reason=reason)
    rows = conn.execute(
        "SELECT pe.id, pe.name, pe.role, pe.phone, a.code FROM person pe"
        " LEFT JOIN area a ON a.id = pe.area_id AND a.valid_to IS NULL"
        " WHERE pe.role = ANY(%(roles)s) AND (pe.area_id = %(area)s OR pe.party_cell_id IN ("
        "   SELECT party_cell_id FROM party_cell_microgrid WHERE microgrid_id = %(area)s AND %(level)s = 'microgrid'))"
        " ORDER BY array_position(%(roles)s, pe.role), pe.name, pe.id",
        {"roles": list(roles), "area": area_id, "level": level},
    ).fetchall()
    candidates = [
        dict(person_id=r[0], name=r[1], role=r[2], role_zh=PERSON_ROLE_ZH[r[2]], phone=r[3], area=r[4]) for r in rows
    ]
    reason = None
    if not candidates:
        names = "、".join(PERSON_ROLE_ZH[r] for r in roles)
        reason = (f"该{LEVEL_ZH[level]}没有登记{names}：请填写处置人，或上报 · no {', '.join(roles)} is registered"
                  f" to this {level}: name the receiver or escalate")  # fmt: skip
    return Assignment(level, roles, candidates, reason)


def receiver(found: Assignment, person_id: int | None, assignee: str | None) -> tuple[str, dict | None]:
    """The assignee text a dispatch gives the case and the candidate it names: the person chosen (one of the
    candidates), else the first candidate, else (text, None) for the receiver typed by hand. InvalidInput
    for a person the rule does not offer; StateConflict, with the rule's reason, when there is nobody."""
    if person_id is not None:
        chosen = next((c for c in found.candidates if c["person_id"] == person_id), None)
        if chosen is None:
            raise InvalidInput(f"person {person_id} does not receive cases at this case's level ({found.level})",
                               "person")  # fmt: skip
    elif assignee:
        return assignee, None
    elif found.candidates:
        chosen = found.candidates[0]
    else:
        raise StateConflict(found.reason or "nobody to receive this case")
    return f"{chosen['name']} ({chosen['role_zh']})", chosen
