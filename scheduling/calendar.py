"""Read side of the desk's calendars: the day and the week as time grids, one column per
practitioner, room or device (per day of the week), sessions coloured by state, and free time.

Free time is what the availability engine would book (availability.SearchContext.load_free_time:
the treatment's length, the cleaning buffer, rooms, the device, working hours and exceptions),
never a guess from the grid: a free cell's link books exactly that start, and a start the
engine refuses is never shown as free.

A calendar costs a fixed number of queries, however many sessions it holds: the columns
(practitioners with their hours and exceptions, rooms or devices), the treatments to choose
from, the sessions with everything a cell shows, and the engine's one load.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from core.links import id_url
from core.params import lenient, parse_day, parse_id
from treatments.models import DepthLevel, Session

from .availability import SearchContext, work_intervals
from .models import Device, Practitioner, Room
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
    device_id: int | None = None
    local_start: str = ""  # "YYYY-MM-DDTHH:MM", as a move form takes it
    confirmed: bool = False  # the patient confirmed from the reminder

    @property
    def movable(self) -> bool:
        return self.status == Session.Status.BOOKED


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
        "booking__device_id",
        "booking__confirmed_at",
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
            device_id=device_id,
            local_start=f"{localtime(starts_at):%Y-%m-%dT%H:%M}",
            confirmed=confirmed_at is not None,
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
            device_id,
            confirmed_at,
        ) in rows
    ]


# What the columns are: the query string's `by`, and the words for it.
BY = {"practitioner": "Practitioners", "room": "Rooms", "device": "Devices"}


@dataclass(frozen=True)
class CalendarQuery:
    """What a calendar shows, read leniently from its query string: every link of a calendar
    (the other views, the previous and next day or week) keeps it, changing one thing."""

    day: dt.date
    span: str = "day"  # "day" or "week"
    by: str = "practitioner"
    practitioner: int | None = None  # a practitioner's user id: only their sessions and time
    treatment: int | None = None  # a DepthLevel id: free time is for a session at that level

    @classmethod
    def from_params(cls, params, *, span: str = "day") -> CalendarQuery:
        by = params.get("by")
        return cls(
            day=lenient(parse_day, params.get("date")) or timezone.localdate(),
            span=span,
            by=by if by in BY else "practitioner",
            practitioner=lenient(parse_id, params.get("practitioner")),
            treatment=lenient(parse_id, params.get("treatment")),
        )

    def url(self, **changes) -> str:
        query = replace(self, **changes)
        params: dict = {"date": query.day.isoformat()}
        if query.by != "practitioner":
            params["by"] = query.by
        if query.practitioner:
            params["practitioner"] = query.practitioner
        if query.treatment:
            params["treatment"] = query.treatment
        path = reverse("desk_home") if query.span == "day" else reverse("scheduling:week")
        return f"{path}?{urlencode(params)}"


@dataclass
class Column:
    day: dt.date
    key: int  # the practitioner's user id, the room's or the device's id
    label: str
    # When the column is open: the practitioner's working time, or anyone's for a room or device.
    hours: list[tuple[dt.datetime, dt.datetime]]
    # Who a session dropped here is moved to: the practitioner of the column, else its own.
    practitioner_id: int | None = None


@dataclass
class Cell:
    kind: str  # "session", "free", "open" (working, but no session fits), "closed"
    sessions: list[Entry] = field(default_factory=list)
    rowspan: int = 1
    column: Column | None = None
    start: str = ""  # local "YYYY-MM-DDTHH:MM" of the cell, where a dragged session lands
    # Worked out here once rather than by template tags in each of a week's hundreds of cells.
    book_url: str = ""
    book_label: str = ""


@dataclass
class Row:
    label: str  # local "HH:MM"
    cells: list[Cell] = field(default_factory=list)


def calendar_days(query: CalendarQuery) -> list[dt.date]:
    if query.span == "week":
        return week_days(query.day)
    return [query.day]


def week_days(day: dt.date) -> list[dt.date]:
    monday = day - dt.timedelta(days=day.weekday())
    return [monday + dt.timedelta(days=n) for n in range(7)]


def range_sessions(first_day: dt.date, last_day: dt.date, *, practitioner: int | None = None):
    """The sessions a calendar shows from first_day to last_day, with what a cell shows."""
    sessions = Session.objects.filter(
        starts_at__gte=local_midnight(first_day),
        starts_at__lt=local_midnight(last_day + dt.timedelta(days=1)),
        status__in=SHOWN,
    )
    if practitioner:
        sessions = sessions.filter(practitioner_id=practitioner)
    return sessions.order_by("starts_at", "pk")


def practitioners_for(first_day: dt.date, last_day: dt.date) -> list[Practitioner]:
    return list(
        Practitioner.objects.with_schedule(first_day, last_day).prefetch_related("modalities")
    )


def treatments() -> list[DepthLevel]:
    """What free time can be shown for: the levels (their lengths differ) of each modality
    that an active practitioner is qualified for."""
    return list(
        DepthLevel.objects.filter(modality__practitioners__active=True)
        .distinct()
        .select_related("modality")
        .order_by("modality__name", "rank")
    )


def free_slots(level: DepthLevel | None, days: list[dt.date], *, practitioner, practitioners, now):
    """The availability engine's free starts over the days for a first session at `level`."""
    if level is None:
        return []
    context = SearchContext.load_free_time(
        level, days[0], days[-1], practitioner_user_id=practitioner, practitioners=practitioners
    )
    return context.slots(step_minutes=ROW_MINUTES, now=now)


