"""Building ↔ micro-grid membership: which micro-grid holds which units (单元) and floors of a building.

In files a building's ``microgrid`` column holds one or more entries separated by ``;``::

    440309002003001001                      the whole building
    440309002003001001#u1-2                 units 1–2, all floors
    440309002003001002#u3-3f1-15=45         unit 3, floors 1–15, 45 households

Households not given with ``=N`` are the building's households shared by the fraction of units ×
floors the entry covers (largest remainder, so the shares add up to the building's total).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_ENTRY = re.compile(
    r"^(?P<code>[0-9]+)"
    r"(?:#(?:u(?P<u1>[0-9]+)-(?P<u2>[0-9]+))?(?:f(?P<f1>[0-9]+)-(?P<f2>[0-9]+))?)?"
    r"(?:=(?P<hh>[0-9]+))?$"
)


@dataclass(frozen=True)
class Entry:
    """One membership: a micro-grid code and the part of the building it holds (None = all)."""

    microgrid: str
    unit_from: int | None = None
    unit_to: int | None = None
    floor_from: int | None = None
    floor_to: int | None = None
    households: int | None = None

    @property
    def whole(self) -> bool:
        return self.unit_from is None and self.floor_from is None

    def fraction(self, units: int, floors: int | None) -> float:
        """Share of the building this entry covers, assuming households spread evenly."""
        share = 1.0
        if self.unit_from is not None:
            share *= (self.unit_to - self.unit_from + 1) / units
        if self.floor_from is not None and floors:
            share *= (self.floor_to - self.floor_from + 1) / floors
        return share

    def overlaps(self, other: Entry) -> bool:
        def meet(a1, a2, b1, b2) -> bool:
            lo1, hi1 = (a1 or 1), (a2 or math.inf)
            lo2, hi2 = (b1 or 1), (b2 or math.inf)
            return lo1 <= hi2 and lo2 <= hi1

        return meet(self.unit_from, self.unit_to, other.unit_from, other.unit_to) and meet(
            self.floor_from, self.floor_to, other.floor_from, other.floor_to
        )


def parse(text: str) -> list[Entry]:
    """Parse a ``microgrid`` cell into entries; raise ValueError naming the bad part."""
    entries = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        m = _ENTRY.match(part)
        if not m:
            raise ValueError(f"cannot read micro-grid entry {part!r} (expected CODE, CODE#u1-2, CODE#u1-2f1-9=40)")
        u1, u2, f1, f2, hh = (int(m[g]) if m[g] else None for g in ("u1", "u2", "f1", "f2", "hh"))
        if (u1 is not None and u1 > u2) or (f1 is not None and f1 > f2) or 0 in (u1, f1):
            raise ValueError(f"empty or reversed range in {part!r}")
        entries.append(Entry(m["code"], u1, u2, f1, f2, hh))
    return entries


def check(entries: list[Entry], units: int, floors: int | None) -> str | None:
    """Return why these entries cannot describe one building with ``units`` and ``floors``, or None."""
    for e in entries:
        if e.unit_to is not None and e.unit_to > units:
            return f"unit range {e.unit_from}-{e.unit_to} exceeds the building's {units} unit(s)"
        if e.floor_from is not None and floors is None:
            return "a floor range needs the building's floors"
        if e.floor_to is not None and floors is not None and e.floor_to > floors:
            return f"floor range {e.floor_from}-{e.floor_to} exceeds the building's {floors} floor(s)"
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            if a.overlaps(b):
                return f"micro-grid entries {a.microgrid} and {b.microgrid} claim the same units/floors"
    return None


def allocate(entries: list[Entry], households: int, units: int, floors: int | None) -> list[int]:
    """Households of each entry: explicit ``=N`` values kept, the rest shared by covered fraction.

    The shared part is rounded by largest remainder so that entries covering the whole building add
    up exactly to ``households``.
    """
    result: list[int | None] = [e.households for e in entries]
    open_idx = [i for i, e in enumerate(entries) if e.households is None]
    if not open_idx:
        return result  # type: ignore[return-value]
    left = max(households - sum(e.households for e in entries if e.households is not None), 0)
    fractions = [entries[i].fraction(units, floors) for i in open_idx]
    total = sum(fractions)
    covered = min(total, 1.0)
    exact = [left * covered * f / total if total else 0 for f in fractions]
    floors_ = [math.floor(x) for x in exact]
    remainder = round(left * covered) - sum(floors_)
    order = sorted(range(len(exact)), key=lambda k: (floors_[k] - exact[k], k))
    for k in order[: max(remainder, 0)]:
        floors_[k] += 1
    for k, i in enumerate(open_idx):
        result[i] = floors_[k]
    return result  # type: ignore[return-value]


def format_entry(code: str, unit_from, unit_to, floor_from, floor_to, households: int, whole_households: int) -> str:
    """Write one membership as text; households are explicit whenever it is not the whole building."""
    text = code
    part = ""
    if unit_from is not None:
        part += f"u{unit_from}-{unit_to}"
    if floor_from is not None:
        part += f"f{floor_from}-{floor_to}"
    if part:
        text += "#" + part
    if part or households != whole_households:
        text += f"={households}"
    return text


def format_members(members: Iterable[Sequence], whole_households: int) -> str:
    """A building's ``microgrid`` cell: its memberships, each ``(code, unit_from, unit_to, floor_from, floor_to,
    households)``, written by ``format_entry`` in the order given and joined by ``;`` (empty when there are none)."""
    return ";".join(format_entry(*m[:6], whole_households) for m in members)
