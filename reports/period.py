"""The date range a report covers: read from the query string, checked, and turned into the
moments and months the queries need."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.params import optional, parse_day, parse_whole

# Longer ranges make tables no one reads and queries over years of sessions.
LONGEST_YEARS = 3
# Courses with nothing booked ahead and nothing done for this many days count as dropped out,
# unless the query string says otherwise (IDLE_DAYS_RANGE).
DEFAULT_IDLE_DAYS = 60
IDLE_DAYS_RANGE = (7, 365)


@dataclass(frozen=True)
class Period:
    """Local days `first_day` to `last_day`, both included."""

    first_day: dt.date
    last_day: dt.date
    idle_days: int = DEFAULT_IDLE_DAYS

    @property
    def starts_at(self) -> dt.datetime:
        return _local_midnight(self.first_day)

    @property
    def ends_before(self) -> dt.datetime:
        return _local_midnight(self.last_day + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def each_day(self):
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += dt.timedelta(days=1)

    def months(self) -> list[dt.date]:
        """The first day of every calendar month the period touches, in order."""
        month = self.first_day.replace(day=1)
        months = []
        while month <= self.last_day:
            months.append(month)
            month += relativedelta(months=1)
        return months

    def query(self) -> str:
        """The query string that asks for this period again (for the CSV links)."""
        text = f"from={self.first_day:%Y-%m-%d}&to={self.last_day:%Y-%m-%d}"
        if self.idle_days != DEFAULT_IDLE_DAYS:
            text += f"&idle={self.idle_days}"
        return text


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=timezone.get_current_timezone())


def default_period(today: dt.date | None = None) -> Period:
    """The last 12 months: this month so far and the eleven before it."""
    today = today or timezone.localdate()
    return Period(today.replace(day=1) - relativedelta(months=11), today)


def presets(today: dt.date | None = None) -> list[tuple[str, Period]]:
    """The ranges a desk asks for most, one click each."""
    today = today or timezone.localdate()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    return [
        ("Last 12 months", default_period(today)),
        ("This year", Period(today.replace(month=1, day=1), today)),
        ("Last month", Period(last_month_end.replace(day=1), last_month_end)),
        (
            f"{today.year - 1}",
            Period(dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)),
        ),
    ]


def period_from_query(query, today: dt.date | None = None) -> Period:
    """The period a query string asks for (`from`, `to`, `idle`), each part defaulting to the
    last 12 months and DEFAULT_IDLE_DAYS. Raises ValidationError with a message per field."""
    default = default_period(today)
    errors: dict[str, list[str]] = {}
    first_day, last_day, idle_days = default.first_day, default.last_day, DEFAULT_IDLE_DAYS
    for name, parse in (("from", parse_day), ("to", parse_day)):
        try:
            value = optional(parse, query.get(name))
        except ValidationError as error:
            errors[name] = [f"“From”: {m}" if name == "from" else f"“To”: {m}" for m in error]
            continue
        if value is not None and name == "from":
            first_day = value
        elif value is not None:
            last_day = value
    try:
        idle = optional(
            lambda v: parse_whole(
                v, minimum=IDLE_DAYS_RANGE[0], maximum=IDLE_DAYS_RANGE[1], what="a number of days"
            ),
            query.get("idle"),
        )
        if idle is not None:
            idle_days = idle
    except ValidationError as error:
        errors["idle"] = [f"“Idle for”: {m}" for m in error]
    if not errors:
        if last_day < first_day:
            errors["to"] = ["“To” is before “From”: give the earlier date first."]
        elif last_day >= first_day + relativedelta(years=LONGEST_YEARS):
            errors["to"] = [
                f"The range is longer than {LONGEST_YEARS} years: choose a shorter one."
            ]
    if errors:
        raise ValidationError(errors)
    return Period(first_day, last_day, idle_days)
