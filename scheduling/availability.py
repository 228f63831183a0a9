"""The availability engine: free slots for a planned session, and the check of one chosen slot.

Plain functions, no HTTP. A search loads everything it needs up front (practitioners with
their hours and exceptions, rooms, the requirement, the range's reservations and the patient's
other sessions) and then works in memory, so its query count does not grow with the range.
Times are stepped in UTC and shown in local time, so DST days have exactly their real hours.
"""

from __future__ import annotations

import datetime as dt
import heapq
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.db.models import DurationField, ExpressionWrapper, F, Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from treatments import lifts, screening
from treatments.models import DepthLevel, Session, TreatmentPlan

from . import rules
from .models import (
    AvailabilityException,
    Device,
    ModalityRequirement,
    Practitioner,
    Reservation,
    Room,
)

NOON = dt.time(12, 0)


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime
    ends_at: dt.datetime
    practitioner: Practitioner
    room: Room | None
    device: Device | None

    @property
    def local_start(self) -> dt.datetime:
        return timezone.localtime(self.starts_at)


def patient_key(session: Session) -> str:
    return f"patient:{session.patient_id}"


def work_intervals(
    practitioner: Practitioner, day: dt.date
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The practitioner's working time on a local day as aware (start, end) pairs.

    Uses the prefetched `working_hours` and `exceptions`; an exception replaces the week's hours.
    """
    return working_time(practitioner.working_hours.all(), practitioner.exceptions.all(), day)


def working_time(
    weekly_hours, exceptions, day: dt.date, tz: dt.tzinfo | None = None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """work_intervals from the practitioner's weekly hours and exceptions, already in hand."""
    tz = tz or timezone.get_current_timezone()
    hours = [(wh.starts, wh.ends) for wh in weekly_hours if wh.weekday == day.weekday()]
    for exception in exceptions:
        if exception.first_day <= day <= exception.last_day:
            if exception.kind == AvailabilityException.Kind.OFF:
                return []
            hours = [(exception.starts, exception.ends)]
    # Overlapping blocks (refused by the admin, but possible in older data) count once.
    merged: list[list] = []
    for start, end in sorted(hours):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [
        (dt.datetime.combine(day, start, tzinfo=tz), dt.datetime.combine(day, end, tzinfo=tz))
        for start, end in merged
    ]


# A course search reads reservations two weeks at a time, as far as its searches go.
BUSY_CHUNK_DAYS = 14
# A course search asks for rooms' busy minutes four weeks at a time.
ROOM_LOAD_DAYS = 28
# Longer than any session with its cleaning buffer (sessions last hours), so a search reads
# only the reservations starting within this of the days it looks at.
LONGEST_RESERVATION = dt.timedelta(days=1)


@dataclass
class SearchContext:
    """Everything a search over [first_day, last_day] needs, loaded once.

    `for_session` hands the same data to the next session of the same course, so proposing a
    whole course costs one load, not one per session.
    """

    session: Session
    first_day: dt.date
    last_day: dt.date
    practitioners: list[Practitioner]
    rooms: list[Room]
    device: Device | None
    needs_room: bool
    minutes: int
    buffer: dt.timedelta
    windows: list[rules.Window]
    busy: dict[str, list[tuple[dt.datetime, dt.datetime]]] = field(default_factory=dict)
    screening_data: screening.ScreeningData | None = None
    # What for_session needs to work out another session's windows without a query.
    patient_sessions: list[Session] = field(default_factory=list)
    gaps: list = field(default_factory=list)
    # The local days whose reservations `busy` holds (a lazy search loads more as it goes).
    covered: set[dt.date] = field(default_factory=set)
    lazy_busy: bool = False
    # The reservation start times read so far, as sorted disjoint [from, to) stretches.
    _read_starts: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    _busy_index: dict[str, tuple[list, list]] = field(default_factory=dict)
    _refusals_by_day: dict[dt.date, list[str]] = field(default_factory=dict)
    # Memoised per search (profiled in bench/: these ran for every candidate start).
    _intervals: dict[tuple[int, dt.date], list] = field(default_factory=dict)
    _schedules: dict[int, tuple[list, list]] = field(default_factory=dict)
    _roomless: dict[tuple, bool] = field(default_factory=dict)
    # Days whose rooms were found full from their busy minutes, per session length.
    _room_load_read: set[tuple] = field(default_factory=set)
    _full_days: set[tuple] = field(default_factory=set)
    _room_load_useless: bool = False
    _range_windows: list[rules.Window] | None = None
    # Looked up once: the current time zone is a context-local read, thousands per search.
    tz: dt.tzinfo = field(default_factory=timezone.get_current_timezone)

    @classmethod
    def load(
        cls,
        session: Session,
        first_day: dt.date,
        last_day: dt.date,
        *,
        practitioner_user_id: int | None = None,
        schedule_until: dt.date | None = None,
        lazy_busy: bool = False,
        screening_data: screening.ScreeningData | None = None,
    ) -> SearchContext:
        """schedule_until: load working-hour exceptions that far (a course's later sessions);
        lazy_busy: read reservations a week at a time as the search reaches them, rather than
        the whole range up front (a search that stops at the first free day reads little);
        screening_data: the patient's, when the caller has read it already."""
        modality = session.plan.modality
        needs_room, rooms, device, practitioners = _resources(
            modality, first_day, max(last_day, schedule_until or last_day), practitioner_user_id
        )
        minutes = rules.session_minutes(session)
        patient_sessions = rules.patient_sessions(session.patient_id)
        gaps = rules.gaps_for(modality)
        if screening_data is None:
            screening_data = screening.load(patient=session.patient)
        context = cls(
            session=session,
            first_day=first_day,
            last_day=last_day,
            practitioners=practitioners,
            rooms=rooms,
            device=device,
            needs_room=needs_room,
            minutes=minutes,
            buffer=dt.timedelta(minutes=modality.buffer_minutes),
            windows=rules.blocked_windows(session, patient_sessions, gaps, screening_data.areas),
            busy=defaultdict(list),
            screening_data=screening_data,
            patient_sessions=patient_sessions,
            gaps=gaps,
            lazy_busy=lazy_busy,
        )
        if not lazy_busy:
            context.read_busy(first_day, last_day)
        return context

    @classmethod
    def load_free_time(
        cls,
        level: DepthLevel,
        first_day: dt.date,
        last_day: dt.date,
        *,
        practitioner_user_id: int | None = None,
        practitioners: list[Practitioner] | None = None,
    ) -> SearchContext:
        """The search for a new patient's first session at `level`: what the clinic's
        resources (practitioners, their hours and exceptions, rooms, the device, the buffer)
        leave free, before any one patient's history, spacing or screening narrows it.

        The calendars show this as free time, so what they offer is what the booking rule
        (rules.check) accepts for such a session. `practitioners`: the active ones with their
        schedules for the range (Practitioner.objects.with_schedule) and their `modalities`
        prefetched, when the caller has read them already.
        """
        modality = level.modality
        plan = TreatmentPlan(modality=modality, body_area_id=None)
        session = Session(plan=plan, depth_level=level, number=1)
        needs_room, rooms, device, qualified = _resources(
            modality,
            first_day,
            last_day,
            practitioner_user_id,
            load_practitioners=practitioners is None,
        )
        if practitioners is not None:
            qualified = sorted(
                (
                    p
                    for p in practitioners
                    if modality in p.modalities.all()
                    and (not practitioner_user_id or p.user_id == practitioner_user_id)
                ),
                key=str,
            )
        context = cls(
            session=session,
            first_day=first_day,
            last_day=last_day,
            practitioners=qualified,
            rooms=rooms,
            device=device,
            needs_room=needs_room,
            minutes=rules.session_minutes(session),
            buffer=dt.timedelta(minutes=modality.buffer_minutes),
            windows=[],
            busy=defaultdict(list),
        )
        context.read_busy(first_day, last_day)
        return context

    def for_session(self, session: Session, first_day: dt.date, last_day: dt.date):
        """The same search for another session of this course over another range of days.

        Shares the loaded practitioners, rooms, reservations and screening data (the course's
        sessions are bookable, so none of them holds an active reservation to leave out); only
        the session's own duration, windows and screening verdicts are worked out again.
        """
        return replace(
            self,
            session=session,
            first_day=first_day,
            last_day=last_day,
            minutes=rules.session_minutes(session),
            windows=rules.blocked_windows(
                session,
                self.patient_sessions,
                self.gaps,
                self.screening_data.areas if self.screening_data else None,
            ),
            _refusals_by_day={},
            _range_windows=None,
        )

    def resource_keys(self) -> list[str]:
        keys = [p.resource_key for p in self.practitioners] + [r.resource_key for r in self.rooms]
        keys.append(patient_key(self.session))
        if self.device:
            keys.append(self.device.resource_key)
        return keys

    def read_busy(self, first_day: dt.date, last_day: dt.date) -> None:
        """Adds the reservations that can clash with a start on those days: one query for each
        stretch of start times not read before (one, for a search moving forward)."""
        # A start on these days, held at most LONGEST_RESERVATION, can only meet reservations
        # starting within LONGEST_RESERVATION of the days (and none is longer than that).
        wanted_from = rules.local_midnight(first_day) - LONGEST_RESERVATION
        wanted_to = rules.local_midnight(last_day + dt.timedelta(days=1)) + LONGEST_RESERVATION
        for read_from, read_to in _unread(self._read_starts, wanted_from, wanted_to):
            for resource, starts_at, ends_at in self._reservations(read_from, read_to):
                self.busy[resource].append((starts_at, ends_at))
            self._read_starts = _merged([*self._read_starts, (read_from, read_to)])
        day = first_day
        while day <= last_day:
            self.covered.add(day)
            day += dt.timedelta(days=1)
        self._busy_index.clear()

    def _reservations(self, read_from: dt.datetime, read_to: dt.datetime):
        """(resource, starts_at, ends_at) of the active reservations starting in [from, to),
        but the session's own."""
        return (
            Reservation.objects.filter(
                active=True,
                resource__in=self.resource_keys(),
                starts_at__gte=read_from,
                starts_at__lt=read_to,
            )
            .exclude(session_id=self.session.pk)
            .values_list("resource", "starts_at", "ends_at")
        )

    def cover(self, day: dt.date) -> None:
        """Makes sure `busy` holds what can clash with a start on `day`."""
        if day not in self.covered:
            self.read_busy(day, day + dt.timedelta(days=BUSY_CHUNK_DAYS - 1))

    def screening_refusals(self, day: dt.date) -> list[str]:
        """Absolute screening findings for the session on `day`: evaluated in memory, per day.

        The minimum interval is left to rules.blocked_windows, which words it in terms of the
        course's own sessions and the other courses on overlapping areas.
        """
        if self.screening_data is None:
            return []
        if day not in self._refusals_by_day:
            findings = screening.evaluate(
                self.screening_data,
                modality=self.session.plan.modality,
                depth_level=self.session.depth_level,
                on=day,
                body_area=self.session.plan.body_area,
                exclude_session_id=self.session.pk,
            )
            self._refusals_by_day[day] = [
                f"Refused by screening: {finding.reason}"
                for finding in findings
                if finding.is_absolute and finding.rule is not None
            ]
        return self._refusals_by_day[day]

    def intervals(self, practitioner: Practitioner, day: dt.date):
        """work_intervals(practitioner, day), computed once per search."""
        key = (practitioner.pk, day)
        if key not in self._intervals:
            if practitioner.pk not in self._schedules:
                self._schedules[practitioner.pk] = (
                    list(practitioner.working_hours.all()),
                    list(practitioner.exceptions.all()),
                )
            self._intervals[key] = working_time(*self._schedules[practitioner.pk], day, self.tz)
        return self._intervals[key]

    def windows_in_range(self) -> list[rules.Window]:
        """The blocked windows that can hold a start in the searched days (a day either side)."""
        if self._range_windows is None:
            low = rules.local_midnight(self.first_day) - dt.timedelta(days=1)
            high = rules.local_midnight(self.last_day + dt.timedelta(days=2))
            self._range_windows = [w for w in self.windows if w.starts < high and w.ends > low]
        return self._range_windows

    def _index(self, key: str) -> tuple[list, list, list]:
        """The busy intervals of `key` sorted by start, their starts, and the running latest
        end (built once per read of reservations)."""
        if key not in self._busy_index:
            intervals = sorted(self.busy.get(key, ()))
            running_max_end, latest = [], None
            for _, end in intervals:
                latest = end if latest is None or end > latest else latest
                running_max_end.append(latest)
            self._busy_index[key] = ([start for start, _ in intervals], running_max_end, intervals)
        return self._busy_index[key]

    def blocked_until(self, key: str, starts: dt.datetime, ends: dt.datetime):
        """None when no busy interval of `key` overlaps [starts, ends); else the time before
        which every later start is blocked too. A bisect, not a scan."""
        interval_starts, running_max_end, _ = self._index(key)
        # Intervals starting before `ends` are the first `count`; one of them overlaps exactly
        # when the latest end among them is after `starts`, and it keeps overlapping every
        # start until that end.
        count = bisect_left(interval_starts, ends)
        if count == 0 or running_max_end[count - 1] <= starts:
            return None
        return running_max_end[count - 1]

    def _has_gap(self, key: str, opens: dt.datetime, closes: dt.datetime, length) -> bool:
        """Whether `key` is free for `length` at a stretch somewhere in [opens, closes)."""
        interval_starts, _, intervals = self._index(key)
        cursor = opens
        for start, end in intervals[bisect_left(interval_starts, opens - LONGEST_RESERVATION) :]:
            if start >= closes:
                break
            if start - cursor >= length:
                return True
            cursor = max(cursor, end)
        return closes - cursor >= length

    def _no_room_all_day(self, day: dt.date, opens, closes, held: dt.timedelta) -> bool:
        """No room is free for a whole session anywhere in the day's working time: the day
        is skipped without trying its starts. Kept for the course's later sessions."""
        if not self.needs_room:
            return False
        key = (day, opens, closes, held)
        if key not in self._roomless:
            self._roomless[key] = not any(
                self._has_gap(room.resource_key, opens, closes, held) for room in self.rooms
            )
        return self._roomless[key]

    def people_and_device(self, practitioner: Practitioner) -> list[tuple[str, Callable]]:
        """The resources besides a room that a session holds, with what to say when one is
        busy (for rules.check)."""
        held = [
            (
                practitioner.resource_key,
                lambda: f"{practitioner} already has a session at that time.",
            ),
            (
                patient_key(self.session),
                lambda: "The patient already has another session at that time.",
            ),
        ]
        if self.device:
            device = self.device
            held.append(
                (
                    device.resource_key,
                    lambda: f"The {device.name} is in use in another room at that time.",
                )
            )
        return held

    def free_room(self, starts: dt.datetime, ends: dt.datetime) -> tuple[Room | None, dt.datetime]:
        """The first room free over [starts, ends); else (None, the time before which none is)."""
        first_free = None
        for room in self.rooms:
            until = self.blocked_until(room.resource_key, starts, ends)
            if until is None:
                return room, starts
            first_free = until if first_free is None else min(first_free, until)
        return None, first_free or starts + dt.timedelta(days=1)

    def _free_starts(self, day: dt.date, *, mornings_only: bool, step: dt.timedelta, now):
        """The free slots of `day` in order of time, then practitioner.

        Every practitioner's starts lie on a grid of `step` from the start of their working
        time (stepped in UTC, so a local 02:00-03:00 that does not exist is never offered
        twice); a clash jumps that practitioner's next try past the whole busy stretch, so a
        fully booked day costs one check per booking, not one per quarter hour.
        """
        duration = dt.timedelta(minutes=self.minutes)
        noon = dt.datetime.combine(day, NOON, tzinfo=self.tz)
        tries: list = []
        for rank, practitioner in enumerate(self.practitioners):
            for start, end in self.intervals(practitioner, day):
                grid = start.astimezone(dt.UTC)
                last_start = end.astimezone(dt.UTC) - duration
                if mornings_only:
                    last_start = min(last_start, noon - dt.timedelta(microseconds=1))
                moment = _on_grid(grid, max(grid, now), step)
                if moment <= last_start:
                    tries.append((moment, rank, len(tries), grid, last_start, practitioner))
        held = duration + self.buffer
        if tries and self._no_room_all_day(
            day, min(t[0] for t in tries), max(t[4] for t in tries) + held, held
        ):
            return
        heapq.heapify(tries)
        while tries:
            moment, rank, order, grid, last_start, practitioner = heapq.heappop(tries)
            verdict = rules.check(self, practitioner, moment, now=now, first_only=True)
            if not verdict.problems:
                yield Slot(moment, moment + duration, practitioner, verdict.room, self.device)
                following = moment + step
            else:
                blocked_until = verdict.problems[0].until
                following = _on_grid(grid, max(blocked_until, moment + step), step)
            if following <= last_start:
                heapq.heappush(tries, (following, rank, order, grid, last_start, practitioner))

    def _days(self):
        """The searched days that someone works, less those whose rooms are known to be full
        and those screening refuses outright, each with its reservations read."""
        day = self.first_day
        while day <= self.last_day:
            if (
                any(self.intervals(p, day) for p in self.practitioners)  # someone works
                # Rooms before screening: a full day costs a look-up, screening an evaluation.
                and not self._rooms_full(day)
                and not self.screening_refusals(day)
            ):
                self.cover(day)
                yield day
            day += dt.timedelta(days=1)

    def _rooms_full(self, day: dt.date) -> bool:
        """Whether no room has a session's length free in the day's working time, told from
        each room's busy minutes that day, before any reservation of the day is read.

        A course search at full size met two months booked solid; reading every reservation of
        those days to find them full was most of its time. A room's active reservations never
        overlap (the booking service refuses it, and PostgreSQL's exclusion constraint too), so
        its busy time is the plain sum of its reservations'.
        """
        if not (self.lazy_busy and self.needs_room and self.rooms) or day in self.covered:
            return False
        held = dt.timedelta(minutes=self.minutes) + self.buffer
        if (day, held) not in self._room_load_read:
            if self._room_load_useless:
                return False
            found = self._read_room_load(day, day + dt.timedelta(days=ROOM_LOAD_DAYS - 1), held)
            # Once a stretch has no full day, the next ones are read and tried directly: the
            # extra query would cost more than it saves.
            self._room_load_useless = not found
        return (day, held) in self._full_days

    def _read_room_load(self, first_day: dt.date, last_day: dt.date, held: dt.timedelta) -> int:
        """One query: each room's reservations per local day of their start, summed, with the
        first start and the last end. Returns how many full days it found.

        The part of a day's reservations outside its working time [opens, closes) is at most
        (opens - first start) + (last end - closes), so what is left of the sum is at least the
        busy time within working time: a day is only called full when it is (one reservation
        from the evening before counts on its own day: the day then looks freer, and is tried).
        """
        windows = []
        day = first_day
        while day <= last_day:
            self._room_load_read.add((day, held))
            hours = [i for p in self.practitioners for i in self.intervals(p, day)]
            if hours:
                windows.append((day, min(s for s, _ in hours), max(e for _, e in hours)))
            day += dt.timedelta(days=1)
        if not windows:
            return 0
        keys = [room.resource_key for room in self.rooms]
        rows = (
            Reservation.objects.filter(
                active=True,
                resource__in=keys,
                starts_at__gte=rules.local_midnight(first_day),
                starts_at__lt=rules.local_midnight(last_day + dt.timedelta(days=1)),
            )
            .exclude(session_id=self.session.pk)
            .annotate(day=TruncDate("starts_at", tzinfo=self.tz))
            .values("resource", "day")
            .annotate(
                busy=Sum(
                    ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField())
                ),
                first_start=Min("starts_at"),
                last_end=Max("ends_at"),
            )
        )
        load = {(row["resource"], row["day"]): row for row in rows}
        full = 0
        zero = dt.timedelta(0)
        for day, opens, closes in windows:
            free_at_most = []
            for key in keys:
                row = load.get((key, day))
                busy = zero
                if row:
                    outside = max(zero, opens - row["first_start"])
                    outside += max(zero, row["last_end"] - closes)
                    busy = max(zero, row["busy"] - outside)
                free_at_most.append(closes - opens - busy)
            if all(free < held for free in free_at_most):
                self._full_days.add((day, held))
                full += 1
        return full

    def slots(
        self,
        *,
        mornings_only: bool = False,
        step_minutes: int = 15,
        now: dt.datetime | None = None,
    ) -> list[Slot]:
        """Every free slot, by time, then practitioner."""
        now = now or timezone.now()
        step = dt.timedelta(minutes=step_minutes)
        return [
            slot
            for day in self._days()
            for slot in self._free_starts(day, mornings_only=mornings_only, step=step, now=now)
        ]

    def first_of_days(
        self, count: int, *, step_minutes: int = 15, now: dt.datetime | None = None
    ) -> list[Slot]:
        """The earliest slot of each of the first `count` days that have one."""
        now = now or timezone.now()
        step = dt.timedelta(minutes=step_minutes)
        found: list[Slot] = []
        for day in self._days():
            slot = next(self._free_starts(day, mornings_only=False, step=step, now=now), None)
            if slot is not None:
                found.append(slot)
                if len(found) == count:
                    break
        return found

    def earliest(
        self,
        *,
        mornings_only: bool = False,
        step_minutes: int = 15,
        now: dt.datetime | None = None,
    ) -> Slot | None:
        """slots()[0], or None: the search stops at the first free slot."""
        now = now or timezone.now()
        step = dt.timedelta(minutes=step_minutes)
        for day in self._days():
            for slot in self._free_starts(day, mornings_only=mornings_only, step=step, now=now):
                return slot
        return None


