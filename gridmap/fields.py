"""Parsing of single cells from imported files into clean Python values, with a reason when they fail."""

from __future__ import annotations

import json
import math

from gridmap.errors import InvalidInput
from gridmap.text import check_tree, describe, unsafe_character


class BadValue(ValueError):
    """A cell that cannot be used; the message says why."""


def text(value, column: str, required: bool = False, max_len: int = 200) -> str | None:
    """A trimmed string, None when blank; refuses the characters gridmap.text refuses and overlong text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = ""
    s = str(value).strip()
    char = unsafe_character(s)
    if char is not None:
        raise BadValue(f"{column} contains {describe(char)}")
    if len(s) > max_len:
        raise BadValue(f"{column} is longer than {max_len} characters")
    if not s:
        if required:
            raise BadValue(f"{column} is missing")
        return None
    return s


def integer(value, column: str, minimum: int, maximum: int, default: int | None = None) -> int | None:
    """A whole number in [minimum, maximum]; blank gives ``default``."""
    s = text(value, column)
    if s is None:
        return default
    try:
        f = float(s)
    except ValueError:
        raise BadValue(f"{column} must be a whole number, got {s!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise BadValue(f"{column} must be a whole number, got {s!r}")
    n = int(f)
    if not minimum <= n <= maximum:
        raise BadValue(f"{column} must be between {minimum} and {maximum}, got {n}")
    return n


def choice(value, column: str, allowed: dict[str, str], default: str | None = None) -> str:
    """One of ``allowed``'s keys (English or Chinese), normalised to its value."""
    s = text(value, column)
    if s is None:
        if default is None:
            raise BadValue(f"{column} is missing")
        return default
    key = s.lower() if s.isascii() else s
    if key not in allowed:
        names = sorted({v for v in allowed.values()})
        raise BadValue(f"{column} must be one of {', '.join(names)}, got {s!r}")
    return allowed[key]


def code_list(value, column: str) -> list[str]:
    """Codes separated by ';', ',' or whitespace."""
    s = text(value, column, max_len=100_000) or ""
    return [c for c in s.replace(",", " ").replace(";", " ").split() if c]


def attrs(value, column: str = "attrs", max_bytes: int = 16_384) -> dict:
    """A JSON object of free attributes: no refused character anywhere (gridmap.text; PostgreSQL's jsonb
    refuses NUL), bounded size."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadValue(f"{column} must be a JSON object")
    try:
        check_tree(value, column)
    except InvalidInput as exc:
        raise BadValue(str(exc)) from None
    encoded = json.dumps(value, ensure_ascii=True, allow_nan=False, default=str)
    if len(encoded) > max_bytes:
        raise BadValue(f"{column} is larger than {max_bytes} bytes")
    return value


def checked(field: str, parse, *args, **kwargs):
    """Call a parser of this module and turn its BadValue into the domain's InvalidInput for ``field``."""
    try:
        return parse(*args, **kwargs)
    except (BadValue, ValueError) as exc:
        raise InvalidInput(str(exc), field) from None
