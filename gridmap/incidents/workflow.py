"""The closed loop (信息收集 → 立案 → 派遣 → 处置 → 反馈 → 核查结案 → 评价) as a state machine: which action
moves a case from which states to which, which role may take it, and which deadline stage runs in each
state. Pure data and rules; ``actions.py`` applies them to stored cases."""

from __future__ import annotations

from dataclasses import dataclass

from gridmap.areas.levels import AREA_LEVEL_ORDER
from gridmap.errors import InvalidInput

STATES = ("received", "dispatched", "in_progress", "replied", "closed", "rated", "escalated", "rejected", "reopened")
CLOSED_STATES = frozenset({"closed", "rated"})
FINAL_STATES = CLOSED_STATES | {"rejected"}
OPEN_STATES = frozenset(STATES) - FINAL_STATES

# The deadline that runs while a case is in a state: dispatch it, accept it, handle it, verify the reply.
STAGE_OF_STATE = {
    "received": "dispatch",
    "escalated": "dispatch",
    "reopened": "dispatch",
    "dispatched": "accept",
    "in_progress": "handle",
    "replied": "verify",
}
STAGES = ("dispatch", "accept", "handle", "verify")

# 小事不出网格、大事不出社区: a case climbs one level at a time, bottom up.
ESCALATION_ORDER = AREA_LEVEL_ORDER[::-1]


@dataclass(frozen=True)
class Transition:
    """An action: the states it starts from, the state it leads to (None: unchanged), the permission it
    needs, and what the caller must send with it."""

    sources: frozenset[str]
    target: str | None
    permission: str
    needs: tuple[str, ...] = ()


ACTIONS: dict[str, Transition] = {
    "dispatch": Transition(frozenset({"received", "escalated", "reopened"}), "dispatched", "incident.dispatch"),
    "accept": Transition(frozenset({"dispatched"}), "in_progress", "incident.handle"),
    "reply": Transition(frozenset({"in_progress"}), "replied", "incident.handle", ("note",)),
    "verify": Transition(frozenset({"replied"}), "closed", "incident.dispatch"),
    # 即接即办: settled on the phone or on the spot, closed without field dispatch; the note says how.
    "close": Transition(
        frozenset({"received", "dispatched", "in_progress", "escalated", "reopened"}),
        "closed",
        "incident.dispatch",
        ("note",),
    ),
    "rate": Transition(frozenset({"closed"}), "rated", "incident.dispatch", ("satisfaction",)),
    "escalate": Transition(
        frozenset({"received", "dispatched", "in_progress", "escalated", "reopened"}), "escalated", "incident.handle"
    ),
    # A failed verification sends the reply back; a citizen's complaint reopens a closed case.
    "reopen": Transition(
        frozenset({"replied", "closed", "rated", "rejected"}), "reopened", "incident.dispatch", ("note",)
    ),
    "reject": Transition(
        frozenset({"received", "escalated", "reopened"}), "rejected", "incident.dispatch", ("reason",)
    ),
    "reroute": Transition(OPEN_STATES, None, "incident.dispatch"),
    "reassign": Transition(frozenset({"dispatched", "in_progress"}), None, "incident.dispatch"),  # person/assignee
    # Undo a wrong repeat merge: the named report becomes a case of its own.
    "split": Transition(frozenset(STATES), None, "incident.dispatch", ("report",)),
}


def transition(action: str) -> Transition:
    """The rules of ``action``; InvalidInput naming the known actions otherwise."""
    try:
        return ACTIONS[action]
    except KeyError:
        raise InvalidInput(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}", "action") from None


def next_level(level: str | None) -> str | None:
    """The level above ``level``, None at the top (or for a case with no level yet)."""
    if level not in ESCALATION_ORDER or level == ESCALATION_ORDER[-1]:
        return None
    return ESCALATION_ORDER[ESCALATION_ORDER.index(level) + 1]
