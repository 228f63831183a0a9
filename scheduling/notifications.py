"""What patients and practitioners receive: booking emails with real dates, reminders, iCalendar.

iCalendar output follows RFC 5545 (built and re-parsed with the `icalendar` library): every
event has a stable UID, DTSTAMP, DTSTART and DTEND in UTC, and a SEQUENCE that grows each time
the session is moved, cancelled or booked again, so a calendar replaces what it imported.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from icalendar import Calendar, Event

from core.outbox import outbox_sms
from core.sms import SmsMessage
from treatments import advice
from treatments.models import Session

from . import reminders
from .rules import nice_date

PRODID = "-//Clinic planner//Booking//EN"


def _uid(session: Session) -> str:
    return f"session-{session.pk}@clinic-planner"


def _sequence(session: Session) -> int:
    try:
        return session.booking.calendar_sequence
    except ObjectDoesNotExist:  # never booked
        return 0


def calendar_for(
    sessions: Iterable[Session], *, name: str, for_patient: bool, method: str = "PUBLISH"
) -> bytes:
    """An iCalendar of the sessions (with their bookings selected, for the SEQUENCE).
    `method`: PUBLISH for a feed or a booking, CANCEL for a cancellation notice (RFC 5546)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add("x-wr-calname", name)
    stamp = timezone.now().astimezone(dt.UTC)
    for session in sessions:
        event = Event()
        event.add("uid", _uid(session))
        event.add("dtstamp", stamp)
        event.add("sequence", _sequence(session))
        event.add("dtstart", session.starts_at.astimezone(dt.UTC))
        event.add("dtend", session.ends_at.astimezone(dt.UTC))
        modality = session.plan.modality.name
        if for_patient:
            event.add("summary", f"{modality} at {settings.CLINIC_NAME}")
        else:
            patient = session.patient
            event.add(
                "summary",
                f"{modality}, session {session.number} ({patient.first_name[:1]}."
                f"{patient.last_name[:1]}.)",
            )
        cancelled = session.status == Session.Status.CANCELLED
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        event.add("location", settings.CLINIC_NAME)
        calendar.add_component(event)
    return calendar.to_ical()


def instructions(session: Session, rules=None) -> list[str]:
    """Pre-treatment instructions with the real dates for this session, from the screening
    rules that ask something of the patient (treatments/advice.py); `rules` from
    advice.advice_rules() when several sessions are shown at once."""
    day = timezone.localdate(session.starts_at)
    rules = advice.advice_rules() if rules is None else rules
    found = advice.before_session(
        modality_id=session.plan.modality_id,
        level_id=session.depth_level_id,
        day=day,
        rules=rules,
    )
    return [
        *(f"From {nice_date(item.since)}: {item.text}." for item in found),
        "Come without make-up on the treated area. Tell us about any cold sore, new "
        "medicine or sunburn before the session.",
    ]


def send_booking_confirmation(sessions: list[Session], *, moved: bool = False) -> bool:
    if not sessions:
        return False
    patient = sessions[0].patient
    if not patient.email:
        return False
    what = "Your session has moved" if moved else "Your booking"
    lines = [f"Dear {patient.first_name},", "", f"{what} at {settings.CLINIC_NAME}:"]
    for session in sessions:
        local = timezone.localtime(session.starts_at)
        lines.append(
            f"- {session.plan.modality.name}, session {session.number}: "
            f"{nice_date(local)} at {local:%H:%M}"
        )
    lines += ["", "Before each session:"]
    rules = advice.advice_rules()
    for session in sessions:
        local = timezone.localtime(session.starts_at)
        lines.append(f"For {nice_date(local)}:")
        lines += [f"  * {line}" for line in instructions(session, rules)]
    lines += ["", "The attached calendar file adds the dates to your calendar."]
    _send_with_calendar(
        patient, f"{what} at {settings.CLINIC_NAME}", lines, "booking.ics", sessions, "PUBLISH"
    )
    return True


