"""Issue 19: a clinic that keeps working without Redis, and messages that cannot be lost.

Each test runs its own redis-server (broker and result store) and stops it: a cancellation
made while it is down is kept in the outbox and its email goes out once the broker is back;
the health page says which part is down.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.models import OutboxMessage
from photos.models import Photo, Status
from photos.tasks import resend_pending
from scheduling import services
from scheduling.models import Booking
from tests.photos import images
from tests.photos.conftest import create_plan
from tests.services import WorkerProcess, celery_configured
from treatments.models import Session

pytestmark = [pytest.mark.redis]


def _booked_session(patient) -> Session:
    session = create_plan(patient, sessions=1).sessions.get()
    session.status = Session.Status.BOOKED
    session.starts_at = timezone.now() + dt.timedelta(days=7)
    session.ends_at = session.starts_at + dt.timedelta(minutes=45)
    session.save(update_fields=["status", "starts_at", "ends_at"])
    Booking.objects.create(session=session)
    return session


def _emails_in(folder) -> list[str]:
    """The emails the worker's file mailer has finished writing (each ends with a rule)."""
    texts = [path.read_text() for path in folder.glob("*.log")] if folder.exists() else []
    return [text for text in texts if text.rstrip().endswith("-" * 79)]


@pytest.mark.worker
def test_a_cancellation_made_while_the_broker_is_down_is_emailed_when_it_is_back(
    own_redis, transactional_db, tmp_path, settings, front_desk_user, alice, monkeypatch
):
    from clinic.celery import app

    mail_folder = tmp_path / "mail"
    monkeypatch.setenv("EMAIL_URL", f"filemail://{mail_folder}")
    session = _booked_session(alice)
    worker = WorkerProcess(
        tmp_path=tmp_path,
        media_root=settings.MEDIA_ROOT,
        broker_url=own_redis.url,
        result_backend=own_redis.url,
    )
    with celery_configured(app, **worker.celery_conf()):
        own_redis.stop()  # between the cancellation's commit and the send of its email
        started = time.monotonic()
        services.session_cancel(
            session=session, cancelled_by="clinic", reason="Carla ill", by=front_desk_user
        )
        took = time.monotonic() - started
        assert took < 5, f"the cancellation waited {took:.1f} s for the broker"
        print(f"cancellation with the broker down: {took:.2f} s")
        session.refresh_from_db()
        assert session.status == Session.Status.CANCELLED

        own_redis.start()
        try:
            worker.start()  # a worker that starts relays what is waiting
            back = time.monotonic()
            deadline = back + 60
            while time.monotonic() < deadline and not _emails_in(mail_folder):
                time.sleep(0.3)
            emails = _emails_in(mail_folder)
            assert len(emails) == 1, worker.log()[-3000:]
            assert "Cancelled: your session on" in emails[0]
            assert alice.email in emails[0]
            print(f"email sent {time.monotonic() - back:.1f} s after the worker started")
        finally:
            worker.stop()


@pytest.mark.worker
def test_a_cancellation_whose_task_the_broker_lost_is_relayed_again(
    own_redis, transactional_db, tmp_path, settings, front_desk_user, alice, monkeypatch
):
    """Redis killed without persistence takes its queue with it: the outbox message stays
    unsent until a worker starts its task, so it is relayed again once its lease runs out."""
    from clinic.celery import app

    settings.OUTBOX_RELAY_LEASE_SECONDS = 1
    mail_folder = tmp_path / "mail"
    monkeypatch.setenv("EMAIL_URL", f"filemail://{mail_folder}")
    session = _booked_session(alice)
    worker = WorkerProcess(
        tmp_path=tmp_path,
        media_root=settings.MEDIA_ROOT,
        broker_url=own_redis.url,
        result_backend=own_redis.url,
    )
    with celery_configured(app, **worker.celery_conf()):
        services.session_cancel(
            session=session, cancelled_by="clinic", reason="Carla ill", by=front_desk_user
        )
        [message] = OutboxMessage.objects.all()
        assert message.status == OutboxMessage.Status.PENDING  # with the broker, not a worker
        own_redis.stop()
        own_redis.start()  # the queue is gone
        time.sleep(1.1)
        try:
            worker.start()
            back = time.monotonic()
            while time.monotonic() < back + 60 and not _emails_in(mail_folder):
                time.sleep(0.3)
            emails = _emails_in(mail_folder)
            assert len(emails) == 1, worker.log()[-3000:]
            assert "Cancelled: your session on" in emails[0]
        finally:
            worker.stop()
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def _upload_with_the_broker_down(own_redis, client, clinician_user, session) -> Photo:
    """Stops the broker and uploads a photo from the session page: the answer must not wait
    for the broker, and the photo is kept with its derivatives pending."""
    own_redis.stop()
    client.force_login(clinician_user)
    started = time.monotonic()
    response = client.post(
        f"/photos/sessions/{session.pk}/",
        {
            "body_area": session.plan.body_area_id,
            "view": "frontal",
            "phase": "before",
            "purposes": ["clinical"],
            "files": [SimpleUploadedFile("p.jpg", images.jpeg(), content_type="image/jpeg")],
        },
    )
    took = time.monotonic() - started
    assert response.status_code == 302, response.status_code
    assert took < 5, f"the upload waited {took:.1f} s for the broker"
    photo = Photo.objects.get(session=session)
    assert set(photo.derivatives.values_list("status", flat=True)) == {Status.PENDING}
    return photo


