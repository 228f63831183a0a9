"""What a patient may change from the portal: cancel a booked session in time, ask for a change.

Both re-check the clinic's notice period (settings.CANCELLATION_NOTICE_HOURS) on the server;
past it the patient is asked to call. Rescheduling itself stays with the front desk.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_log
from scheduling.models import Booking
from scheduling.services import session_cancel
from treatments.models import Session

from . import dates, queries

MAX_MESSAGE = 1000


def _check_changeable(session: Session) -> None:
    if refusal := queries.change_refusal(session):
        raise ValidationError(refusal)


def portal_session_cancel(*, session: Session, reason: str, by, request=None) -> Session:
    """The patient cancels their own booked session, with at least the notice period left."""
    if session.patient.user_id != by.pk:
        raise ValidationError("This is not your session.")
    _check_changeable(session)
    return session_cancel(
        session=session,
        cancelled_by=Booking.CancelledBy.PATIENT,
        reason=(reason or "").strip() or "Cancelled by the patient in the portal",
        by=by,
        request=request,
    )


def change_request_send(*, session: Session, message: str, by, request=None) -> None:
    """Emails the clinic the patient's wish for another time; the front desk moves the session."""
    message = (message or "").strip()
    if session.patient.user_id != by.pk:
        raise ValidationError("This is not your session.")
    if not message:
        raise ValidationError("Tell us which days or times would suit you better.")
    if len(message) > MAX_MESSAGE:
        raise ValidationError(f"Please keep your message under {MAX_MESSAGE} characters.")
    _check_changeable(session)
    patient = session.patient
    local = timezone.localtime(session.starts_at)
    body = "\n".join(
        [
            f"{patient.first_name} {patient.last_name} (patient {patient.pk}) asks to move a "
            "session:",
            "",
            f"{session.plan.modality.name}, session {session.number}: "
            f"{dates.day_name(local)} at {dates.clock(local)}",
            "",
            "Their message:",
            message,
            "",
            f"Reply to: {patient.email or patient.phone or 'no contact details on file'}",
        ]
    )
    email = EmailMessage(
        subject=f"Change request: session on {dates.day_name(local)}",
        body=body,
        to=[settings.CLINIC_EMAIL],
        reply_to=[patient.email] if patient.email else None,
    )
    with transaction.atomic():
        audit_log(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=session,
            request=request,
            detail="change requested in the portal",
        )
        email.send()  # joins the outbox in this transaction: sent once it commits
