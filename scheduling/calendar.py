"""Read side of the desk pages: the day grid (per practitioner or per room) and the week list.

A day grid costs a fixed number of queries, however many sessions the day holds: the columns
(practitioners with their hours and exceptions, or rooms) and the day's sessions with
everything a cell shows.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone

from core.links import id_url
from treatments.models import Session

from .availability import work_intervals
from .models import Practitioner, Room
from .rules import local_midnight

ROW_MINUTES = 15
SHOWN = (*Session.ACTIVE_STATUSES, Session.Status.NO_SHOW)


@dataclass(frozen=True, slots=True)
class Entry:
    """A booked session as the calendars show it: plain strings worked out in one pass over
    the rows, not five model instances and a reverse() per session."""

    pk: int
    status: str
    status_label: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    time: str  # local "HH:MM"
    url: str
    patient: str
    modality: str
    number: int
    practitioner_id: int | None
    practitioner: str
    room_id: int | None
    room: str
    flag: str = ""  # what screening finds for the booked day now (treatments Session.flag)
    flag_label: str = ""
    flag_reason: str = ""
    flag_lifts_on: dt.date | None = None
    patient_id: int | None = None  # whose session: a calendar shown is audited per patient


def entries(sessions) -> list[Entry]:
    """The calendar entries of a Session queryset (already filtered and ordered)."""
    labels = dict(Session.Status.choices)
    flags = dict(Session.Flag.choices)
    url = id_url("scheduling:session")
    rows = sessions.values_list(
        "pk",
        "status",
        "starts_at",
        "ends_at",
        "number",
        "patient__first_name",
        "patient__last_name",
        "plan__modality__name",
        "practitioner_id",
        "practitioner__first_name",
        "practitioner__last_name",
        "practitioner__username",
        "booking__room_id",
        "booking__room__name",
        "flag",
        "flag_reason",
        "flag_lifts_on",
        "patient_id",
    )
    localtime = timezone.localtime
    return [
        Entry(
            pk=pk,
            status=status,
            status_label=labels.get(status, status),
            starts_at=starts_at,
            ends_at=ends_at,
            time=f"{localtime(starts_at):%H:%M}",
            url=url(pk),
            patient=f"{first} {last}",
            modality=modality,
            number=number,
            practitioner_id=practitioner_id,
            # As User.get_full_name(), or the username when the name is blank.
            practitioner=f"{p_first} {p_last}".strip() or (p_username or ""),
            room_id=room_id,
            room=room or "",
            flag=flag,
            flag_label=flags.get(flag, ""),
            flag_reason=flag_reason,
            flag_lifts_on=flag_lifts_on,
            patient_id=patient_id,
        )
        for (
            pk,
            status,
            starts_at,
            ends_at,
            number,
            first,
            last,
            modality,
            practitioner_id,
            p_first,
            p_last,
            p_username,
            room_id,
            room,
            flag,
            flag_reason,
            flag_lifts_on,
            patient_id,
        ) in rows
    ]


@dataclass
class Cell:
    kind: str  # "session", "free", "closed"
    session: Entry | None = None
    rowspan: int = 1
    starts_at: dt.datetime | None = None
    column_key: int | None = None
    column_label: str = ""
    # Worked out here once rather than by template tags in each of a day's hundreds of cells.
    book_url: str = ""
    time_label: str = ""


@dataclass
class Row:
    time: dt.datetime
    cells: list[Cell] = field(default_factory=list)
    label: str = ""  # local "HH:MM"


def day_sessions(day: dt.date):
    return (
        Session.objects.filter(
            starts_at__gte=local_midnight(day),
            starts_at__lt=local_midnight(day + dt.timedelta(days=1)),
            status__in=SHOWN,
        )
        .select_related("patient", "plan__modality", "practitioner", "booking__room")
        .order_by("starts_at")
    )


def practitioners_for(first_day: dt.date, last_day: dt.date) -> list[Practitioner]:
    return list(Practitioner.objects.with_schedule(first_day, last_day))


def day_grid(day: dt.date, *, by_room: bool = False, now: dt.datetime | None = None):
    """Columns and rows of the day's calendar (rows every 15 minutes of local time)."""
    now = now or timezone.now()
    sessions = entries(day_sessions(day))
    practitioners = practitioners_for(day, day)
    hours = {p.pk: work_intervals(p, day) for p in practitioners}
    if by_room:
        columns = list(Room.objects.filter(active=True))

        def column_of(session):
            return session.room_id

        def open_at(column, moment):
            return any(s <= moment < e for intervals in hours.values() for s, e in intervals)

        column_keys = [room.pk for room in columns]
    else:
        columns = practitioners

        def column_of(session):
            return session.practitioner_id

        def open_at(column, moment):
            return any(s <= moment < e for s, e in hours[column.pk])

        column_keys = [p.user_id for p in practitioners]

    all_intervals = [i for intervals in hours.values() for i in intervals]
    tz = timezone.get_current_timezone()
    first = min((s for s, _ in all_intervals), default=dt.datetime.combine(day, dt.time(9), tz))
    last = max((e for _, e in all_intervals), default=dt.datetime.combine(day, dt.time(17), tz))
    for session in sessions:
        first = min(first, timezone.localtime(session.starts_at))
        last = max(last, timezone.localtime(session.ends_at))
    step = dt.timedelta(minutes=ROW_MINUTES)
    start = first.astimezone(dt.UTC).replace(
        minute=first.minute - first.minute % ROW_MINUTES, second=0, microsecond=0
    )
    times = []
    moment = start
    while moment < last:
        times.append(moment)
        moment += step

    by_column: dict = {key: [] for key in column_keys}
    for session in sessions:
        key = column_of(session)
        if key in by_column:
            by_column[key].append(session)
    rows = [Row(time=local, label=f"{local:%H:%M}") for local in map(timezone.localtime, times)]
    book_start_url = reverse("scheduling:book_start")
    column_labels = {key: str(column) for column, key in zip(columns, column_keys, strict=True)}
    # What a free cell's link needs of its row, worked out once per row rather than per cell.
    starts = [(quote(row.time.isoformat()), row.label) for row in rows]
    for column, key in zip(columns, column_keys, strict=True):
        covered_until = None
        queue = list(by_column[key])
        for row, moment, (start, label) in zip(rows, times, starts, strict=True):
            if queue and queue[0].starts_at < moment + step:
                session = queue.pop(0)
                length = (session.ends_at - moment).total_seconds() / 60
                span = max(1, math.ceil(length / ROW_MINUTES))
                row.cells.append(Cell("session", session=session, rowspan=span))
                covered_until = moment + step * span
                continue
            if covered_until and moment < covered_until:
                continue
            if open_at(column, moment) and moment >= now:
                row.cells.append(
                    Cell(
                        "free",
                        starts_at=moment,
                        column_key=key,
                        column_label=column_labels[key],
                        book_url=f"{book_start_url}?practitioner={key}&start={start}",
                        time_label=label,
                    )
                )
            else:
                row.cells.append(Cell("closed"))
    return columns, rows, sessions


def week_days(day: dt.date) -> list[dt.date]:
    monday = day - dt.timedelta(days=day.weekday())
    return [monday + dt.timedelta(days=n) for n in range(7)]


def week_sessions(days: list[dt.date]) -> list[Entry]:
    return entries(
        Session.objects.filter(
            starts_at__gte=local_midnight(days[0]),
            starts_at__lt=local_midnight(days[-1] + dt.timedelta(days=1)),
            status__in=SHOWN,
        ).order_by("starts_at")
    )


def day_grid_context(day: dt.date, *, by_room: bool = False, now: dt.datetime | None = None):
    """What scheduling/_day_grid.html shows for the day."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    columns, rows, sessions = day_grid(day, by_room=by_room, now=now)
    return {
        "day": day,
        "by_room": by_room,
        "columns": columns,
        "rows": rows,
        "sessions": sessions,
        "steps": [
            ("← Previous day", day - dt.timedelta(days=1)),
            ("Today", today),
            ("Next day →", day + dt.timedelta(days=1)),
        ],
    }
