"""Reminders (idempotent), the practitioner's iCalendar feed and the patient's .ics."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from icalendar import Calendar

from scheduling import tasks
from scheduling.models import Booking
from scheduling.notifications import calendar_for
from tests.scheduling.conftest import at, book
from tests.scheduling.factories import PlanFactory


def test_a_reminder_goes_out_once_even_if_the_task_runs_twice(
    clinic, front_desk_user, mailoutbox, frozen, settings
):
    settings.REMINDER_LEAD_HOURS = 24
    soon = book(clinic, clinic.sessions[0], at(3, 9), front_desk_user)  # 25 h away
    assert tasks.send_due_reminders() == 0
    frozen.move_to(at(2, 9, 30))
    assert tasks.send_due_reminders() == 1
    assert tasks.send_due_reminders() == 0
    assert len(mailoutbox) == 1
    assert "Tuesday 3 March 2026 at 09:00" in mailoutbox[0].body
    assert Booking.objects.get(session=soon).reminder_sent_at is not None


def test_a_failed_send_releases_the_claim(clinic, front_desk_user, mailoutbox, frozen, monkeypatch):
    book(clinic, clinic.sessions[0], at(2, 15), front_desk_user)

    def broken(session):
        raise OSError("mail server down")

    monkeypatch.setattr(tasks.notifications, "send_reminder", broken)
    assert tasks.send_due_reminders() == 0
    monkeypatch.undo()
    assert tasks.send_due_reminders() == 1
    assert len(mailoutbox) == 1


@pytest.mark.postgres
def test_concurrent_reminder_runs_send_each_reminder_once(
    request, transactional_db, front_desk_user, mailoutbox
):
    request.getfixturevalue("postgres")
    clinic = request.getfixturevalue("clinic")
    for hour in (10, 11, 12):
        session = PlanFactory(modality=clinic.micro).sessions.get(number=1)
        book(clinic, session, at(2, hour), front_desk_user)
    barrier = threading.Barrier(4)
    counts = []

    def run():
        barrier.wait(timeout=10)
        try:
            counts.append(tasks.send_due_reminders())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == 3
    assert len(mailoutbox) == 3
    assert len({m.to[0] for m in mailoutbox}) == 3


def _valid(ical: bytes) -> Calendar:
    calendar = Calendar.from_ical(ical)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    events = calendar.walk("VEVENT")
    for event in events:
        for prop in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
            assert prop in event, prop
        assert event.decoded("DTEND") > event.decoded("DTSTART")
    # RFC 5545: CRLF line endings, lines folded at 75 octets
    assert b"\r\n" in ical and all(len(line) <= 75 for line in ical.split(b"\r\n"))
    return calendar


def test_the_patients_ics_is_valid_rfc5545(clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    calendar = _valid(calendar_for([session], name="Clinic", for_patient=True))
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == at(2, 10)
    assert event["UID"] == f"session-{session.pk}@clinic-planner"


def test_the_practitioner_feed_needs_the_secret_token(client, clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    response = client.get(f"/calendar/{clinic.carla.calendar_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = _valid(response.content)
    [event] = calendar.walk("VEVENT")
    assert event["UID"] == f"session-{session.pk}@clinic-planner"
    assert "Alice" not in response.content.decode()  # initials only in a feed
    assert client.get("/calendar/not-the-token.ics").status_code == 404


def test_a_worker_that_died_after_its_claim_does_not_cause_a_second_reminder(
    clinic, front_desk_user, mailoutbox
):
    session = book(clinic, clinic.sessions[0], at(2, 15), front_desk_user)
    booking = Booking.objects.get(session=session)
    assert tasks.claim_reminder(booking.pk)  # the dead worker's claim, its email never sent
    assert tasks.send_due_reminders() == 0  # the redelivered task skips it
    assert mailoutbox == []


def test_the_beat_schedule_runs_the_reminder_task():
    from clinic.celery import app

    entries = {e["task"] for e in app.conf.beat_schedule.values()}
    assert "scheduling.tasks.send_due_reminders" in entries
    assert "scheduling.tasks.send_due_reminders" in app.tasks


@pytest.mark.worker
def test_reminders_through_a_real_worker_go_out_once(transactional_db, request, front_desk_user):
    """The beat task runs in a real worker process, twice: the second run sends nothing."""
    import datetime as dt

    from django.utils import timezone

    from tests.scheduling.factories import DepthLevelFactory, ModalityFactory, PractitionerFactory

    worker = request.getfixturevalue("celery_worker")
    micro = ModalityFactory(kind="microdermabrasion")
    DepthLevelFactory(modality=micro)
    carla = PractitionerFactory(modalities=[micro])
    session = PlanFactory(modality=micro).sessions.get(number=1)
    # Real time here (the worker's clock is not frozen): a session in three hours.
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(hours=3)
    Session = type(session)
    Session.objects.filter(pk=session.pk).update(
        status="booked",
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        practitioner=carla.user,
    )
    Booking.objects.create(session=session, booked_by=front_desk_user)
    assert tasks.send_due_reminders.delay().get(timeout=30) == 1
    assert tasks.send_due_reminders.delay().get(timeout=30) == 0
    assert Booking.objects.get(session=session).reminder_sent_at is not None
    assert "send_due_reminders" in worker.log()


def _event(ical: bytes | str):
    # An email's text/calendar attachment comes back as text.
    calendar = _valid(ical.encode() if isinstance(ical, str) else ical)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_each_change_of_a_session_revises_its_calendar_event(
    clinic, front_desk_user, mailoutbox, committed
):
    """One UID for the session's life; SEQUENCE grows with every move, cancellation and new
    booking, so a calendar that imported an earlier file takes the newer one."""
    from scheduling import services

    with committed():
        session = services.session_book(
            session=clinic.sessions[0],
            starts_at=at(12, 10),
            practitioner_user_id=clinic.carla.user_id,
            by=front_desk_user,
        )
    with committed():
        services.session_reschedule(session=session, starts_at=at(13, 14), by=front_desk_user)
    with committed():
        services.session_cancel(
            session=session, cancelled_by="clinic", reason="Carla ill", by=front_desk_user
        )
    with committed():
        book(clinic, session, at(16, 10), front_desk_user)
    booked, moved, cancelled = (_event(mail.attachments[0][1]) for mail in mailoutbox)
    uids = {event["UID"] for _, event in (booked, moved, cancelled)}
    assert uids == {f"session-{session.pk}@clinic-planner"}
    assert [event["SEQUENCE"] for _, event in (booked, moved, cancelled)] == [0, 1, 2]
    assert moved[1].decoded("DTSTART") == at(13, 14)
    assert cancelled[0]["METHOD"] == "CANCEL" and cancelled[1]["STATUS"] == "CANCELLED"
    session.refresh_from_db()
    rebooked = _event(calendar_for([session], name="Clinic", for_patient=True))[1]
    assert rebooked["SEQUENCE"] == 3 and rebooked.decoded("DTSTART") == at(16, 10)


@pytest.mark.parametrize(
    ("cancelled_by", "words"),
    [("clinic", "cancelled by the clinic"), ("patient", "cancelled, as you asked")],
)
def test_a_cancellation_tells_the_patient_but_not_the_staff_reason(
    clinic, front_desk_user, mailoutbox, committed, cancelled_by, words
):
    from scheduling import services

    session = book(clinic, clinic.sessions[0], at(12, 10), front_desk_user)
    with committed():
        services.session_cancel(
            session=session, cancelled_by=cancelled_by, reason="Carla ill", by=front_desk_user
        )
    [mail] = mailoutbox
    assert mail.to == [clinic.plan.patient.email]
    assert mail.subject == "Cancelled: your session on Thursday 12 March 2026"
    assert "session on Thursday 12 March 2026 at 10:00 has been " + words in mail.body
    assert "Carla ill" not in mail.body


def test_no_cancellation_email_before_the_commit_or_without_an_address(
    clinic, front_desk_user, mailoutbox, committed
):
    from scheduling import services

    session = book(clinic, clinic.sessions[0], at(12, 10), front_desk_user)
    services.session_cancel(session=session, cancelled_by="clinic", reason="x", by=front_desk_user)
    assert mailoutbox == []  # not committed: nothing said
    other = book(clinic, clinic.sessions[1], at(19, 10), front_desk_user)
    other.patient.email = ""
    other.patient.save()
    with committed():
        services.session_cancel(
            session=other, cancelled_by="clinic", reason="x", by=front_desk_user
        )
    assert mailoutbox == []
