"""Issue 22, reminders patients answer: the reminder email's confirm, cancel and move links.

A link is signed for one session, one action and the booking as it was; it works without
signing in, expires, does nothing on GET, and can't be replayed once the session changed.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from scheduling import notifications, reminders, services
from scheduling.models import Booking, ChangeRequest
from tests.scheduling import conftest as scheduling
from tests.scheduling.conftest import NOW, at, book
from tests.scheduling.factories import PlanFactory
from tests.services import AUDIT_WRITES
from treatments.models import Session

# The booking tests' small clinic, on their frozen Monday morning.
clinic = scheduling.clinic
frozen = scheduling.frozen

LINK = re.compile(r"https?://[^/\s]+(?P<path>/r/[^/\s]+/)")


@pytest.fixture
def booked(clinic, front_desk_user):
    """Alice's session 1 on Wednesday 4 March at 10:00: 50 hours ahead, outside the notice."""
    return book(clinic, clinic.sessions[0], at(4, 10), front_desk_user)


def path(session, action, channel=reminders.EMAIL) -> str:
    return reverse("reminder_link", args=[reminders.link_token(session, action, channel)])


def booking(session) -> Booking:
    return Booking.objects.get(session=session)


def test_the_reminder_email_carries_a_link_for_each_answer(booked, mailoutbox, client):
    assert notifications.send_reminder(booked)
    [email] = mailoutbox
    links = [match.group("path") for match in LINK.finditer(email.body)]
    assert len(links) == 3 and len(set(links)) == 3
    headings = [client.get(link).content.decode() for link in links]
    assert "Will you come?" in headings[0]
    assert "Cancel your session?" in headings[1]
    assert "Another time?" in headings[2]


def test_get_never_confirms_or_cancels(client, booked):
    for action in (reminders.CONFIRM, reminders.CANCEL, reminders.MOVE):
        response = client.get(path(booked, action))
        assert response.status_code == 200
        assert client.head(path(booked, action)).status_code == 200
    booked.refresh_from_db()
    assert booked.status == Session.Status.BOOKED
    assert booking(booked).confirmed_at is None
    assert not ChangeRequest.objects.exists()


def test_confirm_records_it_once_with_the_patient_as_actor(client, booked, alice, frozen):
    response = client.post(path(booked, reminders.CONFIRM, reminders.SMS))
    assert response.status_code == 200
    assert "is confirmed" in response.content.decode()
    row = booking(booked)
    assert row.confirmed_at == NOW
    assert row.confirmed_via == "sms link"
    [event] = AuditEvent.objects.filter(detail__startswith="attendance confirmed")
    assert event.actor_id == alice.user_id and event.patient_id == alice.pk
    assert event.detail == "attendance confirmed by the patient (sms link)"
    # Again: the page says so, and nothing more is written.
    again = client.post(path(booked, reminders.CONFIRM, reminders.SMS))
    assert again.status_code == 200
    assert booking(booked).confirmed_at == row.confirmed_at
    assert AuditEvent.objects.filter(detail__startswith="attendance confirmed").count() == 1
    assert (
        "You confirmed this session" in client.get(path(booked, reminders.CONFIRM)).content.decode()
    )


def test_a_link_works_for_a_patient_without_an_account(client, clinic, front_desk_user):
    session = PlanFactory(modality=clinic.micro).sessions.get(number=1)
    session = book(clinic, session, at(4, 11), front_desk_user)
    assert session.patient.user_id is None
    assert client.post(path(session, reminders.CONFIRM)).status_code == 200
    assert booking(session).confirmed_at is not None
    event = AuditEvent.objects.get(detail__startswith="attendance confirmed")
    assert event.actor_id is None and event.patient_id == session.patient_id
    # Moving needs the portal: without an account the page says to call.
    response = client.post(path(session, reminders.MOVE))
    assert response.status_code == 400 and "Please call us" in response.content.decode()


