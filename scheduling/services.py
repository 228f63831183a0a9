"""Writes: booking a session or a whole course, rescheduling, cancelling, check-in, no-show.

Every function validates inside `recorded()` (`transaction.atomic` whose audit records join the
chain as its last statements, so a booking in flight never holds up a look at a chart), raises
ValidationError with sentences a front-desk person understands, and writes its audit record in
the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_log, recorded
from core.tasks import task_send_on_commit
from treatments import screening
from treatments.models import Session, TreatmentPlan
from treatments.services import session_check_bookable, sessions_rescreen

from . import availability, notifications, queries
from .models import (
    Booking,
    ChangeRequest,
    Practitioner,
    Reservation,
    WaitlistEntry,
    WaitlistOffer,
    new_calendar_token,
)

BOOKABLE = (Session.Status.PLANNED, Session.Status.CANCELLED, Session.Status.NO_SHOW)
TAKEN = "That time was just taken by another booking. Please pick another slot."


@dataclass(frozen=True)
class CourseChoice:
    session: Session
    starts_at: dt.datetime
    practitioner_user_id: int


def _lock(session: Session) -> Session:
    """The session row, locked until the transaction ends (SQLite: the IMMEDIATE lock)."""
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("plan__modality", "depth_level", "patient")
        .get(pk=session.pk)
    )


def _hold(session: Session, slot: availability.Slot, buffer_minutes: int) -> None:
    """Writes the reservations; PostgreSQL's exclusion constraint rejects a lost race."""
    held_until = slot.ends_at + dt.timedelta(minutes=buffer_minutes)
    keys = [slot.practitioner.resource_key, availability.patient_key(session)]
    if slot.room:
        keys.append(slot.room.resource_key)
    if slot.device:
        keys.append(slot.device.resource_key)
    Reservation.objects.filter(session=session).delete()
    try:
        with transaction.atomic():
            Reservation.objects.bulk_create(
                [
                    Reservation(
                        session=session, resource=key, starts_at=slot.starts_at, ends_at=held_until
                    )
                    for key in keys
                ]
            )
    except IntegrityError as error:
        raise ValidationError(TAKEN) from error


def _place(
    session: Session, starts_at: dt.datetime, practitioner_user_id: int, by
) -> availability.Slot:
    """Checks the start against the booking rule (rules.check) and holds it."""
    if starts_at is None or timezone.is_naive(starts_at):
        raise ValidationError("Choose a date and time for the session.")
    # Read once for the rule and for the screening the booking keeps (a booking's biggest read).
    screening_data = screening.load(patient=session.patient)
    problems, slot = availability.check_slot(
        session=session,
        starts_at=starts_at,
        practitioner_user_id=practitioner_user_id,
        screening_data=screening_data,
    )
    if problems:
        raise ValidationError(problems)
    # Stored with the session: who screened for this booking, when, and what was found (the
    # rule above has already refused any absolute finding). What a clinician will decide at
    # check-in is told to the desk now, so the patient can be warned.
    screened = session_check_bookable(
        session=session, on=timezone.localtime(starts_at).date(), by=by, data=screening_data
    )
    session.booking_warnings = [
        f"A clinician decides at check-in: {finding.reason}"
        for finding in screened.findings.all()
        if finding.severity == "relative"
    ]
    _hold(session, slot, session.plan.modality.buffer_minutes)
    session.starts_at = slot.starts_at
    session.ends_at = slot.ends_at
    session.practitioner_id = slot.practitioner.user_id
    session.proposed_date = timezone.localtime(slot.starts_at).date()
    return slot


