"""The reports' figures, each computed by a few aggregate queries whatever the number of sessions.

Every function takes a Period and returns a Table. Counting is done by the database (grouped
by month, modality or resource); Python only walks the groups, the months and the days of the
range, which do not grow with the sessions. No patient is named: every row is a month, a
modality or a member of staff, a room or a device.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    Sum,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format

from scheduling.availability import working_time
from scheduling.models import AvailabilityException, Device, Practitioner, Room, WaitlistOpening
from treatments.models import Modality, Session, TreatmentPlan

from .period import Period
from .tables import ChartSpec, Column, Kind, Table, rate

S = Session.Status
# Sessions that hold (or held) their time: booked, under way or done.
HELD = Session.ACTIVE_STATUSES
# Sessions that were given a time, whatever became of it.
APPOINTED = (S.BOOKED, S.CHECKED_IN, S.COMPLETED, S.NO_SHOW, S.CANCELLED)


def _month_of(value) -> dt.date:
    """TruncMonth's answer (a datetime in the clinic's zone, or a date) as the month's first day."""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _month_name(month: dt.date) -> str:
    return date_format(month, "M Y")


def _total(rows: list[dict], keys: list[str], **label) -> dict:
    """The last row of a table: each count summed over the rows, under `label`."""
    return {**label, **{key: sum(row[key] for row in rows) for key in keys}}


def _month_rows(period: Period, found: dict[dt.date, dict], keys: list[str]) -> list[dict]:
    """A row for every month of the period, with zeros where nothing happened."""
    rows = []
    for month in period.months():
        row = {"month": _month_name(month), "month_start": month}
        row.update({key: found.get(month, {}).get(key, 0) for key in keys})
        rows.append(row)
    return rows


# --- sessions per modality and month --------------------------------------------------------


def sessions_by_modality(period: Period) -> Table:
    """Sessions booked, under way or done, per month of their day and modality."""
    tz = timezone.get_current_timezone()
    # Two reads, each the planner can estimate (one condition on Coalesce(starts_at,
    # completed_at) it cannot, and it chose a nested loop over every session): sessions by
    # their booked time, and the few completed without one (recorded from the plan) by the
    # time they were recorded.
    booked = Session.objects.filter(
        status__in=HELD, starts_at__gte=period.starts_at, starts_at__lt=period.ends_before
    ).annotate(month=TruncMonth("starts_at", tzinfo=tz))
    unbooked = Session.objects.filter(
        status=S.COMPLETED,
        starts_at__isnull=True,
        completed_at__gte=period.starts_at,
        completed_at__lt=period.ends_before,
    ).annotate(month=TruncMonth("completed_at", tzinfo=tz))
    counts = [
        row
        for sessions in (booked, unbooked)
        for row in sessions.values("month", "plan__modality_id")
        .annotate(sessions=Count("id"))
        .order_by()
    ]
    modalities = list(Modality.objects.order_by("name").values_list("id", "name"))
    keys = [f"modality_{pk}" for pk, _ in modalities]
    found: dict[dt.date, dict] = {}
    for row in counts:
        month = found.setdefault(_month_of(row["month"]), {})
        key = f"modality_{row['plan__modality_id']}"
        month[key] = month.get(key, 0) + row["sessions"]
    rows = _month_rows(period, found, keys)
    for row in rows:
        row["total"] = sum(row[key] for key in keys)
    columns = [
        Column("month", "Month", Kind.TEXT),
        *(Column(key, name) for key, (_, name) in zip(keys, modalities, strict=True)),
        Column("total", "All sessions"),
    ]
    total = _total(rows, keys, month="Whole period")
    total["total"] = sum(total[key] for key in keys)
    return Table(
        columns=columns,
        rows=rows,
        total=total,
        chart=ChartSpec(
            "columns", label="month", series=tuple(keys), stacked=True, title="Sessions per month"
        ),
        notes=[
            "Sessions booked, checked in or done, by the month of their day; cancelled and "
            "missed sessions are in “Attendance”."
        ],
    )


# --- utilisation of practitioners, rooms and devices ----------------------------------------


def _wall_minutes(intervals) -> int:
    return sum(
        (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute) for start, end in intervals
    )