def test_cancel_goes_through_the_portals_cancellation(client, booked, mailoutbox, alice, committed):
    with committed():
        response = client.post(path(booked, reminders.CANCEL), {"reason": "A cold"})
    assert response.status_code == 200
    assert "is cancelled" in response.content.decode()
    booked.refresh_from_db()
    assert booked.status == Session.Status.CANCELLED
    row = booking(booked)
    assert row.cancelled_by == Booking.CancelledBy.PATIENT and row.cancel_reason == "A cold"
    # The desk's inbox hears of it as of a portal cancellation, and the patient is told.
    request = ChangeRequest.objects.get(session=booked)
    assert request.kind == ChangeRequest.Kind.CANCEL and request.is_open
    assert any(m.subject.startswith("Cancelled: your session") for m in mailoutbox)
    assert AuditEvent.objects.filter(
        detail="cancelled by the patient (email link)", actor=alice.user, patient_id=alice.pk
    ).exists()
    # The same link again: the session is cancelled, nothing more happens.
    again = client.post(path(booked, reminders.CANCEL))
    assert again.status_code == 409 and "is cancelled" in again.content.decode()


def test_inside_the_notice_period_the_cancel_page_says_to_call(
    client,
    clinic,
    front_desk_user,
    settings,
):
    soon = book(clinic, clinic.sessions[0], at(2, 15), front_desk_user)  # 7 hours ahead
    page = client.get(path(soon, reminders.CANCEL)).content.decode()
    assert settings.CLINIC_PHONE in page and "Cancel my session" not in page
    response = client.post(path(soon, reminders.CANCEL))
    assert response.status_code == 400 and settings.CLINIC_PHONE in response.content.decode()
    soon.refresh_from_db()
    assert soon.status == Session.Status.BOOKED
    # Confirming is still welcome.
    assert client.post(path(soon, reminders.CONFIRM)).status_code == 200


def test_move_leads_to_the_portals_free_times_for_that_session(client, booked):
    response = client.post(path(booked, reminders.MOVE))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:session_move", args=[booked.pk])
    booked.refresh_from_db()
    assert booked.status == Session.Status.BOOKED


def test_a_tampered_link_gets_a_clear_400_and_changes_nothing(client, booked, bob, clinic):
    token = reminders.link_token(booked, reminders.CONFIRM, reminders.EMAIL)
    cut = client.post(reverse("reminder_link", args=[token[:-3]]))
    assert cut.status_code == 400 and "part of it is missing" in cut.content.decode()
    # Bob's session id put in Alice's link's data, with her signature: not ours.
    bobs = book(
        clinic,
        PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1),
        at(4, 11),
        clinic.carla.user,
    )
    data, signature = token.split(":", 1)
    forged_data = signing.b64_encode(
        signing.JSONSerializer().dumps([bobs.pk, *reminders.booking_version(bobs), "c", "e"])
    ).decode()
    forged = client.post(reverse("reminder_link", args=[f"{forged_data}:{signature}"]))
    assert forged.status_code == 400
    assert "Mulder" not in forged.content.decode()
    # A link signed for another purpose (the waiting list's salt) is not a reminder link.
    other = signing.dumps([booked.pk, *reminders.booking_version(booked), "c", "e"], salt="x")
    assert client.post(reverse("reminder_link", args=[other])).status_code == 400
    assert booking(bobs).confirmed_at is None and booking(booked).confirmed_at is None
    refused = AuditEvent.objects.filter(allowed=False, object_type="reminder link")
    assert refused.count() == 3


def test_a_link_is_for_its_own_action_only(client, booked):
    """The confirm link's data with the cancel letter is a forgery: the action is signed."""
    token = reminders.link_token(booked, reminders.CONFIRM, reminders.EMAIL)
    data = signing.loads(token, salt=reminders.SIGNING_SALT)
    assert data[3] == "c"
    data_part, rest = token.split(":", 1)
    swapped = signing.b64_encode(signing.JSONSerializer().dumps([*data[:3], "x", "e"])).decode()
    response = client.post(reverse("reminder_link", args=[f"{swapped}:{rest}"]))
    assert response.status_code == 400
    booked.refresh_from_db()
    assert booked.status == Session.Status.BOOKED


def test_an_expired_link_says_so(client, booked, frozen, settings):
    settings.REMINDER_LINK_HOURS = 1
    link = path(booked, reminders.CONFIRM)
    frozen.shift(dt.timedelta(hours=2))
    response = client.post(link)
    assert response.status_code == 410
    body = response.content.decode()
    assert "This link has expired" in body and "Microdermabrasion" not in body
    assert booking(booked).confirmed_at is None