def session_book(
    *,
    session: Session,
    starts_at: dt.datetime,
    practitioner_user_id: int,
    by,
    request=None,
    notify: bool = True,
    channel: str = "",
) -> Session:
    """Books a planned (or cancelled, or no-show) session at a start the booking rule accepts.
    `channel`: where the booking was made when not at the desk ("online"), for the audit."""
    with recorded():
        session = _lock(session)
        # A proposed course's sessions are booked tentatively: the gate keeps them from being
        # recorded until a clinician confirms the course.
        if session.plan.status not in TreatmentPlan.BOOKABLE_STATUSES:
            raise ValidationError(
                f"This course is {session.plan.get_status_display().lower()}; "
                "its sessions cannot be booked."
            )
        if session.status not in BOOKABLE:
            raise ValidationError(
                f"Session {session.number} is already {session.get_status_display().lower()}; "
                "move it instead of booking it again."
            )
        slot = _place(session, starts_at, practitioner_user_id, by)
        session.status = Session.Status.BOOKED
        session.full_clean()
        session.save()
        _, first_booking = Booking.objects.update_or_create(
            session=session,
            defaults={
                "room": slot.room,
                "device": slot.device,
                "booked_by": by,
                "booked_at": timezone.now(),
                "checked_in_at": None,
                "cancelled_at": None,
                "cancelled_by": "",
                "cancel_reason": "",
                "cancelled_late": False,
                "reminder_sent_at": None,
                "confirmed_at": None,
                "confirmed_via": "",
            },
        )
        if not first_booking:  # booked again after a cancellation or a no-show
            _revise_calendar_event(session)
        _answer_open_requests(session, outcome=ChangeRequest.Outcome.MOVED, by=by)
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=session,
            request=request,
            detail=f"booked for {timezone.localtime(slot.starts_at):%Y-%m-%d %H:%M}"
            + _via(channel),
        )
        if notify:
            _send_confirmation_on_commit([session.pk])
    return session


def _via(channel: str) -> str:
    """The audit detail's note of where a booking or a move was made; the desk's has none."""
    return f" ({channel})" if channel else ""


def course_propose(
    *,
    plan: TreatmentPlan,
    first_day: dt.date,
    practitioner_user_id: int | None = None,
    mornings_only: bool = False,
    search_days: int = 21,
) -> list[tuple[Session, availability.Slot | None]]:
    """One proposed slot per not-yet-booked session, spaced by the plan's interval."""
    sessions = list(
        plan.sessions.filter(status__in=BOOKABLE)
        .select_related("plan__modality", "plan__body_area", "patient", "depth_level")
        .order_by("number")
    )
    interval = dt.timedelta(days=max(plan.interval_days, plan.modality.min_interval_days))
    proposals: list[tuple[Session, availability.Slot | None]] = []
    day = max(first_day, timezone.localdate())
    window = dt.timedelta(days=search_days)
    # The furthest any session's search can reach: each may find nothing in its window.
    horizon = day + (interval + window) * len(sessions)
    context = None
    for session in sessions:
        if context is None:
            context = availability.SearchContext.load(
                session,
                day,
                day + window,
                practitioner_user_id=practitioner_user_id,
                schedule_until=horizon,
                lazy_busy=True,
            )
        else:
            context = context.for_session(session, day, day + window)
        slot = context.earliest(mornings_only=mornings_only)
        proposals.append((session, slot))
        if slot:
            day = timezone.localtime(slot.starts_at).date() + interval
        else:
            day += interval
    return proposals


def course_book_first_free(
    *, plan: TreatmentPlan, first_day: dt.date, by, request=None
) -> tuple[list[Session], list[Session]]:
    """Books each unbooked session of the course at the first free time the engine proposes
    (as `course_propose`), in one transaction; answers (booked, those no time was found for)."""
    proposals = course_propose(plan=plan, first_day=first_day)
    choices = [
        CourseChoice(session, slot.starts_at, slot.practitioner.user_id)
        for session, slot in proposals
        if slot is not None
    ]
    unplaced = [session for session, slot in proposals if slot is None]
    if not choices:
        return [], unplaced
    return course_book(plan=plan, choices=choices, by=by, request=request), unplaced