class _Hours:
    """Each practitioner's working time per day of the period, from their weekly hours and the
    exceptions in the period, with the weekly pattern worked out once per weekday."""

    def __init__(self, practitioners: list[Practitioner], period: Period):
        self.tz = timezone.get_current_timezone()
        self.practitioners = practitioners
        self.period = period
        self._weekly: dict[tuple[int, int], list] = {}
        self.days = list(period.each_day())
        self.weekdays = Counter(day.weekday() for day in self.days)
        # Days on which someone's exception replaces their week's hours.
        self.changed: dict[int, set[dt.date]] = {}
        for practitioner in practitioners:
            days = set()
            for exception in practitioner.exceptions.all():
                day = max(exception.first_day, period.first_day)
                while day <= min(exception.last_day, period.last_day):
                    days.add(day)
                    day += dt.timedelta(days=1)
            self.changed[practitioner.pk] = days

    def on(self, practitioner: Practitioner, day: dt.date) -> list[tuple[dt.time, dt.time]]:
        """(start, end) wall-clock times the practitioner works on the local day."""
        if day in self.changed[practitioner.pk]:
            return self._times(practitioner, practitioner.exceptions.all(), day)
        return self._week(practitioner, day)

    def minutes(self, practitioner: Practitioner) -> int:
        """The practitioner's working minutes over the period: their week's hours times the
        weekdays in it, corrected on the days an exception changes."""
        total = 0
        for weekday, count in self.weekdays.items():
            day = next(d for d in self.days[:7] if d.weekday() == weekday)
            total += count * _wall_minutes(self._week(practitioner, day))
        for day in self.changed[practitioner.pk]:
            total += _wall_minutes(self.on(practitioner, day))
            total -= _wall_minutes(self._week(practitioner, day))
        return total

    def _week(self, practitioner: Practitioner, day: dt.date):
        key = (practitioner.pk, day.weekday())
        if key not in self._weekly:
            self._weekly[key] = self._times(practitioner, (), day)
        return self._weekly[key]

    def _times(self, practitioner, exceptions, day):
        intervals = working_time(practitioner.working_hours.all(), exceptions, day, self.tz)
        return [(start.time(), end.time()) for start, end in intervals]

    def open_minutes(self) -> int:
        """Minutes of the period in which at least one active practitioner works: the time a
        room or a device can be used."""
        changed_days = set().union(*self.changed.values()) if self.changed else set()
        working = [p for p in self.practitioners if p.active]
        by_pattern: dict[object, int] = {}
        total = 0
        for day in self.days:
            key = day if day in changed_days else day.weekday()
            if key not in by_pattern:
                merged: list[list[dt.time]] = []
                for start, end in sorted(t for p in working for t in self.on(p, day)):
                    if merged and start <= merged[-1][1]:
                        merged[-1][1] = max(merged[-1][1], end)
                    else:
                        merged.append([start, end])
                by_pattern[key] = _wall_minutes(merged)
            total += by_pattern[key]
        return total


