"""Uploading through the service: what is stored, what is refused, and derivatives."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from audit.models import AuditEvent
from photos import services
from photos.models import Derivative, Photo, Status
from tests.photos import images
from tests.photos.conftest import upload_file
from tests.photos.test_imaging import BAD_FILES


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("name", sorted(images.SAMPLES))
def test_each_accepted_format_is_stored_unchanged_with_its_facts(
    name, alice_plan, clinician_user, django_capture_on_commit_callbacks
):
    content_type, make = images.SAMPLES[name]
    data = make()
    session = alice_plan.sessions.get(number=1)
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.photo_upload(
            session=session,
            body_area=alice_plan.body_area,
            view="frontal",
            phase="before",
            file=upload_file(f"alice-smit-{name}", data, content_type),
            by=clinician_user,
        )
    assert "smit" not in photo.storage_key  # the server's key, not the uploaded name
    with default_storage.open(photo.storage_key, "rb") as handle:
        assert handle.read() == data
    assert photo.sha256 == hashlib.sha256(data).hexdigest()
    assert (photo.size_bytes, photo.width, photo.height) == (len(data), 600, 400)
    assert photo.uploaded_by == clinician_user and photo.patient == alice_plan.patient
    assert photo.content_type in ("image/jpeg", "image/png", "image/webp", "image/heif")
    derivatives = {d.size: d for d in photo.derivatives.all()}
    assert {size: d.status for size, d in derivatives.items()} == {
        2048: Status.READY,
        1024: Status.READY,
        320: Status.READY,
    }
    for derivative in derivatives.values():
        with default_storage.open(derivative.storage_key, "rb") as handle:
            assert images.is_upright(handle.read())
    assert AuditEvent.objects.filter(object_id=str(photo.pk), action="create").exists()


def test_no_derivative_carries_the_uploads_comment_or_any_metadata(
    alice_plan, clinician_user, django_capture_on_commit_callbacks
):
    """The comment "Patient: Alice Smit, DOB ..." and a PHP payload were served in every
    derivative, the portal's included."""
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.photo_upload(
            session=alice_plan.sessions.get(number=1),
            body_area=alice_plan.body_area,
            view="frontal",
            phase="before",
            file=upload_file("photo.jpg", images.jpeg_with_everything(), "image/jpeg"),
            by=clinician_user,
        )
    derivatives = list(photo.derivatives.all())
    assert {d.status for d in derivatives} == {Status.READY}
    for derivative in derivatives:
        with default_storage.open(derivative.storage_key, "rb") as handle:
            data = handle.read()
        assert images.metadata_segments(data) == [], derivative.size
        assert images.PRIVATE_COMMENT not in data and images.PHP_PAYLOAD not in data
    with default_storage.open(photo.storage_key, "rb") as handle:
        assert images.PRIVATE_COMMENT in handle.read()  # the original is kept unchanged


def test_capture_time_comes_from_exif(alice_plan, add_photo):
    photo = add_photo(alice_plan.sessions.get(number=1))
    assert photo.captured_at.strftime("%Y-%m-%d %H:%M") == "2026-03-14 09:30"


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_each_kind_of_bad_file_is_refused_and_nothing_is_stored(
    kind, alice_plan, clinician_user, settings
):
    data, name, content_type, message = BAD_FILES[kind]
    with pytest.raises(ValidationError, match=message):
        services.photo_upload(
            session=alice_plan.sessions.first(),
            body_area=alice_plan.body_area,
            view="frontal",
            phase="before",
            file=upload_file(name, data, content_type),
            by=clinician_user,
        )
    assert Photo.objects.count() == 0 and Derivative.objects.count() == 0
    assert stored_files(settings) == []


def test_too_large_in_bytes_and_in_pixels_are_refused(alice_plan, clinician_user, settings):
    settings.PHOTOS_MAX_UPLOAD_BYTES = 2048
    session = alice_plan.sessions.first()
    kwargs = dict(session=session, body_area=alice_plan.body_area, view="frontal", phase="before")
    with pytest.raises(ValidationError, match="larger than 2 KB"):
        services.photo_upload(**kwargs, file=upload_file("photo.jpg"), by=clinician_user)
    settings.PHOTOS_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    bomb = upload_file("bomb.png", images.bomb_png(), "image/png")
    with pytest.raises(ValidationError, match="decompression bomb"):
        services.photo_upload(**kwargs, file=bomb, by=clinician_user)
    assert Photo.objects.count() == 0 and stored_files(settings) == []


def test_the_derivative_task_run_twice_leaves_one_set(
    alice_plan, add_photo, settings, django_capture_on_commit_callbacks
):
    from photos.tasks import make_derivatives

    with django_capture_on_commit_callbacks(execute=True):
        photo = add_photo(alice_plan.sessions.first())
    files_before = stored_files(settings)
    Derivative.objects.filter(photo=photo).update(status=Status.PENDING)  # as if redelivered
    assert make_derivatives.delay(photo.pk).get() == "ready"
    assert make_derivatives.delay(photo.pk).get() == "nothing to do"
    assert stored_files(settings) == files_before
    assert len(files_before) == 4  # the original and three sizes
    assert photo.derivatives.count() == 3


def test_a_killed_workers_claim_is_taken_over_after_the_time_limit(alice_plan, add_photo):
    import datetime as dt

    from django.utils import timezone

    photo = add_photo(alice_plan.sessions.first())  # on_commit not run: rows pending
    long_ago = timezone.now() - dt.timedelta(hours=1)
    Derivative.objects.filter(photo=photo).update(status=Status.RUNNING, claimed_at=long_ago)
    assert services.photo_derivatives_make(photo_id=photo.pk) == "ready"
    recent = timezone.now()
    Derivative.objects.filter(photo=photo).update(status=Status.RUNNING, claimed_at=recent)
    # A live claim's work is not done: the task leaves it alone but does not say so.
    assert services.photo_derivatives_make(photo_id=photo.pk) == "busy"


def test_an_undecodable_original_fails_with_a_reason(alice_plan, add_photo):
    photo = add_photo(alice_plan.sessions.first())
    default_storage.delete(photo.storage_key)
    default_storage.save(photo.storage_key, __import__("io").BytesIO(b"garbage"))
    assert services.photo_derivatives_make(photo_id=photo.pk) == "failed"
    assert set(photo.derivatives.values_list("status", flat=True)) == {Status.FAILED}
    assert "could not be decoded" in photo.derivatives.first().reason


def test_an_upload_damaged_inside_is_kept_and_its_derivatives_fail_with_the_reason(
    alice_plan, clinician_user, django_capture_on_commit_callbacks
):
    """The web process reads no pixels; the worker finds the damage when it decodes them."""
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.photo_upload(
            session=alice_plan.sessions.first(),
            body_area=alice_plan.body_area,
            view="frontal",
            phase="before",
            file=upload_file("photo.png", images.damaged_inside_png(), "image/png"),
            by=clinician_user,
        )
    assert set(photo.derivatives.values_list("status", flat=True)) == {Status.FAILED}
    assert "could not be decoded" in photo.derivatives.first().reason


def test_photos_cannot_be_added_to_a_cancelled_session(alice_plan, clinician_user):
    session = alice_plan.sessions.first()
    session.status = "cancelled"
    session.save()
    with pytest.raises(ValidationError, match="cancelled"):
        services.photo_upload(
            session=session,
            body_area=alice_plan.body_area,
            view="frontal",
            phase="before",
            file=upload_file("photo.jpg"),
            by=clinician_user,
        )
