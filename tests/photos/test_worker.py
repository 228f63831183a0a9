"""The derivative and sheet tasks through a real worker process on Redis."""

from __future__ import annotations

import time

import pytest
from django.core.files.storage import default_storage

from photos import services
from photos.models import Comparison, Derivative, Status
from photos.tasks import make_derivatives
from tests.photos.conftest import upload_file


def wait_for(condition, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.parametrize("celery_worker", ["redis"], indirect=True)
def test_upload_to_sheet_round_trips_through_a_real_worker(
    celery_worker, transactional_db, make_plan, alice, clinician_user
):
    plan = make_plan(alice, sessions=2)
    photos = []
    for number, phase in ((1, "before"), (2, "after")):
        photos.append(
            services.photo_upload(  # commits: the task is sent after the commit
                session=plan.sessions.get(number=number),
                body_area=plan.body_area,
                view="frontal",
                phase=phase,
                file=upload_file("photo.jpg"),
                by=clinician_user,
            )
        )
    wait_for(lambda: Derivative.objects.filter(status=Status.READY).count() == 6)
    wait_for(lambda: Comparison.objects.filter(sheet_status=Status.READY).count() == 1)
    comparison = Comparison.objects.get()
    assert default_storage.exists(comparison.sheet_pdf_key)
    log = celery_worker.log()
    assert "photos.make_derivatives" in log and "photos.make_sheet" in log
    # Sent again (as after a redelivery): the claim finds nothing to do, one set of files stays.
    # (The task ignores results by default; this call asks for its result.)
    sent = make_derivatives.apply_async([photos[0].pk], ignore_result=False)
    assert sent.get(timeout=20) == "nothing to do"
    assert Derivative.objects.count() == 6


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.parametrize("celery_worker", ["redis"], indirect=True)
def test_an_upload_gets_its_quality_score_from_a_real_worker(
    celery_worker, transactional_db, make_plan, alice, clinician_user
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from photos.models import PhotoQuality
    from tests.photos import real_photos

    plan = make_plan(alice, sessions=1)
    shaken = real_photos.blurred(real_photos.photo("stereo_motorcycle"), 3.0)
    photo = services.photo_upload(
        session=plan.sessions.get(number=1),
        body_area=plan.body_area,
        view="frontal",
        phase="before",
        file=SimpleUploadedFile("shaken.jpg", real_photos.jpeg(shaken), "image/jpeg"),
        by=clinician_user,
    )
    wait_for(lambda: PhotoQuality.objects.filter(photo=photo).exists(), timeout=60)
    quality = PhotoQuality.objects.get(photo=photo)
    assert quality.retake
    assert [f["measure"] for f in quality.findings if f["verdict"] == "retake"] == ["sharpness"]
    assert "photos.score_quality" in celery_worker.log()