def course_book(
    *, plan: TreatmentPlan, choices: list[CourseChoice], by, request=None
) -> list[Session]:
    """Books every chosen session of a course in one transaction, or none of them."""
    if not choices:
        raise ValidationError("Choose at least one session to book.")
    booked: list[Session] = []
    with recorded():
        for choice in sorted(choices, key=lambda c: c.starts_at or timezone.now()):
            if choice.session.plan_id != plan.pk:
                raise ValidationError("That session belongs to another course.")
            try:
                booked.append(
                    session_book(
                        session=choice.session,
                        starts_at=choice.starts_at,
                        practitioner_user_id=choice.practitioner_user_id,
                        by=by,
                        request=request,
                        notify=False,
                    )
                )
            except ValidationError as error:
                raise ValidationError(
                    [f"Session {choice.session.number}: {m}" for m in error.messages]
                    + ["Nothing was booked."]
                ) from error
        _send_confirmation_on_commit([s.pk for s in booked])
    return booked


def session_reschedule(
    *,
    session: Session,
    starts_at: dt.datetime,
    practitioner_user_id: int | None = None,
    by,
    request=None,
    channel: str = "",
) -> list[str]:
    """Moves a booked session after re-checking it (rules.check: a move that breaks the
    course's order or spacing is refused, not warned about); returns warnings for the desk,
    none so far. `channel` as for session_book."""
    with recorded():
        session = _lock(session)
        if session.status != Session.Status.BOOKED:
            raise ValidationError(
                f"Only a booked session can be moved; this one is "
                f"{session.get_status_display().lower()}."
            )
        before, before_practitioner = session.starts_at, session.practitioner_id
        slot = _place(session, starts_at, practitioner_user_id or session.practitioner_id, by)
        session.full_clean()
        session.save()
        Booking.objects.filter(session=session).update(
            room=slot.room,
            device=slot.device,
            reminder_sent_at=None,
            confirmed_at=None,
            confirmed_via="",
            calendar_sequence=F("calendar_sequence") + 1,
        )
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=session,
            request=request,
            detail=f"moved from {timezone.localtime(before):%Y-%m-%d %H:%M} to "
            f"{timezone.localtime(slot.starts_at):%Y-%m-%d %H:%M}" + _via(channel),
        )
        _answer_open_requests(session, outcome=ChangeRequest.Outcome.MOVED, by=by)
        # The new day may lift a screening flag, or raise one.
        sessions_rescreen(patient=session.patient, by=by)
        _send_confirmation_on_commit([session.pk], moved=True)
        _offer_freed_time_on_commit(session.pk, before, before_practitioner)
        return []


def late_cancel_from(session: Session) -> dt.datetime:
    """From this moment on, less notice is left than CANCELLATION_NOTICE_HOURS."""
    return session.starts_at - dt.timedelta(hours=settings.CANCELLATION_NOTICE_HOURS)


def is_late_cancel(session: Session, *, now: dt.datetime | None = None) -> bool:
    return (now or timezone.now()) > late_cancel_from(session)


def session_cancel(
    *, session: Session, cancelled_by: str, reason: str, by, request=None
) -> Session:
    reason = (reason or "").strip()
    if cancelled_by not in Booking.CancelledBy.values:
        raise ValidationError("Say who cancelled: the patient or the clinic.")
    if not reason:
        raise ValidationError("Give a reason for the cancellation.")
    with recorded():
        session = _lock(session)
        if session.status != Session.Status.BOOKED:
            raise ValidationError(
                f"Only a booked session can be cancelled; this one is "
                f"{session.get_status_display().lower()}."
            )
        now = timezone.now()
        late = is_late_cancel(session, now=now)
        session.status = Session.Status.CANCELLED
        session.save(update_fields=["status"])
        Reservation.objects.filter(session=session).update(active=False)
        Booking.objects.update_or_create(
            session=session,
            defaults={
                "cancelled_at": now,
                "cancelled_by": cancelled_by,
                "cancel_reason": reason[:300],
                "cancelled_late": late,
            },
        )
        _revise_calendar_event(session)
        _answer_open_requests(session, outcome=ChangeRequest.Outcome.CANCELLED, by=by)
        if cancelled_by == Booking.CancelledBy.PATIENT:
            _leave_waitlist(session, now)
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=session,
            request=request,
            detail=f"cancelled by {cancelled_by}{' (late)' if late else ''}",
        )
        _send_cancellation_on_commit(session.pk)
        _offer_freed_time_on_commit(session.pk, session.starts_at, session.practitioner_id)
    return session


