"""The booking rule, in one place for the search, the pages and the API.

`check(facts, practitioner, starts_at, now=...)` is the rule: everything that stops a
practitioner taking a session at a start time (in the past, outside working time, refused by
screening that day, practitioner, patient, device or every room busy with its cleaning buffer,
out of order or too close in the course, too close to a session of the same modality on an
overlapping area, or too close to another modality). Booking, course booking, moving and the
availability search all ask it; the search's day-level shortcuts are tested against it.
`blocked_windows(session)` lists the periods in which a session may not start (course order and
spacing against the sessions before and after it, spacing across courses on overlapping areas,
cross-modality gaps).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from treatments.areas import AreaTree, area_tree
from treatments.models import Session

from .models import CrossModalityGap

if TYPE_CHECKING:
    from .availability import SearchContext
    from .models import Practitioner, Room

FAR_PAST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
FAR_FUTURE = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Window:
    starts: dt.datetime
    ends: dt.datetime
    # Worded only when shown: a search builds a window for each of the patient's sessions
    # and words almost none of them (formatting dates was a tenth of a course proposal).
    words: Callable[[], str]

    @property
    def reason(self) -> str:
        return self.words()

    def contains(self, moment: dt.datetime) -> bool:
        return self.starts <= moment < self.ends


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of a local calendar day, as an aware datetime (right across DST changes)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=timezone.get_current_timezone())


def nice_date(moment: dt.datetime | dt.date) -> str:
    if isinstance(moment, dt.datetime):
        moment = timezone.localtime(moment).date()
    return date_format(moment, "l j F Y")


def session_minutes(session: Session) -> int:
    """The level's length; without a level (a consultation), the modality's own, else 45."""
    level = session.depth_level
    if level is not None:
        return level.session_minutes
    return session.plan.modality.session_minutes or 45


def patient_sessions(patient_id: int) -> list[Session]:
    """The patient's booked, checked-in and completed sessions that have a time (a completed
    session recorded without a booking has the time it was completed), with their course's
    modality and area and the areas they treated (two queries)."""
    return list(
        Session.objects.active()
        .filter(
            Q(starts_at__isnull=False)
            | Q(status=Session.Status.COMPLETED, completed_at__isnull=False),
            patient_id=patient_id,
        )
        .select_related("plan__modality", "plan__body_area")
        .prefetch_related("areas")
        .order_by("starts_at", "completed_at")
    )


def gaps_for(modality) -> list[CrossModalityGap]:
    """The cross-modality gaps that involve this modality, either way round (one query)."""
    return list(
        CrossModalityGap.objects.filter(
            Q(after_id=modality.pk) | Q(then_id=modality.pk)
        ).select_related("after", "then")
    )


def blocked_windows(
    session: Session,
    others: list[Session] | None = None,
    gaps: list[CrossModalityGap] | None = None,
    areas: AreaTree | None = None,
) -> list[Window]:
    """When this session may not start, and why. Three queries, none when the patient's
    sessions (patient_sessions), the modality's gaps (gaps_for) and the areas (area_tree) are
    given.

    The modality's `min_interval_days` holds between this session and every other session of
    the same modality on an overlapping area (the face holds the eyes), before and after it:
    the course's own sessions also stay in order (session n after session n-1 and before
    session n+1).
    """
    modality = session.plan.modality
    minimum = modality.min_interval_days
    if others is None:
        others = patient_sessions(session.patient_id)
    others = [other for other in others if other.pk != session.pk]
    gaps = gaps_for(modality) if gaps is None else gaps
    near = (areas or area_tree()).overlapping(session.plan.body_area_id)
    windows: list[Window] = []
    for other in others:
        day = other.day
        if other.plan_id == session.plan_id:
            if other.number < session.number:
                ends = local_midnight(day + dt.timedelta(days=minimum)) if minimum else _at(other)
                windows.append(Window(FAR_PAST, ends, _too_soon(session, other, day)))
            elif other.number > session.number:
                starts = (
                    local_midnight(day - dt.timedelta(days=minimum - 1)) if minimum else _at(other)
                )
                windows.append(Window(starts, FAR_FUTURE, _too_late(session, other, day)))
        elif minimum and other.plan.modality_id == modality.pk and near & _treated(other):
            windows.append(
                Window(
                    local_midnight(day - dt.timedelta(days=minimum - 1)),
                    local_midnight(day + dt.timedelta(days=minimum)),
                    _too_close(session, other, day),
                )
            )
    for other in others:
        day = other.day
        for gap in gaps:
            if gap.after_id == other.plan.modality_id and gap.then_id == modality.pk:
                # "Within N days after" includes day N, as screening's look-back windows do.
                until = day + dt.timedelta(days=gap.days + 1)
                windows.append(
                    Window(local_midnight(day), local_midnight(until), _gap_after(gap, day))
                )
            if gap.after_id == modality.pk and gap.then_id == other.plan.modality_id:
                since = day - dt.timedelta(days=gap.days)
                windows.append(
                    Window(
                        local_midnight(since),
                        local_midnight(day + dt.timedelta(days=1)),
                        _gap_before(gap, day),
                    )
                )
    # Screening findings known in advance (a laser session elsewhere, isotretinoin until a date)
    # are evaluated per day by availability.SearchContext.screening_refusals.
    return windows


def _at(session: Session) -> dt.datetime:
    return session.starts_at or session.completed_at


def _treated(session: Session) -> set[int]:
    """The areas a session is for (its course's) and those it was recorded as treating."""
    return {session.plan.body_area_id} | {area.pk for area in session.areas.all()}


def _too_soon(session: Session, other: Session, day: dt.date) -> Callable[[], str]:
    days = session.plan.modality.min_interval_days
    return lambda: (
        f"Session {session.number} of this course can be booked from "
        f"{nice_date(day + dt.timedelta(days=days))}: at least {days} days after "
        f"session {other.number} on {nice_date(day)}."
    )


def _too_late(session: Session, other: Session, day: dt.date) -> Callable[[], str]:
    days = session.plan.modality.min_interval_days
    if not days:
        return lambda: (
            f"Session {session.number} of this course comes before session {other.number} "
            f"on {nice_date(day)}: it cannot be booked after it."
        )
    return lambda: (
        f"Session {session.number} of this course can be booked until "
        f"{nice_date(day - dt.timedelta(days=days))}: at least {days} days before "
        f"session {other.number} on {nice_date(day)}."
    )


def _too_close(session: Session, other: Session, day: dt.date) -> Callable[[], str]:
    days = session.plan.modality.min_interval_days
    name = session.plan.modality.name.lower()
    return lambda: (
        f"Session {other.number} of another {name} course ({other.plan.body_area}) is on "
        f"{nice_date(day)}: {name} on the same or an overlapping area needs at least {days} "
        f"days between sessions, so not from {nice_date(day - dt.timedelta(days=days - 1))} "
        f"to {nice_date(day + dt.timedelta(days=days - 1))}."
    )


def _gap_after(gap: CrossModalityGap, day: dt.date) -> Callable[[], str]:
    return lambda: (
        f"No {gap.then.name.lower()} within {gap.days} days after the "
        f"{gap.after.name.lower()} session on {nice_date(day)}: "
        f"possible from {nice_date(day + dt.timedelta(days=gap.days + 1))}."
    )


def _gap_before(gap: CrossModalityGap, day: dt.date) -> Callable[[], str]:
    return lambda: (
        f"A {gap.then.name.lower()} session is booked on {nice_date(day)}; "
        f"{gap.after.name.lower()} must be at least {gap.days} days before it."
    )


PAST = "That time is in the past. Please pick a time from now on."


@dataclass(frozen=True)
class Problem:
    """One reason a start is refused, and the time before which no later start of the same
    practitioner can escape it (the search jumps there)."""

    until: dt.datetime
    words: str | Callable[[], str]

    @property
    def reason(self) -> str:
        return self.words if isinstance(self.words, str) else self.words()


@dataclass(frozen=True)
class Verdict:
    problems: list[Problem]
    room: Room | None = None

    @property
    def reasons(self) -> list[str]:
        return [problem.reason for problem in self.problems]


def check(
    facts: SearchContext,
    practitioner: Practitioner,
    starts_at: dt.datetime,
    *,
    now: dt.datetime,
    first_only: bool = False,
) -> Verdict:
    """The booking rule: may `practitioner` take `facts.session` at `starts_at`?

    No problems: yes, in `room`. `facts` holds what the rule reads, loaded once (a
    SearchContext covering the day). `first_only` stops at the first problem (the search's
    question); the checks and their order are the same either way.
    """
    problems: list[Problem] = []

    def refuse(until: dt.datetime, words: str | Callable[[], str]) -> bool:
        problems.append(Problem(until, words))
        return first_only

    ends_at = starts_at + dt.timedelta(minutes=facts.minutes)
    held_until = ends_at + facts.buffer
    local = starts_at.astimezone(facts.tz)
    day = local.date()
    facts.cover(day)
    next_day = local_midnight(day + dt.timedelta(days=1))
    if starts_at < now and refuse(now, PAST):
        return Verdict(problems)
    intervals = facts.intervals(practitioner, day)
    if not any(start <= starts_at and ends_at <= end for start, end in intervals):
        later = [
            start
            for start, end in intervals
            if start > starts_at and end - start >= ends_at - starts_at
        ]
        if refuse(
            min(later, default=next_day),
            lambda: (
                f"{practitioner} does not work at {local:%H:%M} on {nice_date(local)}"
                f" (the session takes {facts.minutes} minutes)."
            ),
        ):
            return Verdict(problems)
    for reason in facts.screening_refusals(day):
        if refuse(next_day, reason):
            return Verdict(problems)
    for key, words in facts.people_and_device(practitioner):
        until = facts.blocked_until(key, starts_at, held_until)
        if until is not None and refuse(until, words):
            return Verdict(problems)
    room = None
    if facts.needs_room:
        room, until = facts.free_room(starts_at, held_until)
        if room is None and refuse(until, "No treatment room is free at that time."):
            return Verdict(problems)
    for window in facts.windows_in_range():
        if window.contains(starts_at) and refuse(window.ends, window.words):
            return Verdict(problems)
    return Verdict(problems, None if problems else room)