def test_a_link_cannot_be_replayed_after_the_session_moved(
    client,
    booked,
    clinic,
    front_desk_user,
):
    confirm, cancel = path(booked, reminders.CONFIRM), path(booked, reminders.CANCEL)
    assert client.post(confirm).status_code == 200
    services.session_reschedule(session=booked, starts_at=at(4, 14), by=front_desk_user)
    # The move clears the confirmation: it was for the old time.
    assert booking(booked).confirmed_at is None
    for link in (confirm, cancel):
        response = client.post(link)
        assert response.status_code == 409
        assert "earlier booking of your session" in response.content.decode()
    booked.refresh_from_db()
    assert booked.status == Session.Status.BOOKED and booking(booked).confirmed_at is None
    # A fresh link for the new time works.
    assert client.post(path(booked, reminders.CONFIRM)).status_code == 200


def test_a_link_does_nothing_once_the_session_has_begun(client, booked, frozen):
    link = path(booked, reminders.CONFIRM)
    frozen.move_to(at(4, 10, 5))
    response = client.post(link)
    assert response.status_code == 409 and "has begun" in response.content.decode()


def test_bob_signed_in_cannot_use_alices_link(client, booked, bob):
    client.force_login(bob.user)
    for method in (client.get, client.post):
        assert method(path(booked, reminders.CONFIRM)).status_code == 404
    assert booking(booked).confirmed_at is None


def test_opening_a_link_is_audited_as_the_patients_look(client, booked, alice):
    client.get(path(booked, reminders.CANCEL, reminders.SMS))
    event = AuditEvent.objects.get(detail="reminder sms link: cancel")
    assert event.action == "view" and event.allowed
    assert event.actor_id == alice.user_id and event.patient_id == alice.pk


def test_the_desk_sees_the_confirmation_on_its_day_list_and_calendar(
    client, clinic, front_desk_user, django_assert_num_queries
):
    today = book(clinic, clinic.sessions[0], at(2, 15), front_desk_user)
    desk = Client()
    desk.force_login(front_desk_user)
    assert "confirmed" not in desk.get("/desk/today/").content.decode()
    assert client.post(path(today, reminders.CONFIRM)).status_code == 200
    # As many queries as without a confirmation (tests/scheduling/test_pages.py: the signed
    # consents are one of them since consent forms): the booking is joined.
    with django_assert_num_queries(6 + AUDIT_WRITES):
        listed = desk.get("/desk/today/").content.decode()
    assert "· confirmed" in listed
    assert "cal-confirmed" in desk.get("/desk/?date=2026-03-02").content.decode()
    page = desk.get(reverse("scheduling:session", args=[today.pk])).content.decode()
    assert "by the patient 2 Mar 08:00 (email link)" in page


def test_a_link_page_costs_one_read_and_the_audit(client, booked, django_assert_num_queries):
    link = path(booked, reminders.CONFIRM)
    # 1 the session with its patient, account, course, modality, booking and practitioner,
    # 2 the patient's roles for the audit event, and the look audited. Signed out: no
    # session or user of the request to load.
    with django_assert_num_queries(2 + AUDIT_WRITES):
        assert client.get(link).status_code == 200


def test_the_desk_records_the_agreement_to_text_reminders(client, front_desk_user, alice):
    client.force_login(front_desk_user)
    url = reverse("people:patient_edit", args=[alice.pk])
    fields = {
        "first_name": alice.first_name,
        "last_name": alice.last_name,
        "date_of_birth": alice.date_of_birth.isoformat(),
        "email": alice.email,
        "sms_reminders": "on",
    }
    refused = client.post(url, {**fields, "phone": ""})
    assert refused.status_code == 400
    assert "Give a phone number to send the text reminders to." in refused.content.decode()
    assert client.post(url, {**fields, "phone": "06 1234 5678"}).status_code == 302
    alice.refresh_from_db()
    assert alice.sms_reminders and alice.phone_e164 == "+31612345678"
    assert AuditEvent.objects.filter(
        patient_id=alice.pk, action="change", detail__contains="sms_reminders"
    ).exists()
