"""What a patient may change from the portal: cancel a booked session in time, ask for a change.

Both re-check the clinic's notice period (settings.CANCELLATION_NOTICE_HOURS) on the server;
past it the patient is asked to call. Rescheduling itself stays with the front desk: both leave
a scheduling.ChangeRequest in the desk's inbox (and an email to the desk).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from audit.services import audit_log, recorded
from scheduling import reminders
from scheduling import services as scheduling_services
from scheduling.models import Booking, ChangeRequest
from scheduling.services import MAX_REQUEST_MESSAGE, change_request_create, session_cancel
from treatments.models import Session

from . import queries

MAX_MESSAGE = MAX_REQUEST_MESSAGE


def _check_changeable(session: Session) -> None:
    if refusal := queries.change_refusal(session):
        raise ValidationError(refusal)


def portal_session_cancel(*, session: Session, reason: str, by, request=None) -> Session:
    """The patient cancels their own booked session, with at least the notice period left; the
    desk's inbox gets the cancellation, to offer a new date."""
    if session.patient.user_id != by.pk:
        raise ValidationError("This is not your session.")
    return _patient_cancel(
        session=session,
        reason=reason,
        by=by,
        request=request,
        where="Cancelled by the patient in the portal",
    )


def link_session_cancel(
    *, session: Session, version, reason: str, channel: str, request=None
) -> Session:
    """The patient cancels from a reminder's signed link (the link is their proof: they need
    not have an account or sign in), as in the portal: the notice period applies, the desk's
    inbox hears of it. Refused if the session changed since the link was sent."""
    with recorded():
        session = reminders.lock_unchanged(session, version)
        session = _patient_cancel(
            session=session,
            reason=reason,
            by=session.patient.user,
            request=request,
            where=f"Cancelled by the patient from the reminder ({channel})",
        )
        audit_log(
            actor=session.patient.user,
            action=AuditEvent.Action.CHANGE,
            obj=session,
            request=request,
            detail=f"cancelled by the patient ({channel})",
        )
    return session


def _patient_cancel(*, session: Session, reason: str, by, request, where: str) -> Session:
    _check_changeable(session)
    reason = (reason or "").strip()
    with recorded():
        session = session_cancel(
            session=session,
            cancelled_by=Booking.CancelledBy.PATIENT,
            reason=reason or where,
            by=by,
            request=request,
        )
        change_request_create(
            session=session,
            kind=ChangeRequest.Kind.CANCEL,
            message=reason,
            by=by,
            request=request,
        )
    return session


def change_request_send(
    *, session: Session, message: str, preferred_times=(), by, request=None
) -> ChangeRequest:
    """Records the patient's wish for another time for the desk (its inbox, the session's page
    and an email); the front desk moves the session."""
    message = (message or "").strip()
    if session.patient.user_id != by.pk:
        raise ValidationError("This is not your session.")
    if not message:
        raise ValidationError("Tell us which days or times would suit you better.")
    if len(message) > MAX_MESSAGE:
        raise ValidationError(f"Please keep your message under {MAX_MESSAGE} characters.")
    _check_changeable(session)
    return change_request_create(
        session=session,
        kind=ChangeRequest.Kind.CHANGE,
        message=message,
        preferred_times=list(preferred_times),
        by=by,
        request=request,
    )


def change_request_withdraw(*, session: Session, by, request=None) -> ChangeRequest:
    """The patient takes back the open request about their own session."""
    if session.patient.user_id != by.pk:
        raise ValidationError("This is not your session.")
    open_request = ChangeRequest.objects.open().filter(session=session).first()
    if open_request is None:
        raise ValidationError("There is no open request about this session to withdraw.")
    return scheduling_services.change_request_withdraw(
        change_request=open_request, by=by, request=request
    )
