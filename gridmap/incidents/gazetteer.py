"""Address text → building: the building gazetteer (compound 小区 + building number such as "3栋",
building names, building codes) matched with rapidfuzz.

A compound is found inside a longer address ("深圳市民治街道民乐雅苑3栋" holds "民乐雅苑") or as a near
spelling; the building number must match exactly, because "3栋" and "13栋" are different doors. The
confidence drops when the address fits several places equally, so a vague address waits for a
dispatcher instead of being guessed."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

# "3栋", "A26栋", "5幢", "2座", "7号楼", "12#楼", "12#"
_NUMBER = re.compile(r"([A-Z]?\d{1,4}[A-Z]?)\s*(?:栋|幢|座|号楼|#楼|#)")
_NOISE = re.compile(r"[\s,，.。、;；:：()（）\[\]【】\"'“”‘’·-]+")
# Below this the address is taken to match nothing at all (a 4xx, not a queue).
NOTHING_BELOW = 0.6
# Another place scoring within this many points of the best makes the match ambiguous.
_AMBIGUOUS_POINTS = 3.0


def normalise(text: str) -> str:
    """Full-width to half-width, upper case, no spaces or punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).upper()


def building_number(text: str) -> str | None:
    """The building number in a normalised text ("A26栋" → "A26"), if any."""
    found = _NUMBER.search(text)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Match:
    """The building an address points at (None when it is not clear enough), with a confidence in [0, 1]
    and the best candidates for a dispatcher to choose from."""

    building_id: int | None
    code: str | None
    confidence: float
    candidates: list[dict] = field(default_factory=list)


@dataclass
class _Index:
    codes: dict[str, tuple[int, str, str]]  # CODE → (id, code, label)
    by_compound: dict[str, dict[str | None, list[tuple[int, str, str]]]]  # compound → number → buildings
    by_name: dict[str, list[tuple[int, str, str]]]  # names without a number: stations, schools …


_cache: dict[str, tuple[tuple, _Index]] = {}
_lock = threading.Lock()


def _stamp(conn: psycopg.Connection) -> tuple:
    return conn.execute("SELECT count(*), max(updated_at), max(id) FROM building").fetchone()


def _build(conn: psycopg.Connection) -> _Index:
    index = _Index({}, defaultdict(lambda: defaultdict(list)), defaultdict(list))
    for bid, code, name, compound in conn.execute(
        "SELECT id, code, coalesce(name, ''), coalesce(compound, '') FROM building"
    ):
        label = f"{compound}{name}" or code
        entry = (bid, code, label)
        index.codes[code.upper()] = entry
        name_n, compound_n = normalise(name), normalise(compound)
        number = building_number(name_n)
        if compound_n:
            index.by_compound[compound_n][number].append(entry)
        # Names of two characters (土地, 公厕) would match half of any address by one shared character.
        if name_n and number is None and len(name_n) >= 3:
            index.by_name[name_n].append(entry)
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


def _score(text: str, place: str, **_) -> float:
    """A place (compound or name) inside a longer address scores by partial alignment; an address shorter
    than the place (only part of its name) by plain similarity, so "民乐" does not fully match "民乐雅苑".
    (rapidfuzz's process functions call the scorer with the query first.)"""
    if len(text) >= len(place):
        return fuzz.partial_ratio(place, text)
    return fuzz.ratio(place, text)


def _score_before_number(text: str, place: str, **_) -> float:
    """A compound written right before the building number ("…白石龙新城二期5栋"): compared with the end of
    the text before the number, one character longer or shorter allowed, so a slip inside the name
    costs its full price instead of being hidden by a partial alignment elsewhere."""
    n = len(place)
    windows = (text[-k:] for k in (n - 1, n, n + 1) if 0 < k <= len(text))
    # Levenshtein, not InDel: a wrong character costs one edit, like a missing one, so "白某龙新城二期" stays
    # closer to 白石龙新城二期 than to 龙塘新城二期.
    return max((Levenshtein.normalized_similarity(place, w) * 100 for w in windows), default=0.0)


def match_address(conn: psycopg.Connection, address: str, limit: int = 5) -> Match:
    """The building ``address`` names, with a confidence; candidates ordered best first."""
    index = _index(conn)
    text = normalise(address)
    as_code = unicodedata.normalize("NFKC", address).strip().upper()
    if as_code in index.codes:
        bid, code, label = index.codes[as_code]
        return Match(bid, code, 1.0, [{"code": code, "label": label, "score": 1.0}])
    found = _NUMBER.search(text)
    number = found.group(1) if found else None
    head, scorer = (text[: found.start()], _score_before_number) if found else (text, _score)
    scored: list[tuple[float, tuple[int, str, str] | None, str]] = []
    for compound, score, _ in process.extract(head, list(index.by_compound), scorer=scorer, limit=limit * 4):
        doors = index.by_compound[compound]
        if number is not None:
            for entry in doors.get(number, ()):
                scored.append((score, entry, compound))
        else:
            # A compound without a building number: the right place, but not which building.
            scored.append((score * 0.6, None, compound))
    if number is None:
        for name, score, _ in process.extract(text, list(index.by_name), scorer=_score, limit=limit):
            scored.extend((score, entry, name) for entry in index.by_name[name])
    if not scored:
        return Match(None, None, 0.0)
    # Equal scores: the longer place wins ("民泰新城二期3栋" names 民泰新城二期, not 民泰新城), and a place whose
    # name lies inside the winner's is no rival.
    scored.sort(key=lambda s: (-s[0], -len(s[2]), s[1][1] if s[1] else ""))
    best_score, best, best_place = scored[0]
    rivals = [
        s for s in scored[1:]
        if s[0] >= best_score - _AMBIGUOUS_POINTS and s[1] != best and not (s[2] in best_place and s[2] != best_place)
    ]  # fmt: skip
    confidence = best_score / 100 * (0.5 if rivals else 1.0)
    candidates = [
        {"code": e[1] if e else None, "label": e[2] if e else place, "score": round(s / 100, 3)}
        for s, e, place in scored[:limit]
    ]
    if best is None:
        return Match(None, None, round(confidence, 3), candidates)
    return Match(best[0], best[1], round(confidence, 3), candidates)
