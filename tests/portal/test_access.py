"""Bob sees nothing of Alice's: every portal URL with one of her ids answers 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail, signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from people.models import DataExport
from scheduling import reminders
from tests.portal.conftest import make_course
from treatments.models import PreSessionCheck, Session


@pytest.fixture
def alices(course, comparison):
    booked = course.sessions.get(status=Session.Status.BOOKED)
    done = course.sessions.get(number=1)
    return {
        "booked": booked,
        "done": done,
        "comparison": comparison,
        "export": ready_export(course.patient),
        "signature": course.patient.consent_signatures.first(),
    }


def ready_export(patient) -> DataExport:
    """A data export of the patient's, ready to download."""
    key = default_storage.save("exports/test.zip", ContentFile(b"PK\x05\x06" + bytes(18)))
    now = timezone.now()
    return DataExport.objects.create(
        patient=patient,
        requested_by=patient.user,
        status=DataExport.Status.READY,
        storage_key=key,
        ready_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )


def get_urls(alices) -> list[str]:
    urls = []
    for session in (alices["booked"], alices["done"]):
        urls += [
            reverse("portal:session", args=[session.pk]),
            reverse("portal:session_ics", args=[session.pk]),
            reverse("portal:session_move", args=[session.pk]),
            reverse("portal:book_session", args=[session.pk]),
            reverse("portal:book") + f"?session={session.pk}",
            reverse("portal:session_check", args=[session.pk]),
        ]
    urls.append(reverse("portal:comparison", args=[alices["comparison"].pk]))
    urls.append(reverse("portal:my_data_download", args=[alices["export"].pk]))
    urls.append(reverse("portal:consent_pdf", args=[alices["signature"].pk]))
    return urls


def post_urls(alices) -> list[str]:
    return [
        reverse(name, args=[alices["booked"].pk])
        for name in (
            "portal:session_cancel",
            "portal:session_change",
            "portal:session_move",
            "portal:book_session",
            "portal:session_check",
        )
    ]


def test_bob_gets_404_for_each_of_alices_ids(client, bob, alices):
    client.force_login(bob.user)
    # A well-formed choice of a time, as the booking pages send one.
    booked = alices["booked"]
    forged = {"start": booked.starts_at.isoformat(), "practitioner": booked.practitioner_id}
    for url in get_urls(alices):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Smit" not in response.content and b"Alice" not in response.content
    for url in post_urls(alices):
        response = client.post(url, {"reason": "mine now", "message": "move it", **forged})
        assert response.status_code == 404, url
    assert not AuditEvent.objects.filter(action="download").exists()
    refused = AuditEvent.objects.filter(
        allowed=False, object_type="portal:my_data_download", object_id=str(alices["export"].pk)
    )
    assert refused.exists()  # the 404 for her export is recorded
    alices["booked"].refresh_from_db()
    assert alices["booked"].status == Session.Status.BOOKED
    assert alices["booked"].flag == Session.Flag.NONE
    assert not PreSessionCheck.objects.exists()
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
    pages = (
        "portal:home",
        "portal:history",
        "portal:calendar",
        "portal:book",
        "portal:my_data",
        "portal:intake",
    )
    for url in [reverse(name) for name in pages]:
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "Microdermabrasion" not in body
        assert "Alice" not in body and "Smit" not in body
        assert f"/portal/sessions/{alices['booked'].pk}/" not in body
        assert f"/photos/{alices['comparison'].before_id}/" not in body
    assert "no treatment course" in client.get(reverse("portal:home")).content.decode()
    assert "Book a consultation" in client.get(reverse("portal:book")).content.decode()


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
        # Her booked and completed sessions are found, and are not for booking again.
        expected = 400 if "/book/" in url else 200
        assert client.get(url).status_code == expected, url


def test_staff_may_not_use_the_portal(client, front_desk_user, clinician_user, alices):
    for user in (front_desk_user, clinician_user):
        client.force_login(user)
        for url in [reverse("portal:home"), reverse("portal:intake"), *get_urls(alices)]:
            assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_sign_in(client, alices):
    urls = [reverse("portal:home"), reverse("portal:history"), reverse("portal:intake")]
    for url in [*urls, *get_urls(alices)]:
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


def test_a_reminder_link_reaches_its_own_session_only(client, bob, alices, carla):
    """Alice's reminder link: Bob signed in gets 404, and her link with his session's id in
    it is not a link we made (400); neither touches her session or his."""
    booked = alices["booked"]
    link = reverse("reminder_link", args=[reminders.link_token(booked, "confirm", "email link")])
    client.force_login(bob.user)
    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404
    client.logout()
    data, signature = reminders.link_token(booked, "cancel", "email link").split(":", 1)
    bobs = make_course(bob, practitioner=carla).sessions.get(status=Session.Status.BOOKED)
    forged = signing.b64_encode(
        signing.JSONSerializer().dumps([bobs.pk, *reminders.booking_version(bobs), "x", "e"])
    ).decode()
    response = client.post(reverse("reminder_link", args=[f"{forged}:{signature}"]))
    assert response.status_code == 400 and b"Mulder" not in response.content
    for session in (booked, bobs):
        session.refresh_from_db()
        assert session.status == Session.Status.BOOKED


def test_patients_cannot_confirm_or_correct_answers_even_their_own(client, alice, bob, alices):
    """The questionnaire's URL has no id; the clinician's confirm and correct URLs have, and
    refuse every patient, Alice for her own answers too."""
    from treatments.models import Factor, HistoryEntry

    answer = HistoryEntry.objects.create(
        patient=alice,
        factor=Factor.objects.get(slug="anticoagulants"),
        source=HistoryEntry.Source.PATIENT,
        recorded_by=alice.user,
    )
    urls = [
        reverse("treatments:history_confirm", args=[answer.pk]),
        reverse("treatments:history_correct", args=[answer.pk]),
        reverse("treatments:intake_confirm", args=[alice.pk]),
    ]
    for patient in (bob, alice):
        client.force_login(patient.user)
        for url in urls:
            response = client.post(url, {"does_not_apply": "on", "reason": "not me"})
            assert response.status_code == 403, (patient.first_name, url)
            if patient == bob:
                assert b"Smit" not in response.content
    answer.refresh_from_db()
    assert answer.is_current and answer.confirmed_at is None
