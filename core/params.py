"""What a client may send as an id, a day, a moment or a list of ids: one rule for each, used by
the API's serializers and filters and by the pages' query strings.

Python's own parsing is too generous for input: `"²".isdigit()` is true but `int("²")` fails,
`int("١٢٣٤")` is 1234, `True` is the integer 1, and a date in the year 9999 overflows the first
time a day is added to it. So an id here is ASCII digits (or a JSON integer, never a boolean)
within the database's integer range, and a day lies between EARLIEST_DAY and LATEST_DAY.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone

ID_MIN, ID_MAX = 1, 2**31 - 1  # the range of the database's integer primary keys
MAX_IDS = 200  # ids in one list: more than any form or screening needs
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2100, 12, 31)

_ASCII_ID = re.compile(r"[0-9]{1,19}", re.ASCII)
_ASCII_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_ASCII_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)


def parse_whole(value: object, *, minimum: int, maximum: int, what: str = "a number") -> int:
    """A whole number from `minimum` to `maximum`, given as ASCII digits or a JSON integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _ASCII_ID.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValidationError(f"Give {what}: a whole number such as 12.", code="invalid")
    if not minimum <= number <= maximum:
        raise ValidationError(
            f"Give {what}: a whole number from {minimum} to {maximum}.", code="out_of_range"
        )
    return number


def parse_id(value: object) -> int:
    """A record id: a whole number from 1 to ID_MAX, given as ASCII digits or a JSON integer."""
    return parse_whole(value, minimum=ID_MIN, maximum=ID_MAX, what="an id")


def parse_ids(values: list) -> list[int]:
    """A list of ids, at most MAX_IDS of them, in the order given."""
    if not isinstance(values, list | tuple):
        raise ValidationError("Give a list of ids.", code="invalid")
    if len(values) > MAX_IDS:
        raise ValidationError(f"Give at most {MAX_IDS} ids at once.", code="max_length")
    return [parse_id(value) for value in values]


def check_day(day: dt.date) -> dt.date:
    """A day (or a moment's day) between EARLIEST_DAY and LATEST_DAY: every day the clinic can
    mean. Also a validator for form and model fields."""
    if not EARLIEST_DAY <= (day.date() if isinstance(day, dt.datetime) else day) <= LATEST_DAY:
        raise ValidationError(
            f"Give a date between {EARLIEST_DAY:%Y} and {LATEST_DAY:%Y}.", code="out_of_range"
        )
    return day


def parse_day(value: object) -> dt.date:
    """A day written YYYY-MM-DD in ASCII digits, within the bounds of check_day."""
    if isinstance(value, dt.datetime):
        raise ValidationError("Give a date, not a date and time.", code="invalid")
    if isinstance(value, dt.date):
        return check_day(value)
    if not isinstance(value, str) or not _ASCII_DAY.fullmatch(value.strip()):
        raise ValidationError("Give a date as YYYY-MM-DD.", code="invalid")
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError("That date does not exist.", code="invalid") from None
    return check_day(day)


def parse_moment(value: object) -> dt.datetime:
    """A date and time in ISO 8601 with ASCII digits, within the bounds of check_day; without a
    zone it is the clinic's local time."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and _ASCII_MOMENT.fullmatch(value.strip()):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("That date and time does not exist.", code="invalid") from None
    else:
        raise ValidationError("Give a date and time as YYYY-MM-DDTHH:MM.", code="invalid")
    check_day(moment.date())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def optional(parse, value):
    """`parse(value)`, or None for a missing or empty query-string value."""
    if value is None or value == "":
        return None
    return parse(value)


def lenient(parse, value):
    """`parse(value)`, or None when the value is missing or invalid: for a page's preference
    (a calendar's day, a practitioner to preselect) where the default serves as well."""
    try:
        return optional(parse, value)
    except ValidationError:
        return None
