"""A task sent after commit never fails or hangs the request when the broker is down."""

import logging
import time

from clinic.celery import app
from core.models import OutboxMessage
from core.tasks import ping, task_send, task_send_on_commit
from tests.services import celery_configured

UNREACHABLE = {"task_always_eager": False, "broker_url": "redis://127.0.0.1:1/0"}


def test_a_send_to_an_unreachable_broker_is_logged_not_raised(caplog):
    caplog.set_level(logging.WARNING, logger="core.tasks")
    with celery_configured(app, **UNREACHABLE):
        started = time.monotonic()
        assert task_send(ping) is False
        elapsed = time.monotonic() - started
    assert elapsed < 5
    assert "core.ping not sent, the broker is unreachable" in caplog.text


def test_a_send_on_commit_waits_for_the_commit(db, django_capture_on_commit_callbacks):
    with celery_configured(app, **UNREACHABLE):
        with django_capture_on_commit_callbacks() as callbacks:
            task_send_on_commit(ping)
        assert len(callbacks) == 1  # nothing sent before the commit
        callbacks[0]()  # the commit: the send fails quietly
    [waiting] = OutboxMessage.objects.all()  # and the task waits in the outbox for the broker
    assert waiting.status == OutboxMessage.Status.PENDING
