"""The availability engine: free slots for a planned session, and the check of one chosen slot.

Plain functions, no HTTP. A search loads everything it needs up front (practitioners with
their hours and exceptions, rooms, the requirement, the range's reservations and the patient's
other sessions) and then works in memory, so its query count does not grow with the range.
Times are stepped in UTC and shown in local time, so DST days have exactly their real hours.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from treatments import screening
from treatments.models import Session

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
    tz = timezone.get_current_timezone()
    hours = [
        (wh.starts, wh.ends)
        for wh in practitioner.working_hours.all()
        if wh.weekday == day.weekday()
    ]
    for exception in practitioner.exceptions.all():
        if exception.first_day <= day <= exception.last_day:
            if exception.kind == AvailabilityException.Kind.OFF:
                return []
            hours = [(exception.starts, exception.ends)]
    return [
        (dt.datetime.combine(day, start, tzinfo=tz), dt.datetime.combine(day, end, tzinfo=tz))
        for start, end in hours
    ]


@dataclass
class SearchContext:
    """Everything a search over [first_day, last_day] needs, loaded once."""

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
    _busy_index: dict[str, tuple[list, list]] = field(default_factory=dict)
    _refusals_by_day: dict[dt.date, list[str]] = field(default_factory=dict)
    # Memoised per search (profiled in bench/: these ran for every candidate start).
    _intervals: dict[tuple[int, dt.date], list] = field(default_factory=dict)
    _range_windows: list[rules.Window] | None = None

    @classmethod
    def load(
        cls,
        session: Session,
        first_day: dt.date,
        last_day: dt.date,
        *,
        practitioner_user_id: int | None = None,
    ) -> SearchContext:
        modality = session.plan.modality
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
        practitioners_qs = Practitioner.objects.with_schedule(first_day, last_day).filter(
            modalities=modality
        )
        if practitioner_user_id:
            practitioners_qs = practitioners_qs.filter(user_id=practitioner_user_id)
        practitioners = list(practitioners_qs)
        range_start = rules.local_midnight(first_day)
        range_end = rules.local_midnight(last_day + dt.timedelta(days=1))
        keys = [p.resource_key for p in practitioners] + [r.resource_key for r in rooms]
        keys.append(patient_key(session))
        if device:
            keys.append(device.resource_key)
        busy: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        reservations = (
            Reservation.objects.filter(
                active=True,
                resource__in=keys,
                starts_at__lt=range_end + dt.timedelta(days=1),
                ends_at__gt=range_start - dt.timedelta(days=1),
            )
            .exclude(session_id=session.pk)
            .values_list("resource", "starts_at", "ends_at")
        )
        for resource, starts_at, ends_at in reservations:
            busy[resource].append((starts_at, ends_at))
        return cls(
            session=session,
            first_day=first_day,
            last_day=last_day,
            practitioners=practitioners,
            rooms=rooms,
            device=device,
            needs_room=needs_room,
            minutes=rules.session_minutes(session),
            buffer=dt.timedelta(minutes=modality.buffer_minutes),
            windows=rules.blocked_windows(session),
            busy=busy,
            screening_data=screening.load(patient=session.patient),
        )

    def screening_refusals(self, day: dt.date) -> list[str]:
        """Absolute screening findings for the session on `day`: evaluated in memory, per day.

        The minimum interval within the course is left to rules.blocked_windows, which words it
        in terms of the course's own sessions.
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
            self._intervals[key] = work_intervals(practitioner, day)
        return self._intervals[key]

    def windows_in_range(self) -> list[rules.Window]:
        """The blocked windows that can hold a start in the searched days (a day either side)."""
        if self._range_windows is None:
            low = rules.local_midnight(self.first_day) - dt.timedelta(days=1)
            high = rules.local_midnight(self.last_day + dt.timedelta(days=2))
            self._range_windows = [w for w in self.windows if w.starts < high and w.ends > low]
        return self._range_windows

    def _free(self, key: str, starts: dt.datetime, ends: dt.datetime) -> bool:
        """No busy interval of `key` overlaps [starts, ends): a bisect, not a scan."""
        if key not in self._busy_index:
            intervals = sorted(self.busy.get(key, ()))
            running_max_end, latest = [], None
            for _, end in intervals:
                latest = end if latest is None or end > latest else latest
                running_max_end.append(latest)
            self._busy_index[key] = ([start for start, _ in intervals], running_max_end)
        interval_starts, running_max_end = self._busy_index[key]
        # Intervals starting before `ends` are the first `count`; one of them overlaps exactly
        # when the latest end among them is after `starts`.
        count = bisect_left(interval_starts, ends)
        return count == 0 or running_max_end[count - 1] <= starts

    def problems_at(
        self, practitioner: Practitioner, starts_at: dt.datetime
    ) -> tuple[list[str], Room | None]:
        """Why this practitioner cannot take the session at this time (empty: they can)."""
        ends_at = starts_at + dt.timedelta(minutes=self.minutes)
        held_until = ends_at + self.buffer
        local = timezone.localtime(starts_at)
        problems: list[str] = []
        intervals = self.intervals(practitioner, local.date())
        if not any(start <= starts_at and ends_at <= end for start, end in intervals):
            problems.append(
                f"{practitioner} does not work at {local:%H:%M} on {rules.nice_date(local)}"
                f" (the session takes {self.minutes} minutes)."
            )
        if not self._free(practitioner.resource_key, starts_at, held_until):
            problems.append(f"{practitioner} already has a session at that time.")
        if not self._free(patient_key(self.session), starts_at, held_until):
            problems.append("The patient already has another session at that time.")
        if self.device and not self._free(self.device.resource_key, starts_at, held_until):
            problems.append(f"The {self.device.name} is in use in another room at that time.")
        room = None
        if self.needs_room:
            room = next(
                (r for r in self.rooms if self._free(r.resource_key, starts_at, held_until)), None
            )
            if room is None:
                problems.append("No treatment room is free at that time.")
        problems += [w.reason for w in self.windows_in_range() if w.contains(starts_at)]
        problems += self.screening_refusals(local.date())
        return problems, room

    def slots(
        self,
        *,
        mornings_only: bool = False,
        step_minutes: int = 15,
        now: dt.datetime | None = None,
        first_day_only: bool = False,
    ) -> list[Slot]:
        """Every free slot, sorted; with first_day_only, those of the first day that has any
        (so slots[0] is the same earliest slot, found without searching the later days)."""
        now = now or timezone.now()
        step = dt.timedelta(minutes=step_minutes)
        duration = dt.timedelta(minutes=self.minutes)
        found: list[Slot] = []
        day = self.first_day
        while day <= self.last_day:
            if first_day_only and found:
                break
            for practitioner in self.practitioners:
                for start, end in self.intervals(practitioner, day):
                    # Step in UTC: a local 02:00-03:00 that does not exist is never offered twice.
                    moment = start.astimezone(dt.UTC)
                    last_start = end.astimezone(dt.UTC) - duration
                    while moment <= last_start:
                        local = timezone.localtime(moment)
                        if mornings_only and local.time() >= NOON:
                            break
                        if moment >= now:
                            problems, room = self.problems_at(practitioner, moment)
                            if not problems:
                                found.append(
                                    Slot(moment, moment + duration, practitioner, room, self.device)
                                )
                        moment += step
            day += dt.timedelta(days=1)
        found.sort(key=lambda slot: (slot.starts_at, str(slot.practitioner)))
        return found


