"""How staff type names, phone numbers and dates of birth, and the one stored form of each.

A record stores its name folded (no accents, no case) and its phone number in E.164, both
derived on save, so that search and the duplicate check compare like with like on SQLite and
PostgreSQL alike, with plain indexed columns and no database extension.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import phonenumbers
from django.conf import settings

from core.params import EARLIEST_DAY, LATEST_DAY

# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "ħ": "h", "ı": "i", "þ": "th"}
)
_NOT_NAME = re.compile(r"[^\w]+")


def fold(text: str) -> str:
    """`text` without accents, case or punctuation, words single-spaced: "Chloé  d'Arc" gives
    "chloe d arc", so "chloe", "CHLOE" and "Chloé" find the same person."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_NOT_NAME.sub(" ", bare.translate(_UNDECOMPOSED)).split())


def folded_name(first_name: str, last_name: str) -> str:
    return fold(f"{first_name} {last_name}")


# What a typed phone number may look like: digits with spaces, dashes, dots, slashes or
# brackets, an optional leading + or 00, and at least six digits.
_PHONE_LIKE = re.compile(r"\+?[0-9(][0-9 \-./()]*", re.ASCII)


def phone_e164(text: str, region: str | None = None, *, valid: bool = False) -> str:
    """The number in E.164 ("+31612345678") as typed in any common format, read in the
    clinic's region (PHONE_REGION) when it has no country code; "" when it is no number of
    a possible length (with `valid`, no number in use in its country's numbering plan)."""
    text = (text or "").strip()
    if not _PHONE_LIKE.fullmatch(text) or sum(c.isdigit() for c in text) < 6:
        return ""
    try:
        number = phonenumbers.parse(text, region or settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    if valid and not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_TYPED_DAY = re.compile(r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})", re.ASCII)
_ISO_DAY = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})", re.ASCII)


def typed_day(text: str) -> dt.date | None:
    """A date as staff type it: 12-04-1988, 12/04/1988, 12.4.1988 (day first unless
    DATE_DAY_FIRST is off) or 1988-04-12; None when it is no date."""
    text = text.strip()
    if match := _ISO_DAY.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _TYPED_DAY.fullmatch(text):
        first, second, year = (int(part) for part in match.groups())
        day, month = (first, second) if settings.DATE_DAY_FIRST else (second, first)
    else:
        return None
    try:
        found = dt.date(year, month, day)
    except ValueError:
        return None
    return found if EARLIEST_DAY <= found <= LATEST_DAY else None
