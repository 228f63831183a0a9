"""Bob sees nothing of Alice's: every portal URL with one of her ids answers 404."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from audit.models import AuditEvent
from treatments.models import Session


@pytest.fixture
def alices(course, comparison):
    booked = course.sessions.get(status=Session.Status.BOOKED)
    done = course.sessions.get(number=1)
    signature = course.patient.consent_signatures.first()
    return {"booked": booked, "done": done, "comparison": comparison, "signature": signature}


def get_urls(alices) -> list[str]:
    urls = []
    for session in (alices["booked"], alices["done"]):
        urls += [
            reverse("portal:session", args=[session.pk]),
            reverse("portal:session_ics", args=[session.pk]),
        ]
    urls.append(reverse("portal:comparison", args=[alices["comparison"].pk]))
    urls.append(reverse("portal:consent_pdf", args=[alices["signature"].pk]))
    return urls


def post_urls(alices) -> list[str]:
    return [
        reverse(name, args=[alices["booked"].pk])
        for name in ("portal:session_cancel", "portal:session_change")
    ]


def test_bob_gets_404_for_each_of_alices_ids(client, bob, alices):
    client.force_login(bob.user)
    for url in get_urls(alices):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Smit" not in response.content and b"Alice" not in response.content
    for url in post_urls(alices):
        response = client.post(url, {"reason": "mine now", "message": "move it"})
        assert response.status_code == 404, url
    alices["booked"].refresh_from_db()
    assert alices["booked"].status == Session.Status.BOOKED
    assert mail.outbox == []
    comparison = alices["comparison"]
    refused = AuditEvent.objects.filter(
        allowed=False, object_type="portal:consent_pdf", object_id=str(alices["signature"].pk)
    )
    assert refused.exists()  # Bob's try at Alice's signed consent form is on the record
    # The staff's copy of it is for staff.
    assert (
        client.get(reverse("treatments:consent_pdf", args=[alices["signature"].pk])).status_code
        == 403
    )
    for url in (
        reverse("photos:sheet", args=[comparison.pk, "pdf"]),
        reverse("photos:image", args=[comparison.before_id, "grid"]),
        reverse("photos:image", args=[comparison.after_id, "screen"]),
    ):
        assert client.get(url).status_code == 404, url


def test_bobs_own_pages_show_nothing_of_alices(client, bob, alices):
    client.force_login(bob.user)
    for url in (reverse("portal:home"), reverse("portal:history"), reverse("portal:calendar")):
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "Microdermabrasion" not in body
        assert "Alice" not in body and "Smit" not in body
        assert f"/portal/sessions/{alices['booked'].pk}/" not in body
        assert f"/photos/{alices['comparison'].before_id}/" not in body
    assert "no treatment course" in client.get(reverse("portal:home")).content.decode()


def test_bobs_views_are_audited_under_his_own_record(client, bob, alices):
    client.force_login(bob.user)
    client.get(reverse("portal:home"))
    event = AuditEvent.objects.filter(detail="portal home").get()
    assert event.patient_id == bob.pk


def test_alice_gets_200_for_the_same_urls(client, alice, alices):
    client.force_login(alice.user)
    for url in get_urls(alices):
        if "calendar.ics" in url and str(alices["done"].pk) in url:
            continue  # a completed session has no calendar file
        assert client.get(url).status_code == 200, url


def test_staff_may_not_use_the_portal(client, front_desk_user, clinician_user, alices):
    for user in (front_desk_user, clinician_user):
        client.force_login(user)
        for url in [reverse("portal:home"), *get_urls(alices)]:
            assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_sign_in(client, alices):
    for url in [reverse("portal:home"), reverse("portal:history"), *get_urls(alices)]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    for url in post_urls(alices):
        assert client.post(url).status_code == 302


def test_patients_get_nothing_from_the_staff_api(client, alice, bob, alices):
    """The API is for staff: a patient account, Alice's own or Bob's, is refused every list and
    every one of Alice's ids."""
    booked, comparison = alices["booked"], alices["comparison"]
    urls = [
        "/api/patients/",
        f"/api/patients/{alice.pk}/",
        "/api/plans/",
        f"/api/plans/{booked.plan_id}/",
        "/api/sessions/",
        f"/api/sessions/{booked.pk}/",
        "/api/booking/sessions/",
        f"/api/booking/sessions/{booked.pk}/",
        "/api/photos/",
        f"/api/photos/{comparison.before_id}/",
        "/api/comparisons/",
        f"/api/comparisons/{comparison.pk}/",
        "/api/history/",
        "/api/screenings/",
        "/api/photo-consents/",
        "/api/consent-signatures/",
        f"/api/consent-signatures/{alices['signature'].pk}/",
        f"/api/photos/{comparison.before_id}/consent/",
    ]
    for patient in (bob, alice):
        client.force_login(patient.user)
        for url in urls:
            response = client.get(url)
            assert response.status_code in (403, 404), (patient.first_name, url)
            if patient == bob:
                assert b"Smit" not in response.content
