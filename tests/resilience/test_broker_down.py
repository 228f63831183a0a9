"""With the broker down an upload still answers at once and keeps the photo as pending; once
the broker is back, the sweep sends the lost work and a real worker makes the derivatives."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from photos.models import Photo, Status
from photos.tasks import resend_pending
from tests.photos import images
from tests.photos.conftest import create_plan
from tests.resilience.redis_server import RedisServer
from tests.services import WorkerProcess, celery_configured

pytestmark = [pytest.mark.redis, pytest.mark.worker]


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_upload_with_the_broker_down_is_resent_by_the_sweep(
    own_redis, transactional_db, tmp_path, settings, clinician_user, alice, client
):
    from clinic.celery import app

    session = create_plan(alice, sessions=1).sessions.get()
    worker = WorkerProcess(
        tmp_path=tmp_path,
        media_root=settings.MEDIA_ROOT,
        broker_url=own_redis.url,
        result_backend=own_redis.url,
    )
    with celery_configured(app, **worker.celery_conf()):
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
        assert took < 8, f"the upload waited {took:.1f} s for the broker"
        photo = Photo.objects.get(session=session)
        assert set(photo.derivatives.values_list("status", flat=True)) == {Status.PENDING}

        own_redis.start()
        try:
            worker.start()
            settings.PHOTOS_RESEND_AFTER_MINUTES = 0
            Photo.objects.filter(pk=photo.pk).update(
                uploaded_at=photo.uploaded_at - dt.timedelta(minutes=1)
            )
            assert resend_pending() == 1
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                statuses = set(photo.derivatives.values_list("status", flat=True))
                if statuses == {Status.READY}:
                    break
                time.sleep(0.3)
            assert statuses == {Status.READY}, f"{statuses}\n{worker.log()[-3000:]}"
            assert resend_pending() == 0, "a ready photo was sent again"
        finally:
            worker.stop()
