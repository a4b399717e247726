"""Address text → building: the building gazetteer (compound 小区 + building number such as "3栋",
building names, building codes) matched with rapidfuzz.

Both the address and every building's compound and name are read by ``gridmap.incidents.address``
(numerals, door markers, prefixes, units and floors). The door number must match exactly, because
"3栋" and "13栋" are different doors; the place before it is compared with the end of the text before the
door, a 期/区 part on its own: one left out costs a little, one that disagrees (南区 for 三期) a lot, and a
common slip (园 for 苑) half an ordinary one. The confidence drops when another building fits nearly as
well, when the address names a place better than the building's own (the named compound has no such
door), and when it names a unit or floor the building does not have: a vague address waits for a
dispatcher instead of being guessed. Every score is in points of 100."""

from __future__ import annotations

import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from gridmap.incidents.address import Reading, normalise, read_address, read_name, split_parts

# Characters often written for one another in estate names (homophones and look-alikes): each group folds
# to its first member, and a slip between them costs half an edit. A general list, not any city's names.
_CONFUSABLE = ("园苑源元", "家嘉佳", "花华", "名明铭", "丽利莉力", "锦金景", "雅亚", "城成", "庭亭廷", "新欣鑫",
               "龙隆", "泰太", "峰锋", "湾弯", "岭领")  # fmt: skip
_FOLD = str.maketrans({c: group[0] for group in _CONFUSABLE for c in group[1:]})
_OMITTED_PART = 8.0  # a 期/区 the address leaves out: 龙塘花园17栋 for 龙塘花园三期17栋
_OTHER_PART = 30.0  # a 期/区 (or a unit in a building's name) the address names and the place does not have
_NO_SUCH_UNIT = 25.0  # a unit or floor beyond the building's count
_CLEAR_LEAD = 10.0  # a lead this large over the next building leaves no doubt; less halves the confidence at 0
_NAMED_ELSEWHERE = 5.0  # a place fitting the text this much better than the building's own names it instead
# …and then the confidence falls by this factor: a little when that place is the building's compound without its
# 期/区 (龙塘花园 named, the door is in 龙塘花园三期), much when it is another compound (or a station's name).
_NAMED_SIBLING_FACTOR = 0.9
_NAMED_ELSEWHERE_FACTOR = 0.6
_NO_DOOR = 0.6  # a place without a door is the right place, but not which building
_LISTED_FROM = 40.0  # a weaker building is no answer, and weaker candidates are not listed for the dispatcher
_SHORTLIST = 60  # places per address scored in full (after a fast first pass over all of them)


def _fold(text: str) -> str:
    return text.translate(_FOLD)


@dataclass(frozen=True)
class Match:
    """The building that fits an address best (None when no building has its door in the places it names,
    or it names only a compound), with a confidence in [0, 1], the unit and floor the address gives (for a
    building split between micro-grids), the best candidates for a dispatcher to choose from, and what
    lowered the confidence (``doubts``). Callers trust ``building_id`` only above their own threshold."""

    building_id: int | None
    code: str | None
    confidence: float
    candidates: list[dict] = field(default_factory=list)
    unit: int | None = None
    floor: int | None = None
    doubts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Place:
    """A place as the gazetteer compares it; two are the same place when their normalised text is."""

    text: str  # normalised, parts included: 民乐雅苑南区
    shown: str = field(compare=False)  # as stored, for dispatchers
    base: str = field(compare=False)  # without its parts: 民乐雅苑
    folded: str = field(compare=False)  # base with confusable characters folded
    parts: tuple[str, ...] = field(compare=False)  # 南区


def _place(text: str, shown: str) -> _Place:
    base, parts = split_parts(text)
    return _Place(text, shown, base, _fold(base), parts)


@dataclass(frozen=True)
class _Building:
    id: int
    code: str
    label: str
    places: tuple[_Place, ...]  # compound + what the name writes before the door; that alone if it is a name
    door: str | None
    unit: int | None  # a unit the name itself names (3栋二单元)
    qualifier: str  # what the name writes after its door and unit (4栋（知恩楼）)
    units: int
    floors: int | None
    compound: str  # normalised


