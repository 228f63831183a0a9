"""Online booking: a patient books the next session of a course, moves a booked one, or books a
first consultation, into the free times the availability engine offers, inside the clinic's
window (settings.ONLINE_BOOKING_DAYS_AHEAD, ONLINE_BOOKING_MIN_NOTICE_HOURS).

Plain functions, no HTTP. There is one search, the desk's (scheduling.availability
SearchContext: screening, spacing, resources, working hours and exceptions), run with the
window's earliest moment as its "now". The writes are the desk's services (session_book,
session_reschedule, consultation_create) with the patient as `by` and the channel "online", so
the rules, the locking, the audit and the emails stay in one place. What this module adds is
what a patient may choose: their own sessions, and only times the engine offers right now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scheduling import services as scheduling_services
from scheduling.availability import ScreeningBlock, SearchContext, Slot, screening_blocks
from scheduling.rules import nice_date
from treatments import services as treatment_services
from treatments.models import BodyArea, Session, TreatmentPlan

from . import dates, queries

ONLINE = "online"
# Days of free times on one page: a week reads well on a phone and is one search's worth.
PAGE_DAYS = 7
BOOKED_OR_LATER = (
    "This session cannot be booked online: it is booked already, or an earlier session of your "
    "course comes first. For help, call us on {phone}."
)
TAKEN = "Sorry, that time was just taken. Please choose another of the free times below."


class TimeNotFree(ValidationError):
    """The chosen time is not among those the engine offers now: taken meanwhile, or never
    offered (a forged or stale form)."""


@dataclass(frozen=True)
class Window:
    """When a patient may book online: from `earliest` (now plus the notice) to the end of
    `last_day` (today plus the days ahead)."""

    earliest: dt.datetime
    last_day: dt.date

    @property
    def first_day(self) -> dt.date:
        return timezone.localdate(self.earliest)

    def holds(self, starts_at: dt.datetime) -> bool:
        return self.earliest <= starts_at and timezone.localdate(starts_at) <= self.last_day

    def refusal(self) -> str:
        return (
            f"Online you can book times from {nice_date(self.earliest)} at "
            f"{dates.clock(self.earliest)} to {nice_date(self.last_day)}. For another time, "
            f"please call us on {settings.CLINIC_PHONE}."
        )


def window(now: dt.datetime | None = None) -> Window:
    now = now or timezone.now()
    return Window(
        earliest=now + dt.timedelta(hours=settings.ONLINE_BOOKING_MIN_NOTICE_HOURS),
        last_day=timezone.localdate(now) + dt.timedelta(days=settings.ONLINE_BOOKING_DAYS_AHEAD),
    )


def sessions_to_book(patient) -> list[Session]:
    """The next session to book of each of the patient's open courses: its lowest-numbered
    session not booked (one query). Later ones wait for it, as the course's order does."""
    rows = (
        Session.objects.for_patient(patient)
        .filter(
            plan__status__in=TreatmentPlan.BOOKABLE_STATUSES,
            status__in=scheduling_services.BOOKABLE,
        )
        .select_related("plan__modality", "plan__body_area", "depth_level", "patient")
        .order_by("plan_id", "number")
    )
    first: dict[int, Session] = {}
    for session in rows:
        first.setdefault(session.plan_id, session)
    return list(first.values())


def upcoming(patient) -> list[Session]:
    """The patient's booked sessions still ahead, soonest first (one query)."""
    return list(
        Session.objects.for_patient(patient)
        .filter(status=Session.Status.BOOKED, starts_at__gt=timezone.now())
        .select_related("plan__modality", "booking")
        .order_by("starts_at")
    )


def may_book_consultation(to_book: list[Session], ahead: list[Session]) -> bool:
    """A patient with nothing to book and nothing booked books a consultation; one with a
    course books its sessions instead."""
    return not to_book and not ahead


def check_consultation_allowed(patient) -> None:
    if not may_book_consultation(sessions_to_book(patient), upcoming(patient)):
        raise ValidationError(
            "You already have sessions with us: book or move those instead, or call us on "
            f"{settings.CLINIC_PHONE}."
        )


