"""Callers' phone numbers: checked as a mainland mobile (138 1234 5678) or landline with its area code
(0755 1234 5678), written one way, and turned into the key phone search uses. Read with Google's
libphonenumber data (``phonenumbers``), not a home-made pattern: number ranges change every year."""

from __future__ import annotations

import phonenumbers

from gridmap.errors import InvalidInput

REGION = "CN"
MIN_SEARCH_DIGITS = 4


def normalise_phone(text: str, field: str = "reporter_phone") -> str:
    """``text`` as a valid number in one written form, as a dispatcher dials it and an SMS gateway takes it:
    a mainland mobile as its 11 digits ("13812345678"), a mainland landline with its trunk 0 and area code
    ("0755-12345678"), any other number in E.164 ("+85291234567"). InvalidInput (naming ``field``) for
    anything else, such as a landline without its area code or a mobile a digit short."""
    try:
        number = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput(
            f"电话号码无效：{text[:30]!r}。手机 11 位（13812345678），座机带区号（0755-12345678）· not a valid"
            " mobile or landline number (landlines need their area code)",
            field,
        )
    if phonenumbers.region_code_for_number(number) != REGION:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = phonenumbers.national_significant_number(number)
    area = phonenumbers.length_of_geographical_area_code(number)
    return f"0{digits[:area]}-{digits[area:]}" if area else digits


def phone_key(text: str) -> str:
    """The search key of a number (its digits read backwards): stored reports match it with a prefix of
    their ``phone_key`` column (migration 0012) whatever way they were written. A whole valid number keys
    by its national digits (so +86 and a trunk 0 do not matter); anything else of at least four digits
    keys by those digits, so the last digits a caller reads out ("尾号 5678") find the number.
    InvalidInput (field ``phone``) for text with fewer digits."""
    try:
        number = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return str(phonenumbers.national_significant_number(number))[::-1]
    digits = "".join(c for c in text if c.isdigit() and c.isascii())
    if len(digits) < MIN_SEARCH_DIGITS or len(digits) != len("".join(text.split()).replace("-", "")):
        raise InvalidInput(f"search by a phone number or at least its last {MIN_SEARCH_DIGITS} digits", "phone")
    return digits[::-1]