@dataclass
class _Index:
    codes: dict[str, _Building] = field(default_factory=dict)
    by_door: dict[str, list[_Building]] = field(default_factory=lambda: defaultdict(list))
    by_base: dict[str, list[_Place]] = field(default_factory=lambda: defaultdict(list))  # folded base → places
    compounds: dict[str, _Place] = field(default_factory=dict)
    named: dict[str, list[_Building]] = field(default_factory=lambda: defaultdict(list))  # no door: by name
    # The keys of the three above as lists, made once: the fast first pass of every address runs over them.
    base_keys: list[str] = field(default_factory=list)
    compound_keys: list[str] = field(default_factory=list)
    named_keys: list[str] = field(default_factory=list)


_cache: dict[str, tuple[tuple, _Index]] = {}
_lock = threading.Lock()


def _stamp(conn: psycopg.Connection) -> tuple:
    return conn.execute("SELECT count(*), max(updated_at), max(id) FROM building").fetchone()


def _add(index: _Index, bid, code, name, compound, units, floors) -> None:
    compound_n, name_read = normalise(compound), read_name(name)
    own = _place(compound_n + name_read.place, compound + name_read.place)
    places = [own]
    # A name of its own before the door (潜龙苑2栋, 新彩苑公寓A座) is also said without the compound.
    if compound_n and len(name_read.place) >= 3 and split_parts(name_read.place)[0]:
        places.append(_place(name_read.place, name_read.place))
    building = _Building(bid, code, f"{compound}{name}" or code, tuple(places), name_read.door, name_read.unit,
                         name_read.rest if name_read.unit is None else "", units, floors, compound_n)  # fmt: skip
    index.codes[code.upper()] = building
    for place in places:
        if place not in index.by_base[place.folded]:
            index.by_base[place.folded].append(place)
    if compound_n:
        index.compounds.setdefault(compound_n, _place(compound_n, compound))
    if name_read.door is not None:
        index.by_door[name_read.door].append(building)
    # Names of two characters (土地, 公厕) would match half of any address by one shared character.
    elif len(name_read.place) >= 3:
        index.named[name_read.place].append(building)
        if compound_n:
            index.named[compound_n + name_read.place].append(building)


def _build(conn: psycopg.Connection) -> _Index:
    index = _Index()
    for row in conn.execute(
        "SELECT id, code, coalesce(name, ''), coalesce(compound, ''), units, floors FROM building ORDER BY code"
    ):
        _add(index, *row)
    index.base_keys, index.compound_keys, index.named_keys = map(list, (index.by_base, index.compounds, index.named))
    return index


def _index(conn: psycopg.Connection) -> _Index:
    key = conn.info.dsn
    stamp = _stamp(conn)
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
    index = _build(conn)
    with _lock:
        _cache[key] = (stamp, index)
    return index


def _similarity(name: str, windows: set[str]) -> float:
    """Points for ``name`` against the best of ``windows`` (pieces of an address): Levenshtein, not InDel,
    so a wrong character costs one edit like a missing one; half of it once confusables are folded."""
    folded = _fold(name)
    return max(
        50 * (Levenshtein.normalized_similarity(name, w) + Levenshtein.normalized_similarity(folded, _fold(w)))
        for w in windows
    )


def _tail_score(head: str, name: str) -> float:
    """``name`` against the end of ``head`` (one character longer or shorter allowed), so a prefix costs
    nothing and a slip inside the name its full price."""
    n = len(name)
    return _similarity(name, {head[-k:] for k in (n - 1, n, n + 1) if 0 < k <= len(head)} or {head})


def _contains_score(text: str, name: str) -> float:
    """``name`` anywhere inside ``text``; a text shorter than the name (only part of it) is compared whole,
    so "民乐" does not fully match "民乐雅苑"."""
    n = len(name)
    return _similarity(name, {text[i : i + n] for i in range(len(text) - n + 1)} or {text})


def _place_score(head: _Place, place: _Place) -> float:
    """How well the place an address writes before its door fits ``place``; nothing for no place at all."""
    if not head.base or not place.base:
        return 0.0
    score = _tail_score(head.base, place.base)
    if any(part not in place.parts for part in head.parts):
        return score - _OTHER_PART
    return score - _OMITTED_PART * (len(place.parts) - len(head.parts))