def _columns(query: CalendarQuery, days, practitioners) -> list[Column]:
    if query.practitioner:
        practitioners = [p for p in practitioners if p.user_id == query.practitioner]
    hours = {(p.pk, day): work_intervals(p, day) for p in practitioners for day in days}
    if query.by == "practitioner":
        return [
            Column(day, p.user_id, str(p), hours[p.pk, day], practitioner_id=p.user_id)
            for day in days
            for p in practitioners
        ]
    resources = list((Room if query.by == "room" else Device).objects.filter(active=True))
    anyone = {day: [i for p in practitioners for i in hours[p.pk, day]] for day in days}
    return [Column(day, r.pk, str(r), anyone[day]) for day in days for r in resources]


def _column_of(query: CalendarQuery, entry: Entry) -> int | None:
    if query.by == "room":
        return entry.room_id
    if query.by == "device":
        return entry.device_id
    return entry.practitioner_id


def _slot_column(query: CalendarQuery, slot) -> int | None:
    if query.by == "room":
        return slot.room.pk if slot.room else None
    if query.by == "device":
        return slot.device.pk if slot.device else None
    return slot.practitioner.user_id


def _minutes(moment: dt.datetime, tz) -> int:
    local = moment.astimezone(tz)
    return local.hour * 60 + local.minute


def _span(ends: dt.datetime, moment: dt.datetime, step: dt.timedelta, rows_left: int) -> int:
    return min(max(1, math.ceil((ends - moment) / step)), rows_left)