def first_free_days(
    session: Session,
    *,
    first_day: dt.date,
    days: int,
    count: int,
    screening_data: screening.ScreeningData | None = None,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """The first free time of each of the first `count` days from `first_day` (looking `days`
    days ahead) that have one for `session`: other times to offer a patient, on different days
    rather than three starts of one morning. Every rule of a booking applies (rules.check);
    `screening_data` is the patient's, with what they answered before the session, so a day
    their answers refuse is never offered."""
    context = SearchContext.load(
        session,
        first_day,
        first_day + dt.timedelta(days=days - 1),
        lazy_busy=True,
        screening_data=screening_data,
    )
    return context.first_of_days(count, now=now)


def _resources(
    modality,
    first_day: dt.date,
    last_day: dt.date,
    practitioner_user_id: int | None,
    *,
    load_practitioners: bool = True,
) -> tuple[bool, list[Room], Device | None, list[Practitioner]]:
    """What a session of `modality` needs: whether a room, which rooms, which device, and the
    qualified practitioners with their schedules for [first_day, last_day]."""
    requirement = (
        ModalityRequirement.objects.filter(modality=modality)
        .select_related("device")
        .prefetch_related("rooms")
        .first()
    )
    needs_room = requirement.needs_room if requirement else True
    rooms: list[Room] = []
    if needs_room:
        rooms = [room for room in requirement.rooms.all() if room.active] if requirement else []
        if not rooms:
            rooms = list(Room.objects.filter(active=True))
    device = requirement.device if requirement and requirement.device_id else None
    if not load_practitioners:
        return needs_room, rooms, device, []
    practitioners = Practitioner.objects.with_schedule(first_day, last_day).filter(
        modalities=modality
    )
    if practitioner_user_id:
        practitioners = practitioners.filter(user_id=practitioner_user_id)
    # By name once: slots of the same time are offered in this order.
    return needs_room, rooms, device, sorted(practitioners, key=str)


def _unread(read: list, wanted_from: dt.datetime, wanted_to: dt.datetime) -> list:
    """The parts of [wanted_from, wanted_to) outside the sorted, disjoint stretches `read`."""
    missing, cursor = [], wanted_from
    for read_from, read_to in read:
        if read_to <= cursor:
            continue
        if read_from >= wanted_to:
            break
        if read_from > cursor:
            missing.append((cursor, read_from))
        cursor = max(cursor, read_to)
        if cursor >= wanted_to:
            break
    if cursor < wanted_to:
        missing.append((cursor, wanted_to))
    return missing


def _merged(stretches: list) -> list:
    merged: list = []
    for start, end in sorted(stretches):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _on_grid(grid: dt.datetime, moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """The first point of the grid (grid + n * step) at or after `moment`."""
    if moment <= grid:
        return grid
    return grid + step * -(-(moment - grid) // step)


def find_slots(
    *,
    session: Session,
    first_day: dt.date,
    last_day: dt.date,
    practitioner_user_id: int | None = None,
    mornings_only: bool = False,
    step_minutes: int = 15,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """Free start times for a planned session between two local dates (inclusive)."""
    context = SearchContext.load(
        session, first_day, last_day, practitioner_user_id=practitioner_user_id
    )
    return context.slots(mornings_only=mornings_only, step_minutes=step_minutes, now=now)


def check_slot(
    *,
    session: Session,
    starts_at: dt.datetime,
    practitioner_user_id: int,
    now: dt.datetime | None = None,
    screening_data: screening.ScreeningData | None = None,
) -> tuple[list[str], Slot | None]:
    """The problems with one chosen start time and practitioner (rules.check, on the data of
    that day); a Slot when there are none. `screening_data`: the patient's, if already read."""
    day = timezone.localtime(starts_at).date()
    context = SearchContext.load(
        session,
        day,
        day,
        practitioner_user_id=practitioner_user_id,
        screening_data=screening_data,
    )
    if not context.practitioners:
        return ["That practitioner is not qualified for this treatment or not working here."], None
    practitioner = context.practitioners[0]
    verdict = rules.check(context, practitioner, starts_at, now=now or timezone.now())
    if verdict.problems:
        return verdict.reasons, None
    ends_at = starts_at + dt.timedelta(minutes=context.minutes)
    return [], Slot(starts_at, ends_at, practitioner, verdict.room, context.device)


@dataclass(frozen=True)
class ScreeningBlock:
    """An absolute finding that refuses days of a search, and the first day it no longer does
    (None: it has no end in the history)."""

    reason: str
    lifts_on: dt.date | None


def screening_blocks(
    session: Session, first_day: dt.date, last_day: dt.date
) -> list[ScreeningBlock]:
    """What a search that found nothing says about screening: each absolute finding that
    refuses a day of [first_day, last_day] for `session`, with the day it lifts. Evaluated as
    the search does (SearchContext.screening_refusals), on the patient's data loaded once."""
    data = screening.load(patient=session.patient)
    plan = session.plan
    where = {
        "modality": plan.modality,
        "depth_level": session.depth_level,
        "body_area": plan.body_area,
        "exclude_session_id": session.pk,
    }
    first_refused: dict[str, tuple[str, dt.date]] = {}
    day = first_day
    while day <= last_day:
        for finding in screening.evaluate(data, on=day, **where):
            if lifts.absolute(finding):
                first_refused.setdefault(finding.rule_name, (finding.reason, day))
        day += dt.timedelta(days=1)
    blocks = []
    for name, (reason, refused_on) in first_refused.items():

        def this_rule(finding, name=name):
            return lifts.absolute(finding) and finding.rule_name == name

        blocks.append(
            ScreeningBlock(
                reason, lifts.first_clear_day(data, start=refused_on, select=this_rule, **where)
            )
        )
    return blocks
