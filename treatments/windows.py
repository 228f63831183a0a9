"""Look-back windows: the one boundary rule of every screening rule.

A window of N units (days, weeks or calendar months) counts an event from its own day through
the day N units later, and the day after that is free: waxed on 1 March, a 7-day window counts
through 8 March; isotretinoin stopped on 31 August, a 6-month window counts through the end of
February (month ends are clamped: 31 August plus 6 months is 28 or 29 February) and 1 March is
free. Dates are the clinic's local calendar days, so DST changes do not move them.
"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta

DAYS, WEEKS, MONTHS = "days", "weeks", "months"
_SINGULAR = {DAYS: "day", WEEKS: "week", MONTHS: "month"}


def last_day_counted(event_day: dt.date, number: int | None, unit: str) -> dt.date:
    """The last session day on which an event of `event_day` still counts (no window: the day
    itself)."""
    if not number:
        return event_day
    try:
        return event_day + relativedelta(**{unit: number})
    except (OverflowError, ValueError):
        return dt.date.max


def counts(event_day: dt.date, on: dt.date, number: int | None, unit: str) -> bool:
    """Whether an event on `event_day` counts for a session on `on`."""
    return event_day <= on <= last_day_counted(event_day, number, unit)


def period_counts(
    began: dt.date | None, ended: dt.date | None, on: dt.date, number: int | None, unit: str
) -> bool:
    """Whether something present from `began` to `ended` (None: open) counts on `on`."""
    if began is not None and began > on:
        return False
    return ended is None or on <= last_day_counted(ended, number, unit)


def first_day_counted(on: dt.date, number: int | None, unit: str) -> dt.date:
    """The earliest event day that still counts for a session on `on`: the day from which the
    patient is asked to avoid it."""
    if not number:
        return on
    day = on - relativedelta(**{unit: number})
    while last_day_counted(day - dt.timedelta(days=1), number, unit) >= on:
        day -= dt.timedelta(days=1)
    while last_day_counted(day, number, unit) < on:
        day += dt.timedelta(days=1)
    return day


def describe(number: int | None, unit: str) -> str:
    """'7 days', '1 week', '6 months'; '' without a window."""
    if not number:
        return ""
    return f"{number} {unit if number != 1 else _SINGULAR[unit]}"