def _shortlist(index: _Index, head: _Place) -> dict[_Place, float]:
    """The places nearest ``head``, scored in full; a fast partial comparison of the folded bases picks them."""
    near = process.extract(head.folded, index.base_keys, scorer=fuzz.partial_ratio, limit=_SHORTLIST)
    return {place: _place_score(head, place) for base, _, _ in near for place in index.by_base[base]}


@dataclass
class _Scored:
    fit: float  # how well the address names it: place, and a unit its own name says
    building: _Building | None
    place: _Place
    agrees: bool = False  # the address names the unit or qualifier the building's own name names
    doubted: float = 0.0  # points lost to a unit or floor beyond its counts (which are often only defaults)
    doubts: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.fit - self.doubted

    @property
    def label(self) -> str:
        return self.building.label if self.building else self.place.shown


def _fit(reading: Reading, building: _Building, score: float, place: _Place) -> _Scored:
    """A building with the address's door, its place score lowered for a unit or floor it does not have."""
    scored = _Scored(score, building, place)
    if building.unit is not None and reading.unit is not None:
        scored.agrees = building.unit == reading.unit
        if not scored.agrees:
            scored.fit -= _OTHER_PART
            scored.doubts.append(f"{building.label} is unit {building.unit}, the address says unit {reading.unit}")
    elif reading.unit is not None and reading.unit > building.units:
        scored.doubted += _NO_SUCH_UNIT
        scored.doubts.append(f"{building.label} has {building.units} unit(s), the address says unit {reading.unit}")
    if building.qualifier and building.qualifier in reading.rest:
        scored.agrees = True
    if reading.floor is not None and building.floors is not None and reading.floor > building.floors:
        scored.doubted += _NO_SUCH_UNIT
        scored.doubts.append(f"{building.label} has {building.floors} floor(s), the address says floor {reading.floor}")
    return scored


def _by_door(index: _Index, reading: Reading) -> tuple[list[_Scored], list[_Scored]]:
    """Buildings with the address's door in the places nearest its text, and those places."""
    head = _place(reading.place, reading.place)
    near = _shortlist(index, head)
    found = []
    for building in index.by_door.get(reading.door, ()):
        scores = [(near[p], p) for p in building.places if p in near]
        if scores:
            found.append(_fit(reading, building, *max(scores, key=lambda s: s[0])))
    places = [_Scored(score, None, place) for place, score in near.items()]
    return found, places


def _without_door(index: _Index, reading: Reading) -> tuple[list[_Scored], list[_Scored]]:
    """Buildings known by a name (stations, schools …) and compounds, for an address with no door."""
    text = reading.place
    found = []
    for name, _, _ in process.extract(text, index.named_keys, scorer=fuzz.partial_ratio, limit=_SHORTLIST):
        score = _contains_score(text, name)
        found += [_Scored(score, b, _place(b.compound, b.compound)) for b in index.named[name]]
    places = []
    for name, _, _ in process.extract(text, index.compound_keys, scorer=fuzz.partial_ratio, limit=_SHORTLIST):
        places.append(_Scored(_contains_score(text, name), None, index.compounds[name]))
    return found, places


def _best_per_building(scored: list[_Scored]) -> list[_Scored]:
    """One score per building (its best), best first; on equal scores the one whose own name says what
    the address says."""
    best: dict[int, _Scored] = {}
    for s in scored:
        if s.building.id not in best or s.score > best[s.building.id].score:
            best[s.building.id] = s
    return sorted(best.values(), key=lambda s: (-s.score, not s.agrees, s.label, s.building.code))


def _lead(best: _Scored, other: _Scored) -> float:
    """Points ``best`` leads ``other`` by. A unit or floor ``other`` lacks does not widen it: building
    counts are often defaults, so a better-named building stays a rival."""
    return best.score - other.fit


def _is_rival(best: _Scored, other: _Scored) -> bool:
    """Another building close behind; not the plain sibling of a building whose own name says the unit or
    part the address names (3栋 beside 3栋二单元 for "3栋2单元")."""
    plain = other.building.unit is None and not other.building.qualifier
    same_door = other.place == best.place and other.building.door == best.building.door
    return _lead(best, other) < _CLEAR_LEAD and not (best.agrees and plain and same_door)