def find_slots(
    *,
    session: Session,
    first_day: dt.date,
    last_day: dt.date,
    practitioner_user_id: int | None = None,
    mornings_only: bool = False,
    step_minutes: int = 15,
    now: dt.datetime | None = None,
    first_day_only: bool = False,
) -> list[Slot]:
    """Free start times for a planned session between two local dates (inclusive).

    first_day_only: only the first day with a free slot is searched (slots[0] is unchanged).
    """
    context = SearchContext.load(
        session, first_day, last_day, practitioner_user_id=practitioner_user_id
    )
    return context.slots(
        mornings_only=mornings_only,
        step_minutes=step_minutes,
        now=now,
        first_day_only=first_day_only,
    )


def check_slot(
    *, session: Session, starts_at: dt.datetime, practitioner_user_id: int
) -> tuple[list[str], Slot | None]:
    """The problems with one chosen start time and practitioner; a Slot when there are none."""
    day = timezone.localtime(starts_at).date()
    context = SearchContext.load(session, day, day, practitioner_user_id=practitioner_user_id)
    if not context.practitioners:
        return ["That practitioner is not qualified for this treatment or not working here."], None
    practitioner = context.practitioners[0]
    problems, room = context.problems_at(practitioner, starts_at)
    if problems:
        return problems, None
    ends_at = starts_at + dt.timedelta(minutes=context.minutes)
    return [], Slot(starts_at, ends_at, practitioner, room, context.device)
