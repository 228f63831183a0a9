"""The outbox: a message exists if and only if its change committed, is sent once, is tried
again with a growing pause when sending fails, and is shown to the desk when it fails for good.

Tests put the production mailers back (Django's test set-up makes every mailer locmem): the
default mailer queues in the outbox, the "delivery" mailer is locmem, so mail.outbox holds
what the worker really sent.
"""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic.celery import app
from core import outbox
from core.models import OutboxMessage
from core.tasks import outbox_relay, ping, task_send_on_commit
from tests.services import celery_configured

Status = OutboxMessage.Status
UNREACHABLE = {"task_always_eager": False, "broker_url": "redis://127.0.0.1:1/0"}
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class RefusingBackend:
    """A mail server that refuses every message."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("the mail server hung up")


@pytest.fixture(autouse=True)
def outbox_mailers(settings):
    settings.MAILERS = {
        "default": {"BACKEND": "core.outbox.OutboxEmailBackend"},
        "delivery": {"BACKEND": LOCMEM},
    }
    return settings


def refuse_deliveries(settings):
    settings.MAILERS = {**settings.MAILERS, "delivery": {"BACKEND": f"{__name__}.RefusingBackend"}}


def allow_deliveries(settings):
    settings.MAILERS = {**settings.MAILERS, "delivery": {"BACKEND": LOCMEM}}


def email(subject="Cancelled: your session", to="alice@example.com") -> EmailMessage:
    message = EmailMessage(subject=subject, body="Dear Alice,", to=[to])
    message.attach("cancelled.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
    return message


def test_an_email_of_a_change_that_rolls_back_is_never_written_or_sent(db, committed):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        email().send()
        raise RuntimeError("the change failed")
    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []


def test_an_email_is_written_with_the_change_and_sent_after_the_commit(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        email().send()
        written = OutboxMessage.objects.get()
        assert written.status == Status.PENDING
        assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:  # the commit
        callback()
    written.refresh_from_db()
    assert written.status == Status.SENT and written.attempts == 1 and written.sent_at
    [sent] = mail.outbox
    assert sent.subject == "Cancelled: your session" and sent.to == ["alice@example.com"]
    [(filename, content, mimetype)] = sent.attachments
    assert (filename, mimetype) == ("cancelled.ics", "text/calendar")
    assert "BEGIN:VCALENDAR" in content


def test_a_message_is_sent_once_however_many_relays_see_it(db, committed):
    with committed():
        email().send()
    assert outbox.relay_due() == 0
    assert outbox_relay() == 0
    message = OutboxMessage.objects.get()
    assert outbox.email_send(message_id=message.pk) is False  # a second copy of its task
    assert len(mail.outbox) == 1


def test_a_task_waits_in_the_outbox_while_the_broker_is_down_and_goes_when_it_is_back(
    db, committed
):
    with celery_configured(app, **UNREACHABLE), committed():
        task_send_on_commit(ping)
    waiting = OutboxMessage.objects.get()
    assert waiting.status == Status.PENDING
    assert "broker could not be reached" in waiting.last_error
    assert outbox.relay_due() == 1  # the broker is back (eager here)
    waiting.refresh_from_db()
    assert waiting.status == Status.SENT
    assert outbox.relay_due() == 0


def test_a_request_that_writes_several_messages_waits_for_a_down_broker_once(
    db, committed, monkeypatch
):
    tries = []
    publish = outbox._publish
    monkeypatch.setattr(outbox, "_publish", lambda message: tries.append(1) or publish(message))
    with celery_configured(app, **UNREACHABLE), committed():
        for _ in range(3):
            task_send_on_commit(ping)
    assert len(tries) == 1  # each try may wait for the connect timeout
    assert OutboxMessage.objects.filter(status=Status.PENDING).count() == 3
    assert outbox.relay_due() == 3  # the beat's tick once the broker is back


def test_a_failed_send_is_tried_again_with_a_growing_pause_then_marked_failed(
    db, committed, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    refuse_deliveries(settings)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with committed():
            email().send()
        message = OutboxMessage.objects.get()
        message.refresh_from_db()
        assert (message.status, message.attempts) == (Status.PENDING, 1)
        assert "the mail server hung up" in message.last_error
        assert message.due_at == start + dt.timedelta(seconds=30)

        clock.shift(dt.timedelta(seconds=29))
        assert outbox.relay_due() == 0  # not before its pause is over
        clock.shift(dt.timedelta(seconds=1))
        assert outbox.relay_due() == 1
        message.refresh_from_db()
        assert message.attempts == 2
        assert message.due_at == timezone.now() + dt.timedelta(seconds=60)

        clock.shift(dt.timedelta(seconds=60))
        outbox.relay_due()
        message.refresh_from_db()
        assert (message.status, message.attempts) == (Status.FAILED, 3)
        clock.shift(dt.timedelta(hours=2))
        assert outbox.relay_due() == 0  # a failed message waits for a person
    assert mail.outbox == []


def test_a_worker_that_died_while_sending_leaves_the_email_to_the_next_relay(db, committed):
    with celery_configured(app, **UNREACHABLE), committed():
        email().send()
    message = OutboxMessage.objects.get()
    # As a worker leaves it when killed between its claim and the send.
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=Status.SENDING, due_at=timezone.now() - dt.timedelta(seconds=1), attempts=1
    )
    assert outbox.relay_due() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(mail.outbox) == 1


def test_a_task_no_worker_knows_is_marked_failed_and_does_not_block_the_others(db, committed):
    with celery_configured(app, **UNREACHABLE), committed():
        task_send_on_commit(ping)
        task_send_on_commit(ping)
    OutboxMessage.objects.filter(pk=OutboxMessage.objects.earliest("pk").pk).update(
        payload={"task": "core.renamed_since", "args": [], "kwargs": {}}
    )
    assert outbox.relay_due() == 1
    statuses = dict(OutboxMessage.objects.values_list("payload__task", "status"))
    assert statuses == {"core.renamed_since": Status.FAILED, "core.ping": Status.SENT}


def test_sent_messages_are_cleared_after_a_week(db, committed, settings):
    settings.OUTBOX_KEEP_SENT_DAYS = 7
    with committed():
        email().send()
    OutboxMessage.objects.update(sent_at=timezone.now() - dt.timedelta(days=8))
    outbox.relay_due()
    assert not OutboxMessage.objects.exists()


def failed_email(settings, committed) -> OutboxMessage:
    settings.OUTBOX_MAX_ATTEMPTS = 1
    refuse_deliveries(settings)
    with committed():
        email(subject="Your booking", to="bob@example.com").send()
    allow_deliveries(settings)
    return OutboxMessage.objects.filter(status=Status.FAILED).latest("pk")


def test_the_desk_sees_a_failed_email_and_sends_it_again(
    client, front_desk_user, settings, committed
):
    failed = failed_email(settings, committed)
    client.force_login(front_desk_user)
    page = client.get(reverse("outbox"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Your booking (to bob@example.com)" in html
    assert "the mail server hung up" in html

    with committed():
        response = client.post(reverse("outbox_retry", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Status.SENT
    assert [sent.to for sent in mail.outbox] == [["bob@example.com"]]
    page = client.get(reverse("outbox")).content.decode()
    assert "Sending again: Your booking (to bob@example.com)" in page  # the flash message
    assert 'data-outbox="failed"' not in page


def test_the_health_page_points_at_failed_messages(client, front_desk_user, settings, committed):
    failed_email(settings, committed)
    client.force_login(front_desk_user)
    response = client.get(reverse("health"), {"format": "json"})
    checks = {check["name"]: check for check in response.json()["checks"]}
    # One refused address is the desk's to handle, not a part of the clinic down.
    assert checks["outbox"]["ok"] is True
    assert checks["outbox"]["detail"] == "0 waiting; 1 failed: the desk can send it again"


def test_the_health_page_is_red_when_messages_wait_too_long(client, front_desk_user, committed):
    with celery_configured(app, **UNREACHABLE), committed():
        task_send_on_commit(ping)
    client.force_login(front_desk_user)
    assert client.get(reverse("health"), {"format": "json"}).status_code == 200
    OutboxMessage.objects.update(created_at=timezone.now() - dt.timedelta(minutes=16))
    response = client.get(reverse("health"), {"format": "json"})
    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert "1 message waiting for over 15 minutes" in checks["outbox"]["detail"]


def test_the_outbox_page_is_for_staff(client, alice, clinician_user):
    assert client.get(reverse("outbox")).status_code == 302
    client.force_login(alice.user)
    assert client.get(reverse("outbox")).status_code == 403
    client.force_login(clinician_user)
    assert client.get(reverse("outbox")).status_code == 403
    assert client.post(reverse("outbox_retry", args=[1])).status_code == 403


def test_sending_again_a_message_that_is_not_failed_is_refused(client, front_desk_user, committed):
    with committed():
        email().send()
    sent = OutboxMessage.objects.get()
    client.force_login(front_desk_user)
    assert client.post(reverse("outbox_retry", args=[sent.pk])).status_code == 404
    assert client.post(reverse("outbox_retry", args=[987654])).status_code == 404
    assert client.get(reverse("outbox_retry", args=[sent.pk])).status_code == 405


def test_the_outbox_page_reads_a_fixed_number_of_rows(
    client, front_desk_user, settings, committed, django_assert_num_queries
):
    for _ in range(3):
        failed_email(settings, committed)
    with celery_configured(app, **UNREACHABLE), committed():
        for _ in range(3):
            task_send_on_commit(ping)
    client.force_login(front_desk_user)
    # 1 session, 2 user, 3 the user's permissions (through the roles), 4-5 the counts of
    # failed and waiting messages, 6-7 their rows (without the payloads).
    with django_assert_num_queries(7) as captured:
        html = client.get(reverse("outbox")).content.decode()
    assert html.count("Send again") == 3
    assert html.count("core.ping") == 3
    assert not any('"payload"' in query["sql"] for query in captured.captured_queries)


def test_a_cancellation_notice_goes_through_the_outbox_with_its_calendar_file(
    db, committed, front_desk_user, alice
):
    from icalendar import Calendar

    from scheduling import services
    from scheduling.models import Booking
    from tests.photos.conftest import create_plan
    from treatments.models import Session

    session = create_plan(alice, sessions=1).sessions.get()
    session.status = Session.Status.BOOKED
    session.starts_at = timezone.now() + dt.timedelta(days=7)
    session.ends_at = session.starts_at + dt.timedelta(minutes=45)
    session.save(update_fields=["status", "starts_at", "ends_at"])
    Booking.objects.create(session=session)
    with committed():
        services.session_cancel(
            session=session, cancelled_by="clinic", reason="Carla ill", by=front_desk_user
        )
    messages = {m.kind: m for m in OutboxMessage.objects.all()}
    assert messages["task"].summary == "scheduling.tasks.send_cancellation_notice"
    assert {m.status for m in messages.values()} == {Status.SENT}
    [sent] = mail.outbox
    assert sent.to == [alice.email] and sent.subject.startswith("Cancelled: your session on")
    [(filename, content, mimetype)] = sent.attachments
    assert (filename, mimetype) == ("cancelled.ics", "text/calendar")
    assert Calendar.from_ical(content)["METHOD"] == "CANCEL"
