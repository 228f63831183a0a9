"""Text messages: the console and locmem backends, and the provider adapter against a fake
provider, a real HTTP server on this machine, reached through the outbox as the worker does."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.utils import timezone

from core import outbox, sms
from core.models import OutboxMessage

Status = OutboxMessage.Status
KEY = "test-access-key"


class FakeProvider:
    """A MessageBird-like `POST /messages` on a free local port. It answers each request with
    the next status of `answers` (201 once they run out) and keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answers: list[int] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                provider.received.append(
                    {
                        "path": self.path,
                        "authorization": self.headers["Authorization"],
                        "json": json.loads(self.rfile.read(length)),
                    }
                )
                status = provider.answers.pop(0) if provider.answers else 201
                if status < 300:
                    body = {"id": f"mb-{len(provider.received)}"}
                else:
                    body = {"errors": [{"code": status, "description": "provider says no"}]}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(settings):
    with FakeProvider() as fake:
        settings.SMS_BACKEND = "core.sms.MessageBirdBackend"
        settings.SMS_PROVIDER_URL = fake.url
        settings.SMS_API_KEY = KEY
        settings.SMS_SENDER = "Lumen"
        yield fake


def text(body="Lumen Skin Clinic: reminder of your session.") -> sms.SmsMessage:
    return sms.SmsMessage(to="+31612345678", body=body)


def test_the_console_backend_prints_and_sends_nothing():
    stream = io.StringIO()
    assert sms.ConsoleBackend(stream=stream).send_messages([text("Hello")]) == 1
    assert "SMS to +31612345678" in stream.getvalue() and "Hello" in stream.getvalue()


def test_the_default_backend_is_the_console(settings):
    from clinic import settings as defaults  # as read from an environment without SMS_BACKEND

    settings.SMS_BACKEND = defaults.SMS_BACKEND
    assert isinstance(sms.get_backend(), sms.ConsoleBackend)


def test_the_locmem_backend_keeps_messages_for_tests(sms_outbox):
    sms.get_backend().send_messages([text("One"), text("Two")])
    assert [m.body for m in sms_outbox] == ["One", "Two"]


def test_the_adapter_posts_the_message_to_the_provider(provider):
    backend = sms.MessageBirdBackend()
    assert backend._send(sms.SmsMessage(to="+31612345678", body="Hi", reference="outbox-7")) == (
        "mb-1"
    )
    [request] = provider.received
    assert request["path"] == "/messages"
    assert request["authorization"] == f"AccessKey {KEY}"
    assert request["json"] == {
        "originator": "Lumen",
        "recipients": ["31612345678"],
        "body": "Hi",
        "reference": "outbox-7",
    }


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (429, False), (422, True)])
def test_a_provider_refusal_says_whether_to_try_again(provider, status, permanent):
    provider.answers = [status]
    with pytest.raises(sms.SmsError) as refused:
        sms.MessageBirdBackend().send_messages([text()])
    assert refused.value.permanent is permanent
    assert f"answered {status}: provider says no" in str(refused.value)


def test_a_provider_that_cannot_be_reached_is_tried_again_later(settings):
    with FakeProvider() as fake:
        url = fake.url  # a port that was free a moment ago, and is closed now
    settings.SMS_PROVIDER_URL, settings.SMS_API_KEY = url, KEY
    with pytest.raises(sms.SmsError) as refused:
        sms.MessageBirdBackend().send_messages([text()])
    assert not refused.value.permanent and "could not be reached" in str(refused.value)


def test_a_text_through_the_outbox_is_sent_after_the_commit(db, provider, committed):
    with committed():
        written = outbox.outbox_sms(text())
        assert provider.received == []  # nothing leaves before the commit
    written.refresh_from_db()
    assert written.status == Status.SENT and written.attempts == 1
    assert "...5678" in written.summary and "+31612345678" not in written.summary
    [request] = provider.received
    assert request["json"]["reference"] == f"outbox-{written.pk}"


def test_a_provider_outage_delays_a_text_and_loses_nothing(db, provider, committed):
    provider.answers = [503, 502]
    with committed():
        written = outbox.outbox_sms(text())
    written.refresh_from_db()
    assert written.status == Status.PENDING and written.attempts == 1
    assert "answered 503" in written.last_error
    assert written in outbox.troubled_emails()  # the desk sees it waiting
    assert outbox.relay_due() == 0  # not due again yet: it waits its pause
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1), tick=False):
        assert outbox.relay_due() == 1
    written.refresh_from_db()
    assert written.status == Status.PENDING and written.attempts == 2
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5), tick=False):
        outbox.relay_due()
    written.refresh_from_db()
    assert written.status == Status.SENT and written.attempts == 3
    # Three tries of one message, all with its one reference; it reached the patient once.
    assert [r["json"]["reference"] for r in provider.received] == [f"outbox-{written.pk}"] * 3


def test_a_text_is_sent_once_however_many_relays_see_it(db, provider, committed):
    with committed():
        written = outbox.outbox_sms(text())
    assert outbox.relay_due() == 0
    assert outbox.sms_send(message_id=written.pk) is False  # a second copy of its task
    assert len(provider.received) == 1


def test_a_number_the_provider_refuses_fails_at_once_for_the_desk(db, provider, committed):
    provider.answers = [422]
    with committed():
        written = outbox.outbox_sms(text())
    written.refresh_from_db()
    assert written.status == Status.FAILED and written.attempts == 1
    assert "provider says no" in written.last_error
    assert list(outbox.troubled_emails()) == [written]


def test_a_text_whose_worker_died_while_sending_waits_for_the_desk_not_a_resend(
    db, provider, committed
):
    with committed():
        written = outbox.outbox_sms(text())
    # As a worker leaves it when killed after the provider took the text, before marking it.
    OutboxMessage.objects.filter(pk=written.pk).update(
        status=Status.SENDING, due_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert outbox.relay_due() == 0
    written.refresh_from_db()
    assert written.status == Status.FAILED and "may or may not have gone out" in written.last_error
    assert written in outbox.troubled_emails()
    assert len(provider.received) == 1  # not sent a second time on its own
    with committed():
        outbox.message_retry(message=written)  # the desk checked, and sends it again
    written.refresh_from_db()
    assert written.status == Status.SENT and len(provider.received) == 2
