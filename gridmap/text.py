"""The one rule for text anyone sends in: what characters it may hold, and how it leaves in a spreadsheet.

Refused everywhere (API bodies, query strings, path segments, imported files): NUL (PostgreSQL cannot
store it), the other C0 control characters except tab, line feed and carriage return, DEL, the C1
controls, and the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
which make a name display as something other than what it is ("Trojan Source"). Refusing, not
stripping, keeps what is stored equal to what was sent and tells the sender which field is wrong.
"""

from __future__ import annotations

import re

from gridmap.errors import InvalidInput

_UNSAFE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
UNSAFE_CHARACTER = re.compile(f"[{_UNSAFE}]")
# The same characters as they can appear in a raw JSON body, escaped (\u0000) or in UTF-8: a cheap
# first look so that a clean body (nearly all of them) is never parsed twice. Byte searches (memchr
# speed) decide first; the regular expression runs only on a body that has one of the lead bytes.
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_ESCAPE = re.compile(rb"\\u00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|\\u20(?:2[a-eA-E]|6[6-9])")
_UNSAFE_UTF8 = re.compile(rb"\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
_NAMES = {"\x00": "a NUL byte", "\x7f": "DEL"}


def describe(char: str) -> str:
    """How a refused character is named in a message: ``a NUL byte``, ``control character U+0001``…"""
    if char in _NAMES:
        return _NAMES[char]
    kind = "bidirectional control" if "\u202a" <= char <= "\u2069" else "control character"
    return f"{kind} U+{ord(char):04X}"


def unsafe_character(value: str) -> str | None:
    """The first refused character in ``value``, or None when it is clean."""
    found = UNSAFE_CHARACTER.search(value)
    return found.group() if found else None


def check_text(value: str, field: str) -> str:
    """``value`` unchanged when it is clean, else InvalidInput naming ``field`` and the character."""
    char = unsafe_character(value)
    if char is not None:
        raise InvalidInput(f"{field} contains {describe(char)}, which is not allowed in text", field)
    return value


def may_hold_unsafe_json(body: bytes) -> bool:
    """False when a raw JSON body surely holds no refused character (a fast scan of the bytes)."""
    if _RAW_CONTROL.search(body):
        return True
    if b"\\u" in body and _UNSAFE_ESCAPE.search(body):
        return True
    return (b"\xc2" in body or b"\xe2" in body) and _UNSAFE_UTF8.search(body) is not None


def check_tree(value, field: str) -> None:
    """Check every string in a parsed JSON value, keys included; the field named is its path
    (``attrs.k``, ``points[3].id``)."""
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            check_text(str(key), name)
            check_tree(item, name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_tree(item, f"{field}[{i}]")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def looks_like_formula(value: str) -> bool:
    """Whether a spreadsheet would take ``value`` as a formula: it starts with ``= + - @``, tab or CR
    (OWASP's list for CSV injection)."""
    return value.startswith(_FORMULA_START)


def spreadsheet_text(value: str) -> str:
    """``value`` without the control characters XLSX cannot hold: text stored before they were refused
    must not break a report."""
    return _ILLEGAL_IN_XLSX.sub("", value)


def csv_cell(value):
    """A value safe in a CSV cell a person will open in a spreadsheet: formula-like text gets a leading
    ``'`` so it is shown, never run; numbers and None pass unchanged."""
    if not isinstance(value, str):
        return value
    value = spreadsheet_text(value)
    return "'" + value if looks_like_formula(value) else value