FLAGGED_CANCEL_REASON = "A screening finding: the session cannot go ahead as booked."


def flagged_cancel(*, patient, session_ids: list[int], by, request=None) -> list[Session]:
    """Cancels, for the clinic and in one step, the chosen sessions that screening flags."""
    with recorded():
        chosen = list(
            Session.objects.flagged().filter(
                patient=patient, pk__in=session_ids, status=Session.Status.BOOKED
            )
        )
        if not chosen:
            raise ValidationError("Choose at least one flagged session to cancel.")
        for session in chosen:
            session_cancel(
                session=session,
                cancelled_by=Booking.CancelledBy.CLINIC,
                reason=FLAGGED_CANCEL_REASON,
                by=by,
                request=request,
            )
    return chosen


@dataclass(frozen=True)
class Arrival:
    """What the desk records when a booked patient comes, or does not."""

    status: str
    words: str  # "checked in": "Only a booked session can be <words>"
    too_early: str  # why it cannot be recorded yet
    frees_resources: bool

    def is_too_early(self, session: Session, now: dt.datetime) -> bool:
        if self.status == Session.Status.CHECKED_IN:
            return timezone.localtime(session.starts_at).date() != timezone.localdate(now)
        return session.starts_at > now


ARRIVALS = {
    Session.Status.CHECKED_IN: Arrival(
        Session.Status.CHECKED_IN,
        "checked in",
        "A patient can only be checked in on the day of the session.",
        frees_resources=False,
    ),
    Session.Status.NO_SHOW: Arrival(
        Session.Status.NO_SHOW,
        "marked as a no-show",
        "The session has not started yet; it cannot be a no-show.",
        frees_resources=True,
    ),
}


def session_arrival(*, session: Session, status: str, by, request=None) -> Session:
    """Checks a booked patient in (on the day) or marks a no-show (once the session started).

    Returns the session as a row of the check-in list (queries.check_in_rows), read in the
    same transaction as the change.
    """
    arrival = ARRIVALS.get(status)
    if arrival is None:
        raise ValidationError("A patient is either checked in or a no-show.")
    with recorded():
        session = _lock(session)
        if session.status != Session.Status.BOOKED:
            raise ValidationError(
                f"Only a booked session can be {arrival.words}; this one is "
                f"{session.get_status_display().lower()}."
            )
        now = timezone.now()
        if arrival.is_too_early(session, now):
            raise ValidationError(arrival.too_early)
        session.status = arrival.status
        session.save(update_fields=["status"])
        if arrival.frees_resources:
            Reservation.objects.filter(session=session).update(active=False)
        else:
            Booking.objects.filter(session=session).update(checked_in_at=now)
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=session,
            request=request,
            detail=arrival.words.removeprefix("marked as a "),
        )
        return queries.check_in_rows().get(pk=session.pk)


MAX_REQUEST_MESSAGE = 1000


def change_request_create(
    *,
    session: Session,
    kind: str,
    message: str = "",
    preferred_times: list[str] | tuple[str, ...] = (),
    by,
    request=None,
) -> ChangeRequest:
    """Records a patient's wish to move a booked session (a change request) or that they
    cancelled it (a cancellation, for the desk to offer a new date), and emails the desk.
    Who may ask and until when is the caller's check (the portal's notice period)."""
    message = (message or "").strip()
    if kind not in ChangeRequest.Kind.values:
        raise ValidationError("Say whether the session should move or is cancelled.")
    unknown = set(preferred_times) - set(ChangeRequest.Preferred.values)
    if unknown:
        raise ValidationError("Choose preferred times from the list.")
    if len(message) > MAX_REQUEST_MESSAGE:
        raise ValidationError(f"Please keep your message under {MAX_REQUEST_MESSAGE} characters.")
    with recorded():
        session = _lock(session)
        if kind == ChangeRequest.Kind.CHANGE:
            if session.status != Session.Status.BOOKED:
                raise ValidationError(
                    f"This session is {session.get_status_display().lower()}; "
                    "only a booked session can be moved."
                )
            if not message and not preferred_times:
                raise ValidationError("Tell us which days or times would suit you better.")
        if ChangeRequest.objects.open().filter(session=session).exists():
            raise ValidationError(
                "You have already asked us about this session. We will be in touch; you can "
                "withdraw that request and send a new one."
            )
        change_request = ChangeRequest(
            session=session,
            patient=session.patient,
            kind=kind,
            message=message,
            preferred_times=[v for v in ChangeRequest.Preferred.values if v in preferred_times],
            session_starts_at=session.starts_at,
        )
        change_request.full_clean()
        change_request.save()
        audit_log(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=session,
            request=request,
            detail=(
                "change requested in the portal"
                if kind == ChangeRequest.Kind.CHANGE
                else "cancellation noted for the desk"
            ),
        )
        notifications.send_change_request_to_desk(change_request)
    return change_request