def utilisation(period: Period) -> Table:
    """Booked minutes over available minutes for each practitioner, room and device.

    A practitioner is available during their working hours minus their exceptions; a room or a
    device whenever the clinic is open (some active practitioner works). Booked: the length of
    every session booked, under way or done in the period, from its start to its end.
    """
    booked_groups = (
        Session.objects.filter(
            status__in=HELD,
            starts_at__gte=period.starts_at,
            starts_at__lt=period.ends_before,
            ends_at__isnull=False,
        )
        .values("practitioner_id", "booking__room_id", "booking__device_id")
        .annotate(
            booked=Sum(
                ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField())
            )
        )
        .order_by()
    )
    booked: dict[str, float] = {}
    for group in booked_groups:
        minutes = group["booked"].total_seconds() / 60
        for key, pk in (
            ("practitioner", group["practitioner_id"]),
            ("room", group["booking__room_id"]),
            ("device", group["booking__device_id"]),
        ):
            if pk is not None:
                booked[f"{key}:{pk}"] = booked.get(f"{key}:{pk}", 0) + minutes

    practitioners = list(
        Practitioner.objects.select_related("user").prefetch_related(
            "working_hours",
            Prefetch(
                "exceptions",
                queryset=AvailabilityException.objects.filter(
                    first_day__lte=period.last_day, last_day__gte=period.first_day
                ),
            ),
        )
    )
    hours = _Hours(practitioners, period)
    open_minutes = hours.open_minutes()

    rows = []
    for practitioner in sorted(practitioners, key=str):
        used = booked.get(f"practitioner:{practitioner.user_id}", 0)
        if not (practitioner.active or used):
            continue
        available = hours.minutes(practitioner)
        rows.append(_resource_row("Practitioner", str(practitioner), used, available))
    for kind, model in (("Room", Room), ("Device", Device)):
        for resource in model.objects.order_by("name"):
            used = booked.get(f"{kind.lower()}:{resource.pk}", 0)
            if resource.active or used:
                rows.append(_resource_row(kind, resource.name, used, open_minutes))
    return Table(
        columns=[
            Column("kind", "Resource", Kind.TEXT),
            Column("name", "Name", Kind.TEXT),
            Column("booked", "Booked", Kind.MINUTES),
            Column("available", "Available", Kind.MINUTES),
            Column("utilisation", "Utilisation", Kind.PERCENT),
        ],
        rows=rows,
        chart=ChartSpec("bars", label="label", series=("utilisation",), title="Utilisation"),
        notes=[
            "Available: a practitioner's working hours less their days off and changed hours; "
            "a room or a device whenever a practitioner works. Booked: the sessions booked, "
            "under way or done (their length, without the cleaning time after them)."
        ],
    )


def _resource_row(kind: str, name: str, booked: float, available: int) -> dict:
    return {
        "kind": kind,
        "name": name,
        "label": f"{name} ({kind.lower()})",
        "booked": booked,
        "available": available,
        "utilisation": rate(booked, available),
    }


# --- attendance: no-shows and late cancellations --------------------------------------------


def attendance(period: Period) -> Table:
    """Per month of the appointment: how many were kept, missed, and cancelled late."""
    tz = timezone.get_current_timezone()
    counts = (
        Session.objects.filter(
            status__in=APPOINTED,
            starts_at__gte=period.starts_at,
            starts_at__lt=period.ends_before,
        )
        .annotate(month=TruncMonth("starts_at", tzinfo=tz))
        .values("month")
        .annotate(
            appointments=Count("id"),
            attended=Count("id", filter=Q(status__in=(S.CHECKED_IN, S.COMPLETED))),
            no_shows=Count("id", filter=Q(status=S.NO_SHOW)),
            cancelled=Count("id", filter=Q(status=S.CANCELLED)),
            cancelled_late=Count("id", filter=Q(status=S.CANCELLED, booking__cancelled_late=True)),
        )
        .order_by()
    )
    keys = ["appointments", "attended", "no_shows", "cancelled", "cancelled_late"]
    rows = _month_rows(period, {_month_of(row["month"]): row for row in counts}, keys)
    total = _total(rows, keys, month="Whole period")
    for row in [*rows, total]:
        row["no_show_rate"] = rate(row["no_shows"], row["attended"] + row["no_shows"])
        row["late_cancel_rate"] = rate(row["cancelled_late"], row["appointments"])
    return Table(
        columns=[
            Column("month", "Month", Kind.TEXT),
            Column("appointments", "Appointments"),
            Column("attended", "Attended"),
            Column("no_shows", "No-shows"),
            Column("cancelled", "Cancelled"),
            Column("cancelled_late", "Cancelled late"),
            Column("no_show_rate", "No-show rate", Kind.PERCENT),
            Column("late_cancel_rate", "Late-cancellation rate", Kind.PERCENT),
        ],
        rows=rows,
        total=total,
        chart=ChartSpec(
            "columns",
            label="month",
            series=("no_show_rate", "late_cancel_rate"),
            title="No-show and late-cancellation rates",
        ),
        notes=[
            "Appointments: sessions given a time in the month, whatever became of them. "
            "No-show rate: no-shows of the patients expected (attended and no-shows). "
            "Late-cancellation rate: cancellations with less notice than the clinic asks, of "
            "all appointments."
        ],
    )


# --- courses: completion and drop-out -------------------------------------------------------