def _confidence(buildings: list[_Scored], places: list[_Scored]) -> tuple[float, list[str]]:
    """The confidence in the first of ``buildings``, and what lowered it."""
    best = buildings[0]
    confidence, doubts = max(best.score, 0.0) / 100, list(best.doubts)
    rival = next((other for other in buildings[1:] if _is_rival(best, other)), None)
    if rival is not None:
        confidence *= 0.5 + max(_lead(best, rival), 0.0) / (2 * _CLEAR_LEAD)
        doubts.append(f"{rival.label} fits nearly as well")
    named = max(places, key=lambda p: p.score, default=None)
    own = max((s.score for s in places if s.place == best.place), default=best.score)
    if named is not None and named.score - own > _NAMED_ELSEWHERE and named.place != best.place:
        sibling = named.place.base == best.place.base
        confidence *= _NAMED_SIBLING_FACTOR if sibling else _NAMED_ELSEWHERE_FACTOR
        where = "a part of it" if sibling else "not in it"
        doubts.append(f"the address names {named.place.shown}; {best.label} is {where}")
    return min(confidence, 1.0), doubts


def _candidates(buildings: list[_Scored], places: list[_Scored], limit: int, door: bool) -> list[dict]:
    """What the dispatcher chooses from, best first: for an address with a door its buildings, then any
    place that fits the text better (the compound it names, without that door); without a door, buildings
    known by name and compounds together."""
    top = buildings[0].score if buildings else 0.0
    extra = sorted({p.place: p for p in places if not door or p.score > top}.values(), key=lambda p: -p.score)
    pool = buildings + extra if door else sorted(buildings + extra, key=lambda s: (-s.score, s.building is None))
    return [{"code": s.building.code if s.building else None, "label": s.label, "score": round(s.score / 100, 3)}
            for s in pool if s.score >= _LISTED_FROM][:limit]  # fmt: skip


def match_address(conn: psycopg.Connection, address: str, limit: int = 5) -> Match:
    """The building ``address`` names, with a confidence, the unit and floor it gives, and candidates ordered
    best first. Never raises for odd text: an address that fits nothing has confidence 0 and no candidates."""
    index = _index(conn)
    as_code = unicodedata.normalize("NFKC", address).strip().upper()
    if as_code in index.codes:
        building = index.codes[as_code]
        return Match(building.id, building.code, 1.0, [{"code": building.code, "label": building.label, "score": 1.0}])
    reading = read_address(address)
    found, places = (_by_door if reading.door is not None else _without_door)(index, reading)
    buildings = _best_per_building(found)
    candidates = _candidates(buildings, places, limit, reading.door is not None)
    named = max((p.score for p in places), default=0.0)
    # Without a door, a compound fitting better than any building named in it answers: the place, not which building.
    if not buildings or buildings[0].score < _LISTED_FROM or (reading.door is None and named > buildings[0].score):
        return Match(None, None, round(named * _NO_DOOR / 100, 3), candidates, reading.unit, reading.floor,
                     ["no building with this door in the places the address names" if reading.door else
                      "no building named: a place without a door"])  # fmt: skip
    confidence, doubts = _confidence(buildings, places)
    best = buildings[0].building
    return Match(best.id, best.code, round(confidence, 3), candidates, reading.unit, reading.floor, doubts)


def suggest(conn: psycopg.Connection, address: str, limit: int = 8) -> dict:
    """What a dispatcher typing ``address`` sees as they type: how it reads (place, door, unit, floor), the
    candidate buildings best first with a point on each (WGS-84) to show on the map, the confidence of the
    best, and ``best`` (the building intake would take, at any confidence; null when none is named)."""
    match = match_address(conn, address, limit)
    reading = read_address(address)
    codes = [c["code"] for c in match.candidates if c["code"]]
    points = {
        code: (lon, lat)
        for code, lon, lat in conn.execute(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM building"
            " WHERE code = ANY(%s)) s",
            (codes,),
        )
    }
    candidates = [c | dict(zip(("lon", "lat"), points.get(c["code"], (None, None)), strict=True))
                  for c in match.candidates]  # fmt: skip
    best = next((c for c in candidates if c["code"] == match.code), None) if match.code else None
    return {
        "q": address, "reading": {"place": reading.place, "door": reading.door, "unit": match.unit,
                                  "floor": match.floor},
        "confidence": match.confidence, "best": best, "candidates": candidates, "doubts": match.doubts,
    }  # fmt: skip