def _wait_until_ready(photo: Photo, worker: WorkerProcess, seconds: float = 60) -> float:
    """Seconds until every derivative of the photo is ready; fails with the worker's log."""
    started = time.monotonic()
    statuses: set = set()
    while time.monotonic() < started + seconds:
        statuses = set(photo.derivatives.values_list("status", flat=True))
        if statuses == {Status.READY}:
            return time.monotonic() - started
        time.sleep(0.3)
    raise AssertionError(f"{statuses}\n{worker.log()[-3000:]}")


def _worker(own_redis, tmp_path, settings) -> WorkerProcess:
    return WorkerProcess(
        tmp_path=tmp_path,
        media_root=settings.MEDIA_ROOT,
        broker_url=own_redis.url,
        result_backend=own_redis.url,
    )


@pytest.mark.worker
def test_an_upload_made_while_the_broker_is_down_gets_its_derivatives_when_it_is_back(
    own_redis, transactional_db, tmp_path, settings, clinician_user, alice, client
):
    """Before the outbox the lost work waited for the photo sweep (every 5 min, for work
    pending 10 min): 14 minutes in the issue. Now the starting worker relays it."""
    from clinic.celery import app

    session = create_plan(alice, sessions=1).sessions.get()
    worker = _worker(own_redis, tmp_path, settings)
    with celery_configured(app, **worker.celery_conf()):
        photo = _upload_with_the_broker_down(own_redis, client, clinician_user, session)
        own_redis.start()
        try:
            worker.start()
            took = _wait_until_ready(photo, worker)
            print(f"derivatives ready {took:.1f} s after the worker started")
        finally:
            worker.stop()


@pytest.mark.worker
def test_an_upload_whose_relay_was_lost_is_resent_by_the_sweep(
    own_redis, transactional_db, tmp_path, settings, clinician_user, alice, client
):
    """The photo sweep stays the safety net behind the outbox: once the broker is back it
    sends work that waited too long, and a ready photo is never sent again."""
    from clinic.celery import app

    session = create_plan(alice, sessions=1).sessions.get()
    worker = _worker(own_redis, tmp_path, settings)
    with celery_configured(app, **worker.celery_conf()):
        photo = _upload_with_the_broker_down(own_redis, client, clinician_user, session)
        # Its relay lost beyond the outbox's reach (the row taken as sent, the queue gone).
        OutboxMessage.objects.all().delete()
        own_redis.start()
        try:
            worker.start()
            settings.PHOTOS_RESEND_AFTER_MINUTES = 0
            Photo.objects.filter(pk=photo.pk).update(
                uploaded_at=photo.uploaded_at - dt.timedelta(minutes=1)
            )
            assert resend_pending() == 1
            _wait_until_ready(photo, worker)
            assert resend_pending() == 0, "a ready photo was sent again"
        finally:
            worker.stop()


def test_the_desk_signs_in_and_cancels_with_redis_down(
    own_redis, client, settings, front_desk_user, alice, committed
):
    """Redis as broker, result store and cache, all down: the issue's thousands of 500s."""
    from clinic.celery import app
    from tests.factories import PASSWORD

    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": own_redis.url,
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    session = _booked_session(alice)
    with celery_configured(
        app, task_always_eager=False, broker_url=own_redis.url, result_backend=own_redis.url
    ):
        own_redis.stop()
        signed_in = client.post(
            reverse("login"), {"username": front_desk_user.username, "password": PASSWORD}
        )
        assert signed_in.status_code == 302, signed_in.status_code
        for url in (reverse("desk_home"), f"/desk/sessions/{session.pk}/", reverse("outbox")):
            assert client.get(url).status_code == 200, url
        with committed():
            cancelled = client.post(
                f"/desk/sessions/{session.pk}/cancel/",
                {"cancelled_by": "clinic", "reason": "Carla ill", "confirmed": "yes"},
            )
    assert cancelled.status_code == 302, cancelled.status_code
    [message] = OutboxMessage.objects.all()  # the email's task, waiting for the broker
    assert message.status == OutboxMessage.Status.PENDING
    assert "broker could not be reached" in message.last_error


def test_health_names_the_broker_when_redis_is_down(own_redis, client, front_desk_user):
    from clinic.celery import app

    client.force_login(front_desk_user)
    with celery_configured(
        app, task_always_eager=False, broker_url=own_redis.url, result_backend=own_redis.url
    ):
        own_redis.stop()
        started = time.monotonic()
        response = client.get(reverse("health"), {"format": "json"})
        health_took = time.monotonic() - started
        ready = client.get(reverse("readiness"))
        ready_took = time.monotonic() - started - health_took
    print(f"with the broker down: /health/ {health_took:.2f} s, /health/ready/ {ready_took:.2f} s")
    assert health_took < 8 and ready_took < 8
    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is False
    assert checks["worker"]["ok"] is False
    # The load balancer's check: the web still serves, but it says which part is down.
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "down": ["broker"]}