def build_grid(query: CalendarQuery, columns, sessions: list[Entry], slots, level, tz):
    """Rows of ROW_MINUTES from the first working or booked time of the days to the last."""
    spans = [i for column in columns for i in column.hours]
    spans += [(s.starts_at, s.ends_at) for s in sessions]
    first = min((_minutes(s, tz) for s, _ in spans), default=9 * 60)
    last = max((_minutes(e, tz) or 24 * 60 for _, e in spans), default=17 * 60)
    first -= first % ROW_MINUTES
    offsets = list(range(first, max(last, first + ROW_MINUTES), ROW_MINUTES))
    rows = [Row(label=f"{m // 60:02d}:{m % 60:02d}") for m in offsets]
    step = dt.timedelta(minutes=ROW_MINUTES)
    week = query.span == "week"

    free: dict[tuple, object] = {}
    # The time zone passed along, not looked up: a week has thousands of free starts.
    for slot in slots:
        local = slot.starts_at.astimezone(tz)
        offset = local.hour * 60 + local.minute
        key = (local.date(), _slot_column(query, slot), offset - offset % ROW_MINUTES)
        free.setdefault(key, slot)

    by_column: dict[tuple, list[Entry]] = {}
    for entry in sessions:
        day = entry.starts_at.astimezone(tz).date()
        by_column.setdefault((day, _column_of(query, entry)), []).append(entry)

    book_start = reverse("scheduling:book_start")
    treatment = f"&treatment={level.pk}" if level else ""
    moments = {
        day: [dt.datetime.combine(day, dt.time(m // 60, m % 60), tzinfo=tz) for m in offsets]
        for day in {column.day for column in columns}
    }
    for column in columns:
        queue = list(by_column.get((column.day, column.key), ()))
        times = moments[column.day]
        covered_until = -1
        for index, (row, moment, offset) in enumerate(zip(rows, times, offsets, strict=True)):
            if queue and queue[0].starts_at < moment + step:
                group = [queue.pop(0)]
                span = _span(group[0].ends_at, moment, step, len(rows) - index)
                # Sessions that start within the rows the cell covers (a no-show and the
                # booking that took its time) share its cell rather than breaking the table.
                while queue and queue[0].starts_at < moment + step * span:
                    group.append(queue.pop(0))
                    ends = max(entry.ends_at for entry in group)
                    span = _span(ends, moment, step, len(rows) - index)
                row.cells.append(Cell("session", sessions=group, rowspan=span, column=column))
                covered_until = index + span - 1
                continue
            if index <= covered_until:
                continue
            start = f"{moment:%Y-%m-%dT%H:%M}"
            slot = free.get((column.day, column.key, offset))
            if slot is not None:
                local = slot.starts_at.astimezone(tz)
                when = f"{local:%H:%M}" if not week else f"{local:%A %-d %B %H:%M}"
                where = (
                    f"with {column.label}"
                    if query.by == "practitioner"
                    else f"in {column.label} with {slot.practitioner}"
                )
                row.cells.append(
                    Cell(
                        "free",
                        column=column,
                        start=start,
                        book_url=f"{book_start}?practitioner={slot.practitioner.user_id}"
                        f"&start={quote(local.isoformat())}{treatment}",
                        book_label=f"Book {when} {where}",
                    )
                )
            elif any(s <= moment < e for s, e in column.hours):
                row.cells.append(Cell("open", column=column, start=start))
            else:
                row.cells.append(Cell("closed", column=column, start=start))
    return rows


def calendar_context(query: CalendarQuery, *, now: dt.datetime | None = None) -> dict:
    """What scheduling/_calendar.jinja draws for the query."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    days = calendar_days(query)
    practitioners = practitioners_for(days[0], days[-1])
    levels = treatments()
    level = next((lv for lv in levels if lv.pk == query.treatment), levels[0] if levels else None)
    sessions = entries(range_sessions(days[0], days[-1], practitioner=query.practitioner))
    if query.span == "week":
        # A week shows the days someone works or something is booked (not a closed Sunday).
        worked = {d for p in practitioners for d in days if work_intervals(p, d)}
        worked |= {timezone.localtime(s.starts_at).date() for s in sessions}
        days = [d for d in days if d in worked] or days
    columns = _columns(query, days, practitioners)
    slots = free_slots(
        level, days, practitioner=query.practitioner, practitioners=practitioners, now=now
    )
    rows = build_grid(query, columns, sessions, slots, level, tz)
    today = timezone.localdate(now)
    if query.span == "week":
        jump = dt.timedelta(days=7)
        steps = [("← Previous week", query.day - jump), ("This week", today)]
        steps.append(("Next week →", query.day + jump))
        title = f"Week of {date_format(days[0], 'j F Y')}"
    else:
        jump = dt.timedelta(days=1)
        steps = [("← Previous day", query.day - jump), ("Today", today)]
        steps.append(("Next day →", query.day + jump))
        title = date_format(query.day, "l j F Y")
    return {
        "cal": query,
        "title": title,
        "day": query.day,
        "by_room": query.by == "room",
        "columns": columns,
        "day_heads": [
            (day, sum(1 for c in columns if c.day == day), query.url(day=day, span="day"))
            for day in days
        ],
        "rows": rows,
        "sessions": sessions,
        "level": level,
        "levels": levels,
        "practitioners": practitioners,
        "steps": [(label, query.url(day=target)) for label, target in steps],
        "calendar_links": calendar_links(query),
        "by_links": [(label, query.url(by=by), by == query.by) for by, label in BY.items()],
        "refresh_url": query.url(),
    }


def calendar_links(query: CalendarQuery) -> list[tuple[str, str, bool]]:
    """The desk's calendar views, each for the day being viewed, with its filters."""
    day = query.span == "day"
    return [
        ("Day", query.url(span="day", by="practitioner"), day and query.by == "practitioner"),
        ("Rooms", query.url(span="day", by="room"), day and query.by == "room"),
        ("Devices", query.url(span="day", by="device"), day and query.by == "device"),
        ("Week", query.url(span="week"), not day),
    ]
