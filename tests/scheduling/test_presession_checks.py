"""The beat task that asks patients the day-to-day questions before a session: about
PRESESSION_CHECK_HOURS ahead, once per booked time, through the outbox."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from core.models import OutboxMessage
from scheduling import services, tasks
from scheduling.models import PreSessionCheckRequest
from tests.scheduling.conftest import at, book
from tests.scheduling.factories import PlanFactory


def test_the_check_is_asked_once_within_48_hours_of_the_session(
    clinic, front_desk_user, mailoutbox, frozen, settings
):
    settings.PRESESSION_CHECK_HOURS = 48
    session = book(clinic, clinic.sessions[0], at(4, 10), front_desk_user)  # 50 h away
    assert tasks.send_due_presession_checks() == 0
    frozen.move_to(at(2, 10, 30))  # 47.5 h away
    assert tasks.send_due_presession_checks() == 1
    assert tasks.send_due_presession_checks() == 0  # a second run finds the claim
    [email] = mailoutbox
    assert email.to == [clinic.plan.patient.email]
    assert "Wednesday 4 March 2026 at 10:00" in email.body
    assert f"{settings.SITE_URL}/portal/sessions/{session.pk}/check/" in email.body
    assert settings.CLINIC_PHONE in email.body
    assert PreSessionCheckRequest.objects.get().starts_at == session.starts_at


def test_a_moved_session_is_asked_again_for_its_new_time(
    clinic, front_desk_user, mailoutbox, frozen
):
    session = book(clinic, clinic.sessions[0], at(3, 10), front_desk_user)
    assert tasks.send_due_presession_checks() == 1
    services.session_reschedule(session=session, starts_at=at(3, 14), by=front_desk_user)
    assert tasks.send_due_presession_checks() == 1
    assert len(mailoutbox) == 2 and "Tuesday 3 March 2026 at 14:00" in mailoutbox[1].body
    assert PreSessionCheckRequest.objects.filter(session=session).count() == 2


def test_no_check_is_asked_of_a_patient_without_a_portal_account(
    clinic, front_desk_user, mailoutbox
):
    other = PlanFactory(modality=clinic.micro).sessions.get(number=1)
    assert other.patient.user_id is None and other.patient.email
    book(clinic, other, at(3, 10), front_desk_user)
    assert tasks.send_due_presession_checks() == 0
    assert mailoutbox == []


def test_the_email_joins_the_outbox_with_its_claim(clinic, front_desk_user, frozen, settings):
    """With the clinic's own mailer (the outbox), the claim and the email are one transaction."""
    settings.MAILERS = {
        "default": {"BACKEND": "core.outbox.OutboxEmailBackend"},
        "delivery": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"},
    }
    book(clinic, clinic.sessions[0], at(3, 10), front_desk_user)
    assert tasks.send_due_presession_checks() == 1
    message = OutboxMessage.objects.get(summary__startswith="Before your session")
    assert clinic.plan.patient.email in message.summary


def test_the_beat_schedule_runs_the_check_task():
    from clinic.celery import app

    entries = {e["task"] for e in app.conf.beat_schedule.values()}
    assert "scheduling.tasks.send_due_presession_checks" in entries
    assert "scheduling.tasks.send_due_presession_checks" in app.tasks


@pytest.mark.postgres
def test_concurrent_runs_ask_each_patient_once(
    request, transactional_db, front_desk_user, mailoutbox
):
    request.getfixturevalue("postgres")
    clinic = request.getfixturevalue("clinic")
    from tests.factories import PatientFactory

    for hour in (10, 11, 12):
        patient = PatientFactory(with_account=True)
        session = PlanFactory(modality=clinic.micro, patient=patient).sessions.get(number=1)
        book(clinic, session, at(3, hour), front_desk_user)
    barrier = threading.Barrier(4)
    counts = []

    def run():
        barrier.wait(timeout=10)
        try:
            counts.append(tasks.send_due_presession_checks())
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
