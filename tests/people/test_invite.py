"""Staff invite a patient to the portal; the emailed link sets a password once, then lapses."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from people.services import patient_invite
from tests.factories import PatientFactory

NEW_PASSWORD = "violet-stapler-harbour"


def invite_link() -> str:
    (message,) = mail.outbox
    match = re.search(r"https?://[^/\s]+(/accounts/invite/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def invite_from_the_record_page(client, user, patient, django_capture_on_commit_callbacks):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("people:patient_invite", args=[patient.pk]), follow=True)
    assert response.status_code == 200
    client.logout()
    return response


def choose_password(client, link: str):
    landing = client.get(link)
    assert landing.status_code == 302  # Django moves the token out of the URL into the session
    form_page = client.get(landing.url)
    return form_page, client.post(
        landing.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )


def test_front_desk_invites_and_the_patient_lands_on_the_portal(
    client, front_desk_user, django_capture_on_commit_callbacks
):
    patient = PatientFactory(first_name="Noor", last_name="Bakker", email="noor@example.com")
    response = invite_from_the_record_page(
        client, front_desk_user, patient, django_capture_on_commit_callbacks
    )
    assert "The invitation was emailed to the patient." in response.content.decode()
    patient.refresh_from_db()
    user = patient.user
    assert user.email == user.username == "noor@example.com"
    assert not user.has_usable_password()
    assert user.has_perm("people.use_portal")
    assert mail.outbox[0].to == ["noor@example.com"]
    event = AuditEvent.objects.get(action="invite")
    assert (event.actor, event.patient_id) == (front_desk_user, patient.pk)
    assert "noor" not in event.detail.lower()

    form_page, done = choose_password(client, invite_link())
    assert "Welcome to your patient portal" in form_page.content.decode()
    assert done.status_code == 302
    # The new patient's first step: the health questionnaire before the first visit.
    assert done.url == reverse("portal:intake")
    portal = client.get(done.url)
    assert portal.status_code == 200
    assert "Your health questionnaire" in portal.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_the_link_works_only_once(client, front_desk_user, django_capture_on_commit_callbacks):
    patient = PatientFactory(email="once@example.com")
    invite_from_the_record_page(
        client, front_desk_user, patient, django_capture_on_commit_callbacks
    )
    link = invite_link()
    choose_password(client, link)
    client.logout()
    again = client.get(link, follow=True)
    page = again.content.decode()
    assert "This invitation link no longer works" in page
    assert "new_password1" not in page


def test_an_expired_link_fails(
    client, front_desk_user, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_TIMEOUT = 3 * 24 * 60 * 60
    patient = PatientFactory(email="late@example.com")
    sent = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(sent, tick=False):
        invite_from_the_record_page(
            client, front_desk_user, patient, django_capture_on_commit_callbacks
        )
    link = invite_link()
    with time_machine.travel(sent + datetime.timedelta(days=3, hours=1), tick=False):
        page = client.get(link, follow=True).content.decode()
    assert "This invitation link no longer works" in page


def test_a_password_reset_token_is_not_an_invite_token(alice, client):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(alice.user.pk))
    token = default_token_generator.make_token(alice.user)
    page = client.get(reverse("invite_accept", args=[uid, token]), follow=True)
    assert "This invitation link no longer works" in page.content.decode()


def test_an_invitation_needs_an_email_and_no_account_yet(front_desk_user, alice):
    without_email = PatientFactory(email="")
    with pytest.raises(ValidationError, match="Add the patient's email address"):
        patient_invite(patient=without_email, by=front_desk_user)
    with pytest.raises(ValidationError, match="already has a portal account"):
        patient_invite(patient=alice, by=front_desk_user)
    twin = PatientFactory(email=alice.user.username)
    with pytest.raises(ValidationError, match="Another account already uses"):
        patient_invite(patient=twin, by=front_desk_user)
    assert without_email.user is None and twin.user is None
    assert mail.outbox == []


def test_refusals_are_shown_on_the_record_page(client, front_desk_user, alice):
    client.force_login(front_desk_user)
    response = client.post(reverse("people:patient_invite", args=[alice.pk]), follow=True)
    assert "This patient already has a portal account." in response.content.decode()


def test_resending_a_pending_invitation_keeps_one_account(
    front_desk_user, django_capture_on_commit_callbacks
):
    patient = PatientFactory(email="twice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        patient_invite(patient=patient, by=front_desk_user)
        patient_invite(patient=patient, by=front_desk_user)
    patient.refresh_from_db()
    assert len(mail.outbox) == 2
    assert patient.user.username == "twice@example.com"


def test_only_front_desk_and_admins_invite(client, clinician_user, alice, bob, admin_user):
    patient = PatientFactory(email="someone@example.com")
    url = reverse("people:patient_invite", args=[patient.pk])
    for user in (clinician_user, alice.user):
        client.force_login(user)
        assert client.post(url).status_code == 403
    client.force_login(admin_user)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302


def test_the_record_page_offers_the_invitation(client, front_desk_user, alice):
    client.force_login(front_desk_user)
    patient = PatientFactory(email="new@example.com")
    assert "Invite to the portal" in client.get(patient.get_absolute_url()).content.decode()
    assert "Invite to the portal" not in client.get(alice.get_absolute_url()).content.decode()


def test_a_resent_invitation_follows_a_changed_address(
    front_desk_user, django_capture_on_commit_callbacks
):
    patient = PatientFactory(email="old@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        patient_invite(patient=patient, by=front_desk_user)
    patient.email = "New@Example.com"
    patient.save()
    with django_capture_on_commit_callbacks(execute=True):
        patient_invite(patient=patient, by=front_desk_user)
    patient.refresh_from_db()
    assert patient.user.username == patient.user.email == "new@example.com"
    assert [message.to for message in mail.outbox] == [["old@example.com"], ["new@example.com"]]


def test_no_email_once_the_password_is_chosen(alice):
    from people.tasks import send_patient_invite

    assert send_patient_invite(alice.pk) is False
    assert mail.outbox == []


def test_the_chart_offers_the_invitation_until_the_patient_sets_a_password(
    client, front_desk_user, django_capture_on_commit_callbacks
):
    """The chart keeps the patient's head and card with its drawn part; the invitation form
    (it holds the viewer's CSRF token) is drawn for each request, so it follows the account."""
    patient = PatientFactory(email="new@example.com", first_name="Nadia")
    with django_capture_on_commit_callbacks(execute=True):
        patient_invite(patient=patient, by=front_desk_user)
    patient.refresh_from_db()
    client.force_login(front_desk_user)
    chart = reverse("treatments:chart", args=[patient.pk])
    html = client.get(chart).content.decode()
    assert "Nadia" in html and "invited" in html
    assert "Send the portal invitation again" in html
    assert 'name="csrfmiddlewaretoken"' in html
    patient.user.set_password(NEW_PASSWORD)
    patient.user.save()
    html = client.get(chart).content.decode()
    assert "Nadia" in html and "invited" in html
    assert "Send the portal invitation again" not in html
