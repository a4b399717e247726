"""Reading address text as citizens write it: "广东省深圳市龙华区民治街道民乐雅苑南区三栋二单元一五零二室" is the
place 民乐雅苑南区, building 3, unit 2, floor 15.

Pure text, no database. The gazetteer reads its own building names with the same reader, so both sides of
every comparison are written alike: Chinese numerals that count (三栋, 十二单元, 二期) as digits, 号楼/幢/座/#/号
as 栋, full-width as half-width, no spaces or punctuation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import cn2an

# Everything but letters, digits, # and hyphens: "1-2栋" and "12栋" are different doors.
_NOISE = re.compile(r"[^\w#-]+|_+")
_LOOSE_HYPHEN = re.compile(r"(?<![0-9A-Z])[-‐‑–—]+|[-‐‑–—]+(?![0-9A-Z])")
_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千幺]+")
# Chinese numerals count something only next to what they count: before a marker (三栋, 二单元, 三期, 十五楼)
# or right after a door or unit (2单元一五零二, a room). Elsewhere they are part of a name (九龙山, 四季花城).
_COUNTED = ("栋", "幢", "座", "号", "单元", "室", "房", "层", "楼", "期", "区", "#")
_AFTER = ("栋", "幢", "座", "号", "单元", "楼", "#")
_MARKERS = (
    (re.compile(r"(?<=[0-9A-Z])#(?=\d{1,3}(?:栋|幢|座|号楼))"), "-"),  # 1#1栋: door 1-1 (but 2#2单元: door 2)
    (re.compile(r"号楼|#楼|幢|座|#"), "栋"),
    # 号 is a door only after a number and before the end, a unit or a room: 17号, 3号2单元 (not 10号仓, 123号路).
    (re.compile(r"(?<=[0-9A-Z])号(?=$|[0-9]|单元)"), "栋"),
    # 3-2-1502: door, unit, room.
    (re.compile(r"(?<![0-9A-Z-])(\d{1,3})-(\d{1,2})-(\d{3,4})(?![0-9-])"), r"\1栋\2单元\3室"),
)
_DOOR_NUMBER = r"[A-Z]{0,2}\d{1,4}[A-Z]?(?:-\d{1,4}[A-Z]?)?|[A-Z]{1,2}"
_DOOR_MARKED = re.compile(rf"第?({_DOOR_NUMBER})栋")
_DOOR_ONLY = re.compile(rf"(?:{_DOOR_NUMBER})")
_UNIT = re.compile(r"(\d{1,3})单元")
_FLOOR = re.compile(r"(\d{1,3})(?:层|楼|F(?![0-9A-Z]))")
# A room of 3-4 digits (1502, 302) marked 室/房, or bare right after the door or unit; its floor is all but the
# last two digits.
_MARKED_ROOM = re.compile(r"(\d{3,4})(?:室|房)")
_ROOM = re.compile(rf"^(\d{{3,4}})(?![0-9])|{_MARKED_ROOM.pattern}")
# 期/区 written after a name: 二期, 南区, A区. Compared on their own, so "民乐雅苑3栋" can be read as a phase of
# 民乐雅苑 that was left out, and 南区 against 三期 as a real disagreement.
_PART = re.compile(r"(?:\d{1,2}|[东西南北中]|[A-Z]{1,2})(?:期|区)$")
# Province, city, district, subdistrict (街道, 镇) and community prefixes. A district ends in 区/县 after
# at most four characters that do not end in a direction or a number (龙华区, not 白石龙东区 or 三区).
_ADMIN = re.compile(
    r"^(?:中华人民共和国|中国)?(?:[^省市]{2,3}省|[^区市]{2,6}自治区)?(?:[^市省]{2,4}市)?"
    r"(?:[^市区县]{1,3}[^东西南北中0-9A-Z期市区县](?:新区|区|县))?"
    r"(?:[^街镇乡]{2,4}(?:街道|镇|乡))?(?:[^区]{2,4}社区)?"
)
# Units and floors the lookup takes (gridmap.lookup: 1–200); anything else is not a unit or a floor.
_MOST = 200


def _numerals_to_digits(text: str) -> str:
    def convert(found: re.Match) -> str:
        before, after = text[: found.start()], text[found.end() :]
        if not (after.startswith(_COUNTED) or before.endswith(_AFTER)):
            return found.group()
        try:
            return str(cn2an.cn2an(found.group(), "smart"))
        except ValueError:  # 十十, 百: not a number after all
            return found.group()

    return _CN_NUMERAL.sub(convert, text)


def normalise(text: str) -> str:
    """``text`` as the gazetteer compares it: half-width, upper case, no spaces or punctuation (hyphens
    inside door numbers kept), counting Chinese numerals as digits, every door marker as 栋."""
    text = _NOISE.sub("", unicodedata.normalize("NFKC", text)).upper()
    text = _numerals_to_digits(_LOOSE_HYPHEN.sub("", text))
    for pattern, replacement in _MARKERS:
        text = pattern.sub(replacement, text)
    return text


def strip_admin(text: str) -> str:
    """A normalised text without its leading province, city, district, subdistrict and community; unchanged
    when nothing of a place would be left."""
    rest = text[_ADMIN.match(text).end() :]
    return rest if len(rest) >= 2 else text


def split_parts(place: str) -> tuple[str, tuple[str, ...]]:
    """A normalised place name and the 期/区 parts written at its end: "民治公寓2期1期" is ("民治公寓", ("2期",
    "1期")); a name that is only a part ("东区") keeps it."""
    parts: list[str] = []
    while (found := _PART.search(place)) and found.start() >= 2:
        parts.insert(0, found.group())
        place = place[: found.start()]
    return place, tuple(parts)


def _plausible(value: int) -> int | None:
    return value if 1 <= value <= _MOST else None


@dataclass(frozen=True)
class Reading:
    """What an address says: the place before the door (admin prefix removed), the door number ("3",
    "A26", "1-2") and the unit and floor when it gives them (a 3–4 digit room gives the floor)."""

    place: str
    door: str | None
    unit: int | None = None
    floor: int | None = None
    rest: str = ""  # what follows the door: 2单元1502室, a building's own name (知恩楼) …


def read_address(address: str) -> Reading:
    """The place, door, unit and floor of ``address`` (any writing: see ``normalise``)."""
    text = normalise(address)
    found = _DOOR_MARKED.search(text)
    if found is None:
        return Reading(strip_admin(text), None, *_unit_and_floor(text, after_door=False))
    rest = text[found.end() :]
    return Reading(strip_admin(text[: found.start()]), found.group(1), *_unit_and_floor(rest, True), rest=rest)


def read_name(name: str) -> Reading:
    """A building's name read like an address: "3栋二单元" is door 3, unit 2; "潜龙苑2栋" door 2 of 潜龙苑;
    a name that is only a door number ("12", "E13") is that door; a name without one ("民乐站") has none."""
    text = normalise(name)
    if _DOOR_ONLY.fullmatch(text):
        return Reading("", text)
    found = _DOOR_MARKED.search(text)
    if found is None:
        return Reading(text, None)
    rest = text[found.end() :]
    return Reading(text[: found.start()], found.group(1), *_unit_and_floor(rest, True), rest=rest)


def _unit_and_floor(text: str, after_door: bool) -> tuple[int | None, int | None]:
    """The unit and floor ``text`` gives. A bare room counts only right after a door or unit (3栋1502);
    elsewhere it must be marked (1502室), so "123号" is no room."""
    unit = _UNIT.search(text)
    after_unit = text[unit.end() :] if unit else text
    unit_number = _plausible(int(unit.group(1))) if unit else None
    if floor := _FLOOR.search(after_unit):
        return unit_number, _plausible(int(floor.group(1)))
    room = (_ROOM if after_door or unit else _MARKED_ROOM).search(after_unit)
    return unit_number, _plausible(int(room.group(room.lastindex)) // 100) if room else None
