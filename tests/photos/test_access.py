"""Every image goes through a view that checks permission, audits, and sets strict headers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from photos import services
from photos.models import Comparison
from tests.services import AUDIT_WRITES

VARIANTS = ["original", "large", "screen", "grid"]


@pytest.fixture
def released(alice_plan, add_photo, clinician_user, django_capture_on_commit_callbacks):
    portal = ("clinical", "portal")
    with django_capture_on_commit_callbacks(execute=True):
        before = add_photo(alice_plan.sessions.get(number=1), phase="before", purposes=portal)
        after = add_photo(alice_plan.sessions.get(number=3), phase="after", purposes=portal)
    pair = Comparison.objects.get(kind="pair")
    services.comparison_release(comparison=pair, released=True, by=clinician_user)
    return {"before": before, "after": after, "pair": pair}


def image_urls(released) -> list[str]:
    urls = [
        reverse("photos:image", args=[released[name].pk, variant])
        for name in ("before", "after")
        for variant in VARIANTS
    ]
    urls += [reverse("photos:sheet", args=[released["pair"].pk, fmt]) for fmt in ("jpg", "pdf")]
    urls += [reverse("photos:photo", args=[released["before"].pk])]
    urls += [reverse("photos:comparison", args=[released["pair"].pk])]
    return urls


def test_a_clinician_gets_every_image_with_strict_headers(client, clinician_user, released):
    client.force_login(clinician_user)
    for variant in VARIANTS:
        response = client.get(reverse("photos:image", args=[released["before"].pk, variant]))
        assert response.status_code == 200, variant
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "private, no-store"
        body = b"".join(response.streaming_content)
        assert body[:3] == b"\xff\xd8\xff"
    response = client.get(reverse("photos:sheet", args=[released["pair"].pk, "pdf"]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    events = AuditEvent.objects.filter(
        actor=clinician_user, allowed=True, action__in=["view", "download"]
    )
    assert events.count() == len(VARIANTS) + 1


def test_bob_cannot_fetch_alices_images_by_any_url(client, bob, released):
    """Her images and sheets look missing to him; the clinicians' pages refuse his account
    outright. Each refusal is audited once."""
    client.force_login(bob.user)
    *files, photo_page, comparison_page = image_urls(released)
    for url in files:
        assert client.get(url).status_code == 404, url
    for url in (photo_page, comparison_page):
        assert client.get(url).status_code == 403, url
    refused = AuditEvent.objects.filter(actor=bob.user, allowed=False)
    assert refused.count() == len(files) + 2


def test_alice_sees_her_released_derivatives_and_sheet_but_not_originals(client, alice, released):
    client.force_login(alice.user)
    assert (
        client.get(reverse("photos:image", args=[released["after"].pk, "screen"])).status_code
        == 200
    )
    assert client.get(reverse("photos:sheet", args=[released["pair"].pk, "jpg"])).status_code == 200
    original = reverse("photos:image", args=[released["after"].pk, "original"])
    assert client.get(original).status_code == 404
    assert AuditEvent.objects.filter(actor=alice.user, allowed=False).count() == 1
    response = client.get(reverse("photos:mine"))
    assert response.status_code == 200
    assert reverse("photos:sheet", args=[released["pair"].pk, "jpg"]) in response.content.decode()


def test_unreleased_or_unconsented_is_hidden_from_the_patient(
    client, alice, released, clinician_user
):
    client.force_login(alice.user)
    sheet = reverse("photos:sheet", args=[released["pair"].pk, "jpg"])
    services.comparison_release(comparison=released["pair"], released=False, by=clinician_user)
    assert client.get(sheet).status_code == 404
    services.comparison_release(comparison=released["pair"], released=True, by=clinician_user)
    assert client.get(sheet).status_code == 200
    services.photo_consent_update(
        photo=released["before"], purposes=["clinical"], by=clinician_user
    )
    assert client.get(sheet).status_code == 404
    assert (
        client.get(reverse("photos:image", args=[released["before"].pk, "grid"])).status_code == 404
    )


def test_front_desk_may_not_see_photos(client, front_desk_user, released):
    client.force_login(front_desk_user)
    for url in image_urls(released):
        assert client.get(url).status_code == 403, url
    assert AuditEvent.objects.filter(actor=front_desk_user, allowed=False).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, released):
    for url in image_urls(released):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_x_accel_delivery_hands_the_bytes_to_the_proxy(client, clinician_user, released, settings):
    settings.PHOTOS_DELIVERY = "x-accel"
    client.force_login(clinician_user)
    response = client.get(reverse("photos:image", args=[released["before"].pk, "original"]))
    assert response["X-Accel-Redirect"] == "/protected-media/" + released["before"].storage_key
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == b""


def test_the_patients_page_takes_a_fixed_number_of_queries(
    client, alice, released, django_assert_num_queries
):
    client.force_login(alice.user)
    with django_assert_num_queries(5 + AUDIT_WRITES):
        # 1 the login session, 2 its user, 3 user and group permissions,
        # 4 the patient of the account, 5 released, consented, ready comparisons with area/plan,
        # and the look audited
        response = client.get(reverse("photos:mine"))
    assert response.content.decode().count('class="sheet-preview"') == 1


def test_each_purpose_is_withdrawn_on_its_own(released, clinician_user):
    services.photo_consent_update(
        photo=released["before"], purposes=["clinical", "portal", "education"], by=clinician_user
    )
    services.photo_consent_update(
        photo=released["after"], purposes=["clinical", "portal", "education"], by=clinician_user
    )
    assert Comparison.objects.visible_for("education").filter(pk=released["pair"].pk).exists()
    assert not Comparison.objects.visible_for("marketing").exists()
    services.photo_consent_update(
        photo=released["after"], purposes=["clinical", "portal"], by=clinician_user
    )
    assert not Comparison.objects.visible_for("education").exists()
    assert Comparison.objects.released().filter(pk=released["pair"].pk).exists()
    event = AuditEvent.objects.filter(object_id=str(released["after"].pk), action="change").first()
    assert event.detail == "consent given: -; withdrawn: education"