def send_cancellation_notice(session: Session) -> bool:
    """Tells the patient a session is off, with a calendar file that removes it. The staff's
    reason is not passed on: it is written for colleagues."""
    patient = session.patient
    if not patient.email:
        return False
    local = timezone.localtime(session.starts_at)
    by_clinic = session.booking.cancelled_by == session.booking.CancelledBy.CLINIC
    lines = [
        f"Dear {patient.first_name},",
        "",
        f"Your {session.plan.modality.name.lower()} session on {nice_date(local)} at "
        f"{local:%H:%M} has been cancelled"
        + (" by the clinic. We are sorry for the change." if by_clinic else ", as you asked."),
        "",
        "We will be glad to find you a new time: book it with us, or reply to this email.",
        "The attached calendar file removes the session from your calendar.",
    ]
    subject = f"Cancelled: your session on {nice_date(local)}"
    _send_with_calendar(patient, subject, lines, "cancelled.ics", [session], "CANCEL")
    return True


def _send_with_calendar(patient, subject: str, lines: list[str], filename: str, sessions, method):
    message = EmailMessage(subject=subject, body="\n".join(lines), to=[patient.email])
    message.attach(
        filename,
        calendar_for(sessions, name=settings.CLINIC_NAME, for_patient=True, method=method),
        "text/calendar",
    )
    message.send()


def contact_us(session: Session) -> str:
    """For the patient, when screening flags the session since it was booked: call us, without
    the clinical detail (an email or a portal page is no place for it). "" when not flagged."""
    if session.flag != Session.Flag.BLOCKED or session.status not in Session.FLAGGABLE_STATUSES:
        return ""
    return (
        "Please contact us before this session: something in your record means we need to "
        f"talk to you before it can go ahead. Call us on {settings.CLINIC_PHONE}."
    )


def send_reminder(session: Session) -> bool:
    """The reminder by email, with links to confirm, cancel or move the session, and by text
    message to a patient who agreed to them; both join the outbox in the caller's transaction.
    False when the patient has no way to get it."""
    patient = session.patient
    sent_email = _email_reminder(session) if patient.email else False
    if reminders.wants_sms(patient):
        outbox_sms(
            SmsMessage(
                to=patient.phone_e164,
                body=reminders.sms_text(session, contact_us=contact_us(session)),
            )
        )
        return True
    return sent_email


def _email_reminder(session: Session) -> bool:
    patient = session.patient
    local = timezone.localtime(session.starts_at)
    if notice := contact_us(session):
        EmailMessage(
            subject=f"Please contact us about your session on {nice_date(local)}",
            body="\n".join(
                [
                    f"Dear {patient.first_name},",
                    "",
                    f"Your {session.plan.modality.name.lower()} session is booked for "
                    f"{nice_date(local)} at {local:%H:%M}.",
                    "",
                    notice,
                ]
            ),
            to=[patient.email],
        ).send()
        return True
    link = functools.partial(reminders.link_url, session, channel=reminders.EMAIL)
    body = "\n".join(
        [
            f"Dear {patient.first_name},",
            "",
            f"A reminder of your {session.plan.modality.name.lower()} session on "
            f"{nice_date(local)} at {local:%H:%M}.",
            "",
            *[f"* {line}" for line in instructions(session)],
            "",
            "Please let us know whether you will come:",
            f"- Yes, I will come: {link(reminders.CONFIRM)}",
            f"- I cannot come, cancel it: {link(reminders.CANCEL)}",
            f"- I would like another time: {link(reminders.MOVE)}",
            "",
            "Each link asks you once more before it changes anything. With less than "
            f"{settings.CANCELLATION_NOTICE_HOURS} hours to go, please call us on "
            f"{settings.CLINIC_PHONE} to cancel or change the session.",
        ]
    )
    EmailMessage(
        subject=f"Reminder: your session on {nice_date(local)}", body=body, to=[patient.email]
    ).send()
    return True