def courses(period: Period, *, now: dt.datetime | None = None) -> Table:
    """Courses started in the period, per modality: completed, stopped, idle or running.

    Idle: still active, but nothing booked ahead and nothing done for `period.idle_days` days
    (and started longer ago than that): a patient who dropped out without saying so.
    """
    now = now or timezone.now()
    idle_since = now - dt.timedelta(days=period.idle_days)
    lately = Session.objects.filter(plan=OuterRef("pk"), status__in=HELD).filter(
        Q(starts_at__gte=idle_since) | Q(completed_at__gte=idle_since)
    )
    P = TreatmentPlan.Status
    counts = (
        TreatmentPlan.objects.filter(
            created_at__gte=period.starts_at, created_at__lt=period.ends_before
        )
        .values("modality__name")
        .annotate(
            started=Count("id"),
            completed=Count("id", filter=Q(status=P.COMPLETED)),
            stopped=Count("id", filter=Q(status=P.STOPPED)),
            idle=Count(
                "id",
                filter=Q(status=P.ACTIVE, created_at__lt=idle_since) & ~Q(Exists(lately)),
            ),
        )
        .order_by("modality__name")
    )
    keys = ["started", "completed", "running", "idle", "stopped"]
    rows = []
    for row in counts:
        row["running"] = row["started"] - row["completed"] - row["stopped"] - row["idle"]
        rows.append({"modality": row["modality__name"], **{key: row[key] for key in keys}})
    total = _total(rows, keys, modality="All modalities")
    for row in [*rows, total]:
        row["completion_rate"] = rate(row["completed"], row["started"])
        row["drop_out_rate"] = rate(row["stopped"] + row["idle"], row["started"])
    return Table(
        columns=[
            Column("modality", "Modality", Kind.TEXT),
            Column("started", "Courses started"),
            Column("completed", "Completed"),
            Column("running", "Running"),
            Column("idle", f"Idle {period.idle_days}+ days"),
            Column("stopped", "Stopped"),
            Column("completion_rate", "Completion rate", Kind.PERCENT),
            Column("drop_out_rate", "Drop-out rate", Kind.PERCENT),
        ],
        rows=rows,
        total=total,
        chart=ChartSpec(
            "columns",
            label="modality",
            series=("completed", "running", "idle", "stopped"),
            stacked=True,
            title="Courses started, by what became of them",
        ),
        notes=[
            f"Courses started in the period. Idle: still active, with nothing booked ahead and "
            f"nothing done in the last {period.idle_days} days. Drop-out: stopped or idle."
        ],
    )


# --- the waiting list: how many freed times it filled ---------------------------------------


def waitlist_fill(period: Period) -> Table:
    """Per month in which a freed time was offered to the waiting list: how many such times,
    how many offers went out for them, and how many were booked from the list (one query)."""
    tz = timezone.get_current_timezone()
    counts = (
        WaitlistOpening.objects.filter(
            created_at__gte=period.starts_at, created_at__lt=period.ends_before
        )
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .annotate(
            freed=Count("id", distinct=True),
            offers=Count("offers", distinct=True),
            filled=Count("id", filter=Q(status=WaitlistOpening.Status.FILLED), distinct=True),
        )
        .order_by()
    )
    keys = ["freed", "offers", "filled"]
    rows = _month_rows(period, {_month_of(row["month"]): row for row in counts}, keys)
    total = _total(rows, keys, month="Whole period")
    for row in [*rows, total]:
        row["fill_rate"] = rate(row["filled"], row["freed"])
    return Table(
        columns=[
            Column("month", "Month", Kind.TEXT),
            Column("freed", "Freed times offered"),
            Column("offers", "Offers sent"),
            Column("filled", "Filled from the list"),
            Column("fill_rate", "Fill rate", Kind.PERCENT),
        ],
        rows=rows,
        total=total,
        chart=ChartSpec("columns", label="month", series=("fill_rate",), title="Fill rate"),
        notes=[
            "Freed times: sessions cancelled or moved whose time was offered to the patients "
            "waiting for one, counted in the month the offer went out. Fill rate: the share of "
            "them booked by a waiting patient from the emailed link."
        ],
    )