def consultation_session(patient) -> Session:
    """An unsaved first consultation for the patient, for the engine to search free times for
    (a consultation's length and resources; not screened). Saved only when booked."""
    plan = TreatmentPlan(
        patient=patient,
        modality=treatment_services.consultation_modality(),
        # The area is asked once a time is chosen: a consultation is not screened and keeps
        # no spacing, so its search reads no area (an unsaved one stands in).
        body_area=BodyArea(name="", slug=""),
        session_count=1,
        interval_days=0,
    )
    return Session(plan=plan, patient=patient, number=1)


@dataclass(frozen=True)
class FreeTime:
    starts_at: dt.datetime
    practitioner_user_id: int
    practitioner_name: str

    @property
    def clock(self) -> str:
        return dates.clock(self.starts_at)

    @property
    def query(self) -> str:
        """The choice as a query string: the local time with its offset, and who."""
        local = timezone.localtime(self.starts_at).isoformat(timespec="minutes")
        return f"start={local.replace('+', '%2B')}&practitioner={self.practitioner_user_id}"


@dataclass
class FreeDay:
    day: dt.date
    times: list[FreeTime] = field(default_factory=list)


@dataclass
class TimesPage:
    """One page of free times: the days searched, those with free times, and where the pages
    before and after it start (None: outside the window)."""

    first_day: dt.date
    last_day: dt.date
    days: list[FreeDay]
    earlier: dt.date | None
    later: dt.date | None
    blocks: list[ScreeningBlock] = field(default_factory=list)


def free_times(
    session: Session,
    *,
    start_day: dt.date | None = None,
    within: Window | None = None,
    prefer_practitioner: int | None = None,
) -> TimesPage:
    """The free start times for `session` on PAGE_DAYS days from `start_day`, each time once:
    with `prefer_practitioner` when they are free then, else with the first practitioner the
    engine offers. Without a start day the page starts on the first day with a free time in
    the window (a course's spacing often leaves the first weeks empty). A start day outside
    the window is refused with the window's words."""
    within = within or window()
    if start_day is not None and not within.first_day <= start_day <= within.last_day:
        raise ValidationError(within.refusal())
    # One search over the window, reading reservations only as far as it goes.
    context = SearchContext.load(session, within.first_day, within.last_day, lazy_busy=True)
    first_day = start_day
    if first_day is None:
        first = context.earliest(now=within.earliest)
        first_day = timezone.localdate(first.starts_at) if first else within.first_day
    last_day = min(first_day + dt.timedelta(days=PAGE_DAYS - 1), within.last_day)
    slots = context.for_session(session, first_day, last_day).slots(now=within.earliest)
    days = _by_day(slots, prefer_practitioner)
    blocks = []
    if not days and session.pk and session.plan.modality.is_treatment:
        blocks = screening_blocks(session, first_day, last_day)
    earlier = None
    if first_day > within.first_day:
        earlier = max(first_day - dt.timedelta(days=PAGE_DAYS), within.first_day)
    later = last_day + dt.timedelta(days=1)
    return TimesPage(
        first_day=first_day,
        last_day=last_day,
        days=days,
        earlier=earlier,
        later=later if later <= within.last_day else None,
        blocks=blocks,
    )


def _by_day(slots: list[Slot], prefer: int | None) -> list[FreeDay]:
    chosen: dict[dt.datetime, Slot] = {}
    for slot in slots:
        if slot.starts_at not in chosen or slot.practitioner.user_id == prefer:
            chosen[slot.starts_at] = slot
    days: dict[dt.date, FreeDay] = {}
    for starts_at in sorted(chosen):
        slot = chosen[starts_at]
        day = timezone.localdate(starts_at)
        days.setdefault(day, FreeDay(day)).times.append(
            FreeTime(
                starts_at, slot.practitioner.user_id, practitioner_name(slot.practitioner.user)
            )
        )
    return list(days.values())


def practitioner_name(user) -> str:
    return user.get_full_name() or user.get_username()


def offered(
    session: Session, starts_at: dt.datetime, practitioner_user_id: int, within: Window
) -> Slot | None:
    """The engine's slot at exactly this start with this practitioner, if it offers one now
    (the same search as the list, over that one day); None otherwise."""
    if not within.holds(starts_at):
        return None
    day = timezone.localdate(starts_at)
    context = SearchContext.load(session, day, day, practitioner_user_id=practitioner_user_id)
    for slot in context.slots(now=within.earliest):
        if slot.starts_at == starts_at:
            return slot
    return None


