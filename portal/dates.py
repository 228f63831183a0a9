"""Dates the way a patient reads them: "Thursday 14 March", "in 3 days", in the clinic's zone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.formats import date_format, time_format


def local_day(moment: dt.datetime | dt.date) -> dt.date:
    if isinstance(moment, dt.datetime):
        return timezone.localtime(moment).date()
    return moment


def day_name(moment: dt.datetime | dt.date, *, today: dt.date | None = None) -> str:
    """ "Thursday 14 March", with the year only when it is not this year."""
    day = local_day(moment)
    today = today or timezone.localdate()
    fmt = "l j F" if day.year == today.year else "l j F Y"
    return date_format(day, fmt)


def short_day(moment: dt.datetime | dt.date) -> str:
    return date_format(local_day(moment), "j M")


def clock(moment: dt.datetime) -> str:
    return time_format(timezone.localtime(moment), "H:i")


def countdown(moment: dt.datetime | dt.date, *, today: dt.date | None = None) -> str:
    """ "today", "tomorrow", "in 3 days", "yesterday", "5 days ago" (calendar days, local)."""
    days = (local_day(moment) - (today or timezone.localdate())).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if days > 1:
        return f"in {days} days"
    return f"{-days} days ago"


class Days:
    """The dates of one page in a patient's words, each distinct day formatted once: a plain
    dict that lives as long as the page's drawing, so a day shown on the chart, in the list
    and in the aftercare is worked out once (Django's date_format costs more than the rest)."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self._names: dict[dt.date, str] = {}
        self._short: dict[dt.date, str] = {}

    def name(self, moment: dt.datetime | dt.date | None) -> str:
        if moment is None:
            return ""
        day = local_day(moment)
        if day not in self._names:
            self._names[day] = day_name(day, today=self.today)
        return self._names[day]

    def short(self, moment: dt.datetime | dt.date | None) -> str:
        if moment is None:
            return ""
        day = local_day(moment)
        if day not in self._short:
            self._short[day] = short_day(day)
        return self._short[day]

    def countdown(self, moment: dt.datetime | dt.date | None) -> str:
        return countdown(moment, today=self.today) if moment is not None else ""

    @staticmethod
    def clock(moment: dt.datetime | None) -> str:
        return clock(moment) if moment is not None else ""
