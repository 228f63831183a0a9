"""Task behaviour in-process: retry on transient storage trouble, then give up with a reason."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry
from django.core.files.storage import FileSystemStorage

from photos.models import Status
from photos.tasks import make_derivatives


def test_a_transient_storage_error_is_retried_then_fails_with_a_reason(
    alice_plan, add_photo, monkeypatch
):
    photo = add_photo(alice_plan.sessions.first())  # rows pending, task not yet sent

    def broken_open(*args, **kwargs):
        raise ConnectionResetError("storage unreachable")

    monkeypatch.setattr(FileSystemStorage, "open", broken_open)
    with pytest.raises(Retry):
        make_derivatives.apply(args=[photo.pk], throw=True)
    # The claim was released for the retry: still pending, not stuck "running".
    assert set(photo.derivatives.values_list("status", flat=True)) == {Status.PENDING}

    monkeypatch.undo()
    assert make_derivatives.apply(args=[photo.pk]).get() == "ready"


def test_after_the_last_retry_the_state_says_why(alice_plan, add_photo, monkeypatch):
    photo = add_photo(alice_plan.sessions.first())

    def broken_open(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(FileSystemStorage, "open", broken_open)
    monkeypatch.setattr(make_derivatives, "max_retries", 0)
    from photos import tasks

    monkeypatch.setattr(tasks, "MAX_RETRIES", 0)
    with pytest.raises(Exception, match="disk gone"):
        make_derivatives.apply(args=[photo.pk], throw=True)
    reasons = set(photo.derivatives.values_list("status", "reason"))
    assert {status for status, _ in reasons} == {Status.FAILED}
    assert any("Gave up after 0 attempts" in reason for _, reason in reasons)


def test_signed_url_delivery_redirects_after_the_permission_check(
    client, clinician_user, alice_plan, add_photo, settings
):
    from django.urls import reverse

    settings.PHOTOS_DELIVERY = "signed-url"
    photo = add_photo(alice_plan.sessions.first())
    client.force_login(clinician_user)
    response = client.get(reverse("photos:image", args=[photo.pk, "original"]))
    assert response.status_code == 302
    assert response["Location"].endswith(photo.storage_key)
    assert response["Cache-Control"] == "private, no-store"