def _locked_open_request(change_request: ChangeRequest) -> ChangeRequest:
    locked = (
        ChangeRequest.objects.select_for_update(of=("self",))
        .select_related("session__plan__modality", "patient", "handled_by")
        .get(pk=change_request.pk)
    )
    if locked.state == ChangeRequest.State.WITHDRAWN:
        raise ValidationError("The patient has withdrawn this request.")
    if locked.state != ChangeRequest.State.NEW:
        who = locked.handled_by.get_full_name() if locked.handled_by else "someone"
        raise ValidationError(
            f"This request was already handled by {who}: {locked.get_outcome_display().lower()}."
        )
    return locked


def change_request_handle(
    *, change_request: ChangeRequest, note: str = "", by, request=None
) -> ChangeRequest:
    """The desk answers a request without moving or cancelling the session (those answer it
    themselves): a change request is declined, with a note saying why; a cancellation is
    marked handled. The patient is emailed the note."""
    note = (note or "").strip()
    if len(note) > MAX_REQUEST_MESSAGE:
        raise ValidationError(f"Please keep the note under {MAX_REQUEST_MESSAGE} characters.")
    with recorded():
        change_request = _locked_open_request(change_request)
        if change_request.kind == ChangeRequest.Kind.CHANGE:
            if not note:
                raise ValidationError(
                    "Write a note for the patient: why the session cannot move, or what you "
                    "offer instead."
                )
            outcome = ChangeRequest.Outcome.DECLINED
        else:
            outcome = ChangeRequest.Outcome.CANCELLED
        change_request.state = ChangeRequest.State.HANDLED
        change_request.outcome = outcome
        change_request.note = note
        change_request.handled_by = by
        change_request.handled_at = timezone.now()
        change_request.full_clean()
        change_request.save()
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=change_request.session,
            request=request,
            detail=f"{change_request.get_kind_display().lower()} handled: {outcome}",
        )
        notifications.send_change_request_answer(change_request)
    return change_request


def change_request_withdraw(*, change_request: ChangeRequest, by, request=None) -> ChangeRequest:
    """The patient takes back their open request (the desk's inbox shows it withdrawn)."""
    with recorded():
        change_request = _locked_open_request(change_request)
        if change_request.patient.user_id != by.pk:
            raise ValidationError("This is not your request.")
        change_request.state = ChangeRequest.State.WITHDRAWN
        change_request.save(update_fields=["state"])
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=change_request.session,
            request=request,
            detail=f"{change_request.get_kind_display().lower()} withdrawn in the portal",
        )
    return change_request


def _answer_open_requests(session: Session, *, outcome: str, by) -> None:
    """A session moved, booked again or cancelled answers its open request: handled by the
    member of staff who did it, or withdrawn when the patient did it themselves."""
    if session.patient.user_id is not None and session.patient.user_id == getattr(by, "pk", None):
        changes = {"state": ChangeRequest.State.WITHDRAWN}
    else:
        changes = {
            "state": ChangeRequest.State.HANDLED,
            "outcome": outcome,
            "handled_by": by,
            "handled_at": timezone.now(),
        }
    ChangeRequest.objects.open().filter(session=session).update(**changes)


