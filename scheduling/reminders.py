"""Reminders that patients answer: the signed confirm, cancel and move links of a reminder, and
the text message version of it.

A link is its own key (core.links.signed_token, as the waiting list's offers): it names one
session, one action and the channel it was sent by, with the booking's version (its calendar
SEQUENCE, raised by every move, cancellation or new booking) and its start, so a link sent for
one booking of the session does nothing once the session has changed. It expires after
REMINDER_LINK_HOURS. Opening a link only shows a page; the action is a POST from that page
(mail scanners open every link in a message).

Confirming is `session_confirm` here (Booking.confirmed_at, shown to the desk); cancelling goes
through the portal's cancellation service (portal.services.link_session_cancel), whose notice
period applies; moving leads to the portal's page for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from audit.models import AuditEvent
from audit.services import audit_log, recorded
from core.links import signed_data, signed_token
from treatments.models import Session

from .models import Booking

SIGNING_SALT = "scheduling.reminders.link"
CONFIRM, CANCEL, MOVE = "confirm", "cancel", "move"
# One letter each in the signed data, so a text message's link stays short.
_ACTIONS = {CONFIRM: "c", CANCEL: "x", MOVE: "m"}
EMAIL, SMS = "email link", "sms link"
_CHANNELS = {EMAIL: "e", SMS: "s"}

NOT_OURS = (
    "This link does not work: it is not one we sent, or part of it is missing. Open it again "
    "straight from your email or text message, or call us on {phone}."
)
EXPIRED = "This link has expired. Sign in to the portal to see your session, or call us on {phone}."
CHANGED = (
    "This link was for an earlier booking of your session: it has been moved, cancelled or "
    "booked again since, so the link no longer works. The newest email from us has the current "
    "time; or call us on {phone}."
)
BEGUN = "This session has begun or is over, so the link no longer works."


def _words(text: str) -> str:
    return text.format(phone=settings.CLINIC_PHONE)


def booking_version(session: Session) -> list[int]:
    """What a link is signed with and checked against: the booking's calendar SEQUENCE and its
    start in minutes. A move, a cancellation or a new booking changes it."""
    try:
        sequence = session.booking.calendar_sequence
    except ObjectDoesNotExist:
        sequence = 0
    start = int(session.starts_at.timestamp() // 60) if session.starts_at else 0
    return [sequence, start]


def link_token(session: Session, action: str, channel: str) -> str:
    return signed_token(
        [session.pk, *booking_version(session), _ACTIONS[action], _CHANNELS[channel]],
        salt=SIGNING_SALT,
    )


def link_url(session: Session, action: str, channel: str) -> str:
    path = reverse("reminder_link", args=[link_token(session, action, channel)])
    return settings.SITE_URL.rstrip("/") + path


@dataclass(frozen=True)
class ReminderLink:
    """A reminder link as opened: its session, action and channel, and `problem` (words for the
    patient, with the HTTP status) when it cannot be used."""

    session: Session | None
    action: str = ""
    channel: str = ""
    version: tuple[int, int] = (0, 0)
    problem: str = ""
    status: int = 200

    @property
    def usable(self) -> bool:
        return not self.problem


def _decoded(data) -> tuple[int, tuple[int, int], str, str] | None:
    if not isinstance(data, list) or len(data) != 5:
        return None
    session_id, sequence, start, action_code, channel_code = data
    actions = {code: name for name, code in _ACTIONS.items()}
    channels = {code: name for name, code in _CHANNELS.items()}
    numbers = (session_id, sequence, start)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return None
    if action_code not in actions or channel_code not in channels:
        return None
    return session_id, (sequence, start), actions[action_code], channels[channel_code]


def link_read(token: str, *, now: dt.datetime | None = None) -> ReminderLink:
    """What a link names and whether it can still be used. Reads only."""
    signed = signed_data(
        token, salt=SIGNING_SALT, max_age=dt.timedelta(hours=settings.REMINDER_LINK_HOURS)
    )
    decoded = _decoded(signed.data) if signed is not None else None
    session = None
    if decoded is not None:
        session = (
            Session.objects.select_related(
                "patient__user", "plan__modality", "booking", "practitioner"
            )
            .filter(pk=decoded[0])
            .first()
        )
    if decoded is None or session is None:
        return ReminderLink(None, problem=_words(NOT_OURS), status=400)
    _, version, action, channel = decoded
    link = ReminderLink(session, action, channel, version)
    if signed.expired:
        return _refused(link, _words(EXPIRED), 410)
    return _refused(link, changed_words(session, version, now=now), 409)


def _refused(link: ReminderLink, problem: str, status: int) -> ReminderLink:
    if not problem:
        return link
    return ReminderLink(link.session, link.action, link.channel, link.version, problem, status)


def changed_words(session: Session, version, *, now: dt.datetime | None = None) -> str:
    """Why a link signed with `version` no longer applies to the session; "" when it does."""
    if session.status == Session.Status.CANCELLED:
        return _words(
            "This session is cancelled, so the link no longer works. To book a new time, "
            "call us on {phone}."
        )
    if session.status != Session.Status.BOOKED or session.starts_at is None:
        return BEGUN if session.status in Session.ACTIVE_STATUSES else _words(CHANGED)
    if list(version) != booking_version(session):
        return _words(CHANGED)
    if session.starts_at <= (now or timezone.now()):
        return BEGUN
    return ""


def link_refused(link: ReminderLink, *, request=None) -> None:
    """A link that cannot be used leaves a refused event: for whose session, when it names one
    (an old or expired link), or the bare attempt (a link not made here)."""
    session = link.session
    audit_log(
        actor=getattr(request, "user", None),
        action=AuditEvent.Action.CHANGE
        if request is not None and request.method == "POST"
        else AuditEvent.Action.VIEW,
        obj=session,
        allowed=False,
        request=request,
        object_type="reminder link",
        detail=f"reminder link refused ({link.status})"
        + (f": {link.channel}, {link.action}" if session is not None else ""),
    )


def confirmed_at(session: Session) -> dt.datetime | None:
    try:
        return session.booking.confirmed_at
    except ObjectDoesNotExist:
        return None


def lock_unchanged(session: Session, version) -> Session:
    """The session row locked for the rest of the transaction, still as the link knew it;
    ValidationError (in the patient's words) when it has changed since."""
    locked = (
        Session.objects.select_for_update(of=("self",))
        .select_related("patient__user", "plan__modality", "booking")
        .get(pk=session.pk)
    )
    if problem := changed_words(locked, version):
        raise ValidationError(problem)
    return locked


def session_confirm(*, session: Session, version, channel: str, request=None) -> Session:
    """The patient says they will come: the booking records when and by which link (once; a
    second confirmation changes nothing), and the audit log has the patient as the actor."""
    with recorded():
        session = lock_unchanged(session, version)
        booking, _ = Booking.objects.get_or_create(session=session)
        if booking.confirmed_at is None:
            booking.confirmed_at, booking.confirmed_via = timezone.now(), channel
            booking.save(update_fields=["confirmed_at", "confirmed_via"])
            audit_log(
                actor=session.patient.user,
                action=AuditEvent.Action.CHANGE,
                obj=session,
                request=request,
                detail=f"attendance confirmed by the patient ({channel})",
            )
        session.booking = booking
    return session


# --- the text message -------------------------------------------------------------------


def wants_sms(patient) -> bool:
    return bool(patient.sms_reminders and patient.phone_e164)


def sms_text(session: Session, *, contact_us: str = "") -> str:
    """The reminder as a short text: when, and a link to confirm; a flagged session asks the
    patient to call instead (without why: a text is no place for it)."""
    local = timezone.localtime(session.starts_at)
    when = f"{date_format(local.date(), 'D j M')} at {local:%H:%M}"
    if contact_us:
        return (
            f"{settings.CLINIC_NAME}: about your session on {when}, please call us first on "
            f"{settings.CLINIC_PHONE}."
        )
    return (
        f"{settings.CLINIC_NAME}: reminder of your session on {when}. Confirm: "
        f"{link_url(session, CONFIRM, SMS)} To cancel or move it, see our email or call "
        f"{settings.CLINIC_PHONE}."
    )