def check_choice(
    session: Session, starts_at: dt.datetime, practitioner_user_id: int, within: Window
) -> Slot:
    """The chosen time as the engine's slot; ValidationError outside the window, TimeNotFree
    for a time it does not offer."""
    if not within.holds(starts_at):
        raise ValidationError(within.refusal())
    slot = offered(session, starts_at, practitioner_user_id, within)
    if slot is None:
        raise TimeNotFree(TAKEN)
    return slot


def _own(patient, session: Session, by) -> None:
    if session.patient_id != patient.pk or patient.user_id is None or patient.user_id != by.pk:
        raise ValidationError("This is not your session.")


def _write(
    write: Callable[[], Session],
    session: Session,
    starts_at: dt.datetime,
    practitioner_user_id: int,
    within: Window,
) -> Session:
    """Runs the desk's service. It locks the session and checks the booking rule again (and on
    PostgreSQL the reservations' exclusion constraint refuses a lost race), so a time taken
    between the check above and the write is refused there: told as taken when the engine no
    longer offers it."""
    try:
        return write()
    except ValidationError as error:
        if offered(session, starts_at, practitioner_user_id, within) is None:
            raise TimeNotFree(TAKEN) from error
        raise


def check_bookable(patient, session: Session) -> None:
    """Refuses a session the patient may not book online: only the next one of each of their
    open courses is bookable (one query)."""
    if session.pk not in {s.pk for s in sessions_to_book(patient)}:
        raise ValidationError(BOOKED_OR_LATER.format(phone=settings.CLINIC_PHONE))


def book(
    *,
    patient,
    session: Session,
    starts_at: dt.datetime,
    practitioner_user_id: int,
    by,
    request=None,
    within: Window | None = None,
) -> Session:
    """The patient books the next session of one of their courses at a time the engine
    offers."""
    within = within or window()
    _own(patient, session, by)
    check_bookable(patient, session)
    check_choice(session, starts_at, practitioner_user_id, within)
    return _write(
        lambda: scheduling_services.session_book(
            session=session,
            starts_at=starts_at,
            practitioner_user_id=practitioner_user_id,
            by=by,
            request=request,
            channel=ONLINE,
        ),
        session,
        starts_at,
        practitioner_user_id,
        within,
    )


def move(
    *,
    patient,
    session: Session,
    starts_at: dt.datetime,
    practitioner_user_id: int,
    by,
    request=None,
    within: Window | None = None,
) -> Session:
    """The patient moves a booked session to a time the engine offers, while more notice is
    left than the clinic's cancellation notice (past it they call, as for a cancellation).
    An open request about the session is withdrawn by the move (scheduling.services)."""
    within = within or window()
    _own(patient, session, by)
    if refusal := queries.change_refusal(session):
        raise ValidationError(refusal)
    check_choice(session, starts_at, practitioner_user_id, within)

    def write() -> Session:
        scheduling_services.session_reschedule(
            session=session,
            starts_at=starts_at,
            practitioner_user_id=practitioner_user_id,
            by=by,
            request=request,
            channel=ONLINE,
        )
        session.refresh_from_db()
        return session

    return _write(write, session, starts_at, practitioner_user_id, within)


def book_consultation(
    *,
    patient,
    body_area: BodyArea,
    notes: str = "",
    starts_at: dt.datetime,
    practitioner_user_id: int,
    by,
    request=None,
    within: Window | None = None,
) -> Session:
    """A patient without a course books a first consultation about `body_area`: the
    consultation is created and booked together, or neither."""
    within = within or window()
    if patient.user_id is None or patient.user_id != by.pk:
        raise ValidationError("You can only book a consultation for yourself.")
    check_consultation_allowed(patient)
    searched = consultation_session(patient)
    check_choice(searched, starts_at, practitioner_user_id, within)

    def write() -> Session:
        with transaction.atomic():
            session = treatment_services.consultation_create(
                patient=patient,
                body_area=body_area,
                on=timezone.localdate(starts_at),
                notes=notes,
                by=by,
            )
            return scheduling_services.session_book(
                session=session,
                starts_at=starts_at,
                practitioner_user_id=practitioner_user_id,
                by=by,
                request=request,
                channel=ONLINE,
            )

    return _write(write, searched, starts_at, practitioner_user_id, within)