GIVEN_AWAY = (
    "The time was given to another booking since the no-show; book the session again instead."
)


def _hold_again(session: Session) -> None:
    """Holds the no-show's released time again, unless another booking took it since (read
    here for any database; PostgreSQL's exclusion constraint also refuses a race)."""
    held = list(Reservation.objects.filter(session=session))
    taken = Reservation.objects.filter(active=True).exclude(session=session)
    for reservation in held:
        if taken.filter(
            resource=reservation.resource,
            starts_at__lt=reservation.ends_at,
            ends_at__gt=reservation.starts_at,
        ).exists():
            raise ValidationError(GIVEN_AWAY)
    try:
        with transaction.atomic():
            Reservation.objects.filter(session=session).update(active=True)
    except IntegrityError as error:
        raise ValidationError(GIVEN_AWAY) from error


UNDOABLE = {
    Session.Status.CHECKED_IN: "check-in",
    Session.Status.NO_SHOW: "no-show",
}


def session_arrival_undo(*, session: Session, by, request=None) -> Session:
    """Takes back a check-in or a no-show recorded by mistake, on the session's day only: the
    session is booked again, its time held again. Returns it as a row of the check-in list."""
    with recorded():
        session = _lock(session)
        what = UNDOABLE.get(session.status)
        if what is None:
            raise ValidationError(
                f"Only a check-in or a no-show can be undone; this session is "
                f"{session.get_status_display().lower()}."
            )
        if timezone.localtime(session.starts_at).date() != timezone.localdate():
            raise ValidationError(
                f"A {what} can only be undone on the day of the session; "
                "ask a clinic admin to correct an earlier day."
            )
        if session.status == Session.Status.NO_SHOW:
            _hold_again(session)
        session.status = Session.Status.BOOKED
        session.save(update_fields=["status"])
        Booking.objects.filter(session=session).update(checked_in_at=None)
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=session,
            request=request,
            detail=f"{what} undone",
        )
        return queries.check_in_rows().get(pk=session.pk)


def _send_confirmation_on_commit(session_ids: list[int], *, moved: bool = False) -> None:
    from .tasks import send_booking_confirmation

    task_send_on_commit(send_booking_confirmation, session_ids, moved=moved)


def _send_cancellation_on_commit(session_id: int) -> None:
    from .tasks import send_cancellation_notice

    task_send_on_commit(send_cancellation_notice, session_id)


def _leave_waitlist(session: Session, now: dt.datetime) -> None:
    """A patient who cancels a session no longer waits for an earlier time for it; the desk
    adds it again if they want the first free time instead."""
    waiting = WaitlistEntry.objects.filter(session=session, status=WaitlistEntry.Status.WAITING)
    WaitlistOffer.objects.filter(entry__in=waiting, status=WaitlistOffer.Status.SENT).update(
        status=WaitlistOffer.Status.WITHDRAWN, answered_at=now
    )
    waiting.update(status=WaitlistEntry.Status.WITHDRAWN, closed_at=now)


def _offer_freed_time_on_commit(
    session_id: int, starts_at: dt.datetime | None, practitioner_user_id: int | None
) -> None:
    """The waiting list hears of a time a session left, once the change commits (the outbox),
    and never inside the request: matching it runs the availability engine per waiting entry."""
    from .tasks import offer_freed_time

    if starts_at is None or practitioner_user_id is None or starts_at <= timezone.now():
        return
    task_send_on_commit(offer_freed_time, session_id, starts_at.isoformat(), practitioner_user_id)


def _revise_calendar_event(session: Session) -> None:
    Booking.objects.filter(session=session).update(calendar_sequence=F("calendar_sequence") + 1)


def calendar_token_renew(*, practitioner: Practitioner, by, request=None) -> Practitioner:
    """A new secret for the practitioner's calendar feed: the old link stops working at once
    (a phone lost, a link shared by mistake)."""
    with recorded():
        practitioner.calendar_token = new_calendar_token()
        practitioner.save(update_fields=["calendar_token"])
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=practitioner,
            request=request,
            detail="calendar feed link renewed",
        )
    return practitioner