def send_presession_check(session: Session) -> bool:
    """Asks the patient the day-to-day questions before a session, with a link to the
    portal's check page for it (the link needs their sign-in: no answer travels in an email)."""
    patient = session.patient
    if not patient.email:
        return False
    local = timezone.localtime(session.starts_at)
    link = settings.SITE_URL.rstrip("/") + reverse("portal:session_check", args=[session.pk])
    lines = [
        f"Dear {patient.first_name},",
        "",
        f"Your {session.plan.modality.name.lower()} session is on {nice_date(local)} at "
        f"{local:%H:%M}.",
        "",
        "A few short questions help us make sure the treatment suits your skin that day "
        "(a cold sore, a tan, waxing, a new medicine...). It takes a minute:",
        link,
        "",
        f"Questions? Call us on {settings.CLINIC_PHONE}.",
    ]
    EmailMessage(
        subject=f"Before your session on {nice_date(local)}: a few short questions",
        body="\n".join(lines),
        to=[patient.email],
        reply_to=[settings.CLINIC_EMAIL],
    ).send()  # joins the outbox in the caller's transaction, with its claim
    return True


def _short_date(moment: dt.datetime) -> str:
    """ "Monday 23 March", with the year only when it is not this year."""
    day = timezone.localtime(moment).date()
    return date_format(day, "l j F" if day.year == timezone.localdate().year else "l j F Y")


def _desk_link(session: Session) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("scheduling:session", args=[session.pk])


def send_change_request_to_desk(change_request) -> None:
    """The desk's email about a portal request (scheduling.models.ChangeRequest), as before the
    inbox: some desks work from their mailbox. Replies go to the patient."""
    session, patient = change_request.session, change_request.patient
    local = timezone.localtime(change_request.session_starts_at or session.starts_at)
    when = f"{_short_date(local)} at {local:%H:%M}"
    is_change = change_request.kind == change_request.Kind.CHANGE
    lines = [
        f"{patient.first_name} {patient.last_name} (patient {patient.pk}) "
        + ("asks to move a session:" if is_change else "cancelled a session in the portal:"),
        "",
        f"{session.plan.modality.name}, session {session.number}: {when}",
    ]
    if change_request.preferred_labels:
        lines += ["", "Preferred: " + ", ".join(change_request.preferred_labels)]
    if change_request.message:
        lines += ["", "Their message:", change_request.message]
    elif not is_change:
        lines += ["", "Offer them a new date."]
    lines += [
        "",
        f"Reply to: {patient.email or patient.phone or 'no contact details on file'}",
        f"Handle it on the session's page: {_desk_link(session)}",
    ]
    EmailMessage(
        subject=("Change request" if is_change else "Cancelled in the portal")
        + f": session on {_short_date(local)}",
        body="\n".join(lines),
        to=[settings.CLINIC_EMAIL],
        reply_to=[patient.email] if patient.email else None,
    ).send()  # joins the outbox in the caller's transaction: sent once it commits


def send_change_request_answer(change_request) -> bool:
    """Tells the patient the desk's answer to a request it declined or marked handled with a
    note. A move or a cancellation by the desk answers with its own email (booking or
    cancellation notice); a cancellation handled without a note needs no second email."""
    patient = change_request.patient
    if not patient.email:
        return False
    if change_request.outcome != change_request.Outcome.DECLINED and not change_request.note:
        return False
    local = timezone.localtime(change_request.session_starts_at or change_request.session.starts_at)
    when = f"{nice_date(local)} at {local:%H:%M}"
    modality = change_request.session.plan.modality.name.lower()
    if change_request.outcome == change_request.Outcome.DECLINED:
        opening = (
            f"We are sorry: we cannot move your {modality} session on {when}. "
            "It stays booked at that time."
        )
    else:
        opening = f"About your cancelled {modality} session on {when}:"
    lines = [f"Dear {patient.first_name},", "", opening, "", change_request.note]
    lines += ["", f"Questions? Call us on {settings.CLINIC_PHONE} or reply to this email."]
    EmailMessage(
        subject=f"About your session on {nice_date(local)}",
        body="\n".join(lines),
        to=[patient.email],
        reply_to=[settings.CLINIC_EMAIL],
    ).send()
    return True
