"""Background work: the booking and cancellation emails, and the reminders a beat schedule
sends.

Reminders are idempotent by an atomic claim on Booking.reminder_sent_at: whichever run sets it
first sends; a second run (or a second worker) finds it set and skips. The claim and the
reminder's messages (email and text, written to the outbox) commit in one transaction: if
writing them raises, the claim goes with them and the next run retries; once committed, the
outbox sends each message, retrying a mail server or SMS provider that is down.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from treatments.models import Modality, Session

from . import notifications
from .models import Booking, PreSessionCheckRequest

logger = logging.getLogger(__name__)


# The emails these compose join the outbox (the default mailer), which sends them and retries
# when the mail server is down; the tasks themselves touch no mail server.


@shared_task(ignore_result=True)
def send_booking_confirmation(session_ids: list[int], moved: bool = False) -> bool:
    sessions = list(
        Session.objects.filter(pk__in=session_ids, status=Session.Status.BOOKED)
        .select_related("patient", "plan__modality", "booking")
        .order_by("starts_at")
    )
    return notifications.send_booking_confirmation(sessions, moved=moved)


@shared_task(ignore_result=True)
def send_cancellation_notice(session_id: int) -> bool:
    session = (
        Session.objects.filter(pk=session_id, status=Session.Status.CANCELLED)
        .select_related("patient", "plan__modality", "booking")
        .first()
    )
    if session is None:  # booked again before the notice went out
        return False
    return notifications.send_cancellation_notice(session)


@shared_task(ignore_result=True)
def offer_freed_time(session_id: int, starts_at: str, practitioner_user_id: int) -> bool:
    """A cancellation or a move freed this time: offer it to the waiting list."""
    from . import waitlist

    opening = waitlist.opening_offer(
        starts_at=dt.datetime.fromisoformat(starts_at),
        practitioner_user_id=practitioner_user_id,
        freed_session_id=session_id,
    )
    return opening is not None


@shared_task(ignore_result=True)
def reoffer_lapsed_openings() -> int:
    """Beat: freed times whose offers expired go to the next patients on the waiting list."""
    from . import waitlist

    return waitlist.openings_reoffer()


def claim_reminder(booking_id: int) -> bool:
    """True for exactly one caller per booking."""
    return (
        Booking.objects.filter(pk=booking_id, reminder_sent_at__isnull=True).update(
            reminder_sent_at=timezone.now()
        )
        == 1
    )


@shared_task
def send_due_reminders() -> int:
    now = timezone.now()
    due = (
        Booking.objects.filter(
            reminder_sent_at__isnull=True,
            session__status=Session.Status.BOOKED,
            session__starts_at__gt=now,
            session__starts_at__lte=now + dt.timedelta(hours=settings.REMINDER_LEAD_HOURS),
        )
        .select_related("session__patient", "session__plan__modality")
        .order_by("session__starts_at")
    )
    sent = 0
    for booking in due:
        try:
            # The claim and the messages (the outbox's email and text rows) commit together:
            # a reminder is claimed if and only if its messages are saved to be sent.
            with transaction.atomic():
                if not claim_reminder(booking.pk):
                    continue
                notifications.send_reminder(booking.session)
        except Exception:
            logger.exception("reminder for session %s failed; will retry", booking.session_id)
            continue
        sent += 1
    return sent


def presession_checks_due(now: dt.datetime) -> list[Session]:
    """Booked treatment sessions starting within PRESESSION_CHECK_HOURS whose patient has a
    portal account and an email, not yet asked for this booked time."""
    asked = PreSessionCheckRequest.objects.filter(
        session=OuterRef("pk"), starts_at=OuterRef("starts_at")
    )
    return list(
        Session.objects.filter(
            status=Session.Status.BOOKED,
            starts_at__gt=now,
            starts_at__lte=now + dt.timedelta(hours=settings.PRESESSION_CHECK_HOURS),
            patient__user__isnull=False,
        )
        .exclude(patient__email="")
        .exclude(plan__modality__kind=Modality.Kind.CONSULTATION)
        .exclude(Exists(asked))
        .select_related("patient", "plan__modality")
        .order_by("starts_at", "pk")
    )


@shared_task
def send_due_presession_checks() -> int:
    """Beat: asks each patient the day-to-day questions about PRESESSION_CHECK_HOURS before a
    session. The claim is a PreSessionCheckRequest row for the session's booked time, written
    in one transaction with the email's outbox row: a second run, or a second worker, finds
    the row and sends nothing (once per booked time; a moved session is asked again)."""
    sent = 0
    for session in presession_checks_due(timezone.now()):
        with transaction.atomic():
            _, claimed = PreSessionCheckRequest.objects.get_or_create(
                session=session, starts_at=session.starts_at
            )
            if claimed:
                sent += notifications.send_presession_check(session)
    return sent
