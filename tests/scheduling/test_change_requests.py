"""A patient's request to move or cancel a session, from the portal to the desk and back.

Before the inbox a change request was only emailed: nothing was stored, the desk's session page
showed nothing, and the portal forgot it after a reload. Alice's course (tests/portal/conftest):
session 4 booked on Monday 23 March 2026 at 10:00 with Carla; today is Tuesday 10 March.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from scheduling import services
from scheduling.models import ChangeRequest
from tests.portal.conftest import AMS, NOW, make_course, make_practitioner
from tests.scheduling.factories import RoomFactory
from treatments.models import Session

MOVED_TO = dt.datetime(2026, 3, 24, 11, 0, tzinfo=AMS)


@pytest.fixture
def course(time_machine, alice, clinician_user):
    time_machine.move_to(NOW, tick=False)
    plan = make_course(alice, practitioner=make_practitioner(clinician_user))
    clinician_user.practitioner.modalities.add(plan.modality)
    RoomFactory(name="Room 1")
    return plan


@pytest.fixture
def session(course) -> Session:
    return course.sessions.get(status=Session.Status.BOOKED)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice.user)
    return client


@pytest.fixture
def desk(front_desk_user) -> Client:
    client = Client()
    client.force_login(front_desk_user)
    return client


def ask(client, session, message="Any Friday afternoon, please.", times=("friday",)):
    return client.post(
        reverse("portal:session_change", args=[session.pk]),
        {"message": message, "preferred_times": list(times)},
    )


def portal_page(client, session) -> str:
    response = client.get(reverse("portal:session", args=[session.pk]))
    assert response.status_code == 200
    return response.content.decode()


def desk_page(client, session) -> str:
    response = client.get(reverse("scheduling:session", args=[session.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_request_is_stored(alice_client, alice, session, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(alice_client, session, times=("friday", "mornings"))
    assert response.status_code == 302
    request = ChangeRequest.objects.get()
    assert (request.session, request.patient, request.kind, request.state) == (
        session,
        alice,
        "change",
        "new",
    )
    assert request.message == "Any Friday afternoon, please."
    assert request.preferred_times == ["mornings", "friday"]
    assert request.session_starts_at == session.starts_at
    # Still emailed to the desk, with the times and where to handle it.
    (email,) = mail.outbox
    assert "Preferred: Mornings, Fridays" in email.body
    assert reverse("scheduling:session", args=[session.pk]) in email.body


def test_the_portal_shows_the_pending_request_after_a_reload(alice_client, session):
    ask(alice_client, session)
    html = portal_page(alice_client, session)
    assert "Waiting for the clinic" in html
    assert "Any Friday afternoon, please." in html
    assert "Times that suit you: Fridays" in html
    assert "Withdraw my request" in html
    assert "Send my request" not in html  # one open request per session


def test_a_second_open_request_is_refused_with_a_reason(alice_client, session):
    ask(alice_client, session)
    response = ask(alice_client, session, message="Or a Saturday?")
    assert response.status_code == 400
    assert "You have already asked us about this session" in response.content.decode()
    assert ChangeRequest.objects.count() == 1


def test_the_database_holds_one_open_request_per_session(alice, session):
    ChangeRequest.objects.create(session=session, patient=alice, kind="change", message="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeRequest.objects.create(session=session, patient=alice, kind="change", message="b")


def test_alice_withdraws_her_request_and_may_ask_again(alice_client, session):
    ask(alice_client, session)
    response = alice_client.post(reverse("portal:request_withdraw", args=[session.pk]))
    assert response.status_code == 302
    assert ChangeRequest.objects.get().state == "withdrawn"
    html = portal_page(alice_client, session)
    assert "Withdrawn" in html and "Send my request" in html
    assert ask(alice_client, session, message="Thursday then").status_code == 302
    assert ChangeRequest.objects.open().get().message == "Thursday then"
    again = alice_client.post(reverse("portal:request_withdraw", args=[session.pk]))
    assert again.status_code == 302
    nothing = alice_client.post(reverse("portal:request_withdraw", args=[session.pk]))
    assert nothing.status_code == 400
    assert "no open request" in nothing.content.decode()


def test_bob_cannot_see_or_withdraw_alices_request(bob, alice_client, session):
    ask(alice_client, session)
    bobs = Client()
    bobs.force_login(bob.user)
    assert bobs.post(reverse("portal:request_withdraw", args=[session.pk])).status_code == 404
    assert bobs.get(reverse("portal:session", args=[session.pk])).status_code == 404
    assert ChangeRequest.objects.get().state == "new"


def test_the_desk_session_page_shows_the_request_with_its_actions(alice_client, desk, session):
    ask(alice_client, session)
    html = desk_page(desk, session)
    assert "The patient asks to move this session" in html
    assert "Any Friday afternoon, please." in html
    assert "Times that suit them: <strong>Fridays</strong>" in html
    assert 'href="#move"' in html and 'id="move"' in html
    assert 'href="#cancel"' in html
    assert "Decline with this note" in html


def test_moving_the_session_handles_the_request_and_tells_the_patient(
    alice_client, desk, front_desk_user, session, django_capture_on_commit_callbacks
):
    ask(alice_client, session)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(
            reverse("scheduling:session_move", args=[session.pk]),
            {"starts_at": "2026-03-24T11:00", "practitioner": session.practitioner_id},
        )
    assert response.status_code == 302, response.content.decode()
    request = ChangeRequest.objects.get()
    assert (request.state, request.outcome, request.handled_by) == (
        "handled",
        "moved",
        front_desk_user,
    )
    assert request.handled_at == NOW
    (email,) = mail.outbox
    assert email.to == [session.patient.email] and "Your session has moved" in email.subject
    html = portal_page(alice_client, session)
    assert "Handled: your session has a new time" in html
    assert "Tuesday 24 March at 11:00" in html
    assert "Withdraw my request" not in html
    # The desk page lists it among the earlier requests, with who handled it.
    assert f"moved by {front_desk_user.get_full_name()}" in desk_page(desk, session)


def test_declining_needs_a_note_which_the_patient_is_emailed(
    alice_client, desk, front_desk_user, session, django_capture_on_commit_callbacks
):
    ask(alice_client, session)
    mail.outbox.clear()
    url = reverse("scheduling:request_handle", args=[session.pk])
    refused = desk.post(url, {"note": "  "})
    assert refused.status_code == 400
    assert "Write a note for the patient" in refused.content.decode()
    assert ChangeRequest.objects.get().state == "new"
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(url, {"note": "Fridays are full until April; Thursday 26 at 14:00?"})
    assert response.status_code == 302
    request = ChangeRequest.objects.get()
    assert (request.state, request.outcome, request.handled_by) == (
        "handled",
        "declined",
        front_desk_user,
    )
    (email,) = mail.outbox
    assert email.to == [session.patient.email]
    assert "Fridays are full until April" in email.body
    assert "we cannot move your microdermabrasion session" in email.body
    session.refresh_from_db()
    assert session.status == "booked"  # declining leaves the booking as it was
    html = portal_page(alice_client, session)
    assert "Handled: we could not move it" in html and "Fridays are full until April" in html
    event = AuditEvent.objects.filter(object_id=str(session.pk), action="change").latest("id")
    assert event.actor_id == front_desk_user.pk
    assert event.detail == "change request handled: declined"
    # Handled once: a second answer is refused with who answered.
    again = desk.post(url, {"note": "again"})
    assert again.status_code == 400
    assert "no open request" in again.content.decode()


def test_cancelling_from_the_desk_handles_the_request(alice_client, desk, front_desk_user, session):
    ask(alice_client, session)
    response = desk.post(
        reverse("scheduling:session_cancel", args=[session.pk]),
        {"cancelled_by": "patient", "reason": "Asked by phone", "confirmed": "yes"},
    )
    assert response.status_code == 302
    request = ChangeRequest.objects.get()
    assert (request.state, request.outcome, request.handled_by) == (
        "handled",
        "cancelled",
        front_desk_user,
    )
    assert "Handled: cancelled" in portal_page(alice_client, session)


def test_a_portal_cancellation_reaches_the_desk(
    alice_client, desk, front_desk_user, session, settings, django_capture_on_commit_callbacks
):
    settings.CLINIC_EMAIL = "desk@clinic.example"
    ask(alice_client, session)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            reverse("portal:session_cancel", args=[session.pk]), {"reason": "Ill this week"}
        )
    withdrawn, cancellation = ChangeRequest.objects.order_by("pk")
    assert withdrawn.state == "withdrawn"  # her change request is superseded, not "handled"
    assert (cancellation.kind, cancellation.state, cancellation.message) == (
        "cancel",
        "new",
        "Ill this week",
    )
    desk_emails = [m for m in mail.outbox if m.to == ["desk@clinic.example"]]
    assert [m.subject for m in desk_emails][-1].startswith("Cancelled in the portal")
    mine = portal_page(alice_client, session)
    assert "Your cancellation" in mine and "We will contact you to book a new date" in mine
    assert "Withdraw my request" not in mine
    html = desk_page(desk, session)
    assert "The patient cancelled in the portal" in html and "Find a new time" in html
    # The desk marks it handled once it has offered a new date; no note, no second email.
    mail.outbox.clear()
    response = desk.post(reverse("scheduling:request_handle", args=[session.pk]), {"note": ""})
    assert response.status_code == 302
    cancellation.refresh_from_db()
    assert (cancellation.state, cancellation.outcome, cancellation.handled_by) == (
        "handled",
        "cancelled",
        front_desk_user,
    )
    assert mail.outbox == []


def test_booking_a_cancelled_session_again_answers_its_cancellation(
    alice_client, front_desk_user, session
):
    alice_client.post(reverse("portal:session_cancel", args=[session.pk]), {"reason": ""})
    services.session_book(
        session=session,
        starts_at=MOVED_TO,
        practitioner_user_id=session.practitioner_id,
        by=front_desk_user,
        notify=False,
    )
    request = ChangeRequest.objects.get()
    assert (request.state, request.outcome, request.handled_by) == (
        "handled",
        "moved",
        front_desk_user,
    )


def test_the_service_refuses_what_the_page_cannot_send(alice, session, front_desk_user):
    with pytest.raises(ValidationError, match="Tell us which days"):
        services.change_request_create(session=session, kind="change", by=alice.user)
    with pytest.raises(ValidationError, match="Choose preferred times"):
        services.change_request_create(
            session=session, kind="change", preferred_times=["midnight"], by=alice.user
        )
    with pytest.raises(ValidationError, match="move or is cancelled"):
        services.change_request_create(session=session, kind="other", message="x", by=alice.user)
    request = services.change_request_create(
        session=session, kind="change", message="x", by=alice.user
    )
    services.change_request_handle(change_request=request, note="No room", by=front_desk_user)
    with pytest.raises(ValidationError, match="already handled by"):
        services.change_request_handle(change_request=request, note="x", by=front_desk_user)
    with pytest.raises(ValidationError, match="already handled by"):
        services.change_request_withdraw(change_request=request, by=alice.user)
