"""The public sign-up: an inactive account until the emailed link is opened, the same answer
whether or not the person is on file, and no second record of anyone."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from accounts.models import PendingSignup
from audit.models import AuditEvent
from people.models import Patient
from tests.factories import PatientFactory

PASSWORD = "violet-stapler-harbour"
User = get_user_model()


def details(**changes) -> dict:
    return {
        "first_name": "Noor",
        "last_name": "Bakker",
        "date_of_birth": "1991-05-17",
        "email": "Noor.Bakker@example.com",
        "phone": "06 1234 5678",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **changes,
    }


@pytest.fixture
def sign_up(db, client, committed):
    def post(**changes):
        with committed():
            return client.post(reverse("signup"), details(**changes))

    return post


def link_in(message) -> str:
    match = re.search(r"https?://[^/\s]+(/portal/signup/verify/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def sign_in(client, email="noor.bakker@example.com", password=PASSWORD):
    return client.post(reverse("login"), {"username": email, "password": password})


def test_the_login_page_leads_to_sign_up(client):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("signup")}"' in page
    assert client.get(reverse("signup")).status_code == 200


def test_sign_up_makes_an_inactive_account_and_emails_the_link(client, sign_up, db):
    response = sign_up()
    assert response.status_code == 302 and response.url == reverse("signup_sent")
    assert "Check your email" in client.get(response.url).content.decode()
    patient = Patient.objects.select_related("user").get()
    user = patient.user
    assert (patient.first_name, patient.phone_e164, patient.email) == (
        "Noor",
        "+31612345678",
        "noor.bakker@example.com",
    )
    assert user.username == "noor.bakker@example.com" and not user.is_active
    assert user.check_password(PASSWORD) and user.groups.filter(name="Patient").exists()
    assert PendingSignup.objects.filter(user=user).exists()
    (message,) = mail.outbox
    assert message.to == ["noor.bakker@example.com"]
    event = AuditEvent.objects.get(detail="signed up in the portal; email not verified yet")
    assert (event.actor, event.patient_id) == (None, patient.pk)
    # Until the link is opened, the right password does not open the portal.
    refused = sign_in(client)
    assert refused.status_code == 200 and "_auth_user_id" not in client.session


def test_the_link_opens_the_account_once_and_leads_to_the_questionnaire(client, sign_up):
    sign_up()
    link = link_in(mail.outbox[0])
    landing = client.get(link)
    assert landing.status_code == 200 and "Confirm my email address" in landing.content.decode()
    assert not User.objects.get().is_active  # a GET (a mail scanner) changes nothing
    done = client.post(link)
    assert done.status_code == 200
    page = done.content.decode()
    assert "Your email address is confirmed" in page
    assert f"{reverse('login')}?next=%2Fportal%2Fintake%2F" in page
    user = User.objects.get()
    assert user.is_active and not PendingSignup.objects.exists()
    event = AuditEvent.objects.get(detail="portal sign-up: email verified, account open")
    assert (event.actor, event.patient_id) == (user, Patient.objects.get().pk)

    again = client.post(link)
    assert again.status_code == 400 and "This link no longer works" in again.content.decode()
    signed_in = client.post(
        f"{reverse('login')}?next=/portal/intake/",
        {"username": user.email, "password": PASSWORD, "next": "/portal/intake/"},
    )
    assert signed_in.status_code == 302 and signed_in.url == reverse("portal:intake")
    assert "Your health questionnaire" in client.get(signed_in.url).content.decode()


def test_an_expired_or_forged_link_opens_nothing(client, sign_up, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3 * 24 * 60 * 60
    sent = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(sent, tick=False):
        sign_up()
    link = link_in(mail.outbox[0])
    with time_machine.travel(sent + datetime.timedelta(days=3, hours=1), tick=False):
        assert client.post(link).status_code == 400
    forged = re.sub(r"/[^/]+/$", "/abc-123/", link)
    assert client.post(forged).status_code == 400
    assert client.get(reverse("signup_verify", args=["zz", "abc"])).status_code == 400
    assert not User.objects.get().is_active


def test_a_login_switched_off_by_staff_is_not_reopened_by_a_link(client, sign_up, alice):
    """Only a sign-up waiting for its link is opened by one."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from people.tokens import signup_token_generator

    alice.user.is_active = False
    alice.user.save()
    uid = urlsafe_base64_encode(force_bytes(alice.user.pk))
    for token in (
        signup_token_generator.make_token(alice.user),
        default_token_generator.make_token(alice.user),
    ):
        assert client.post(reverse("signup_verify", args=[uid, token])).status_code == 400
    alice.user.refresh_from_db()
    assert not alice.user.is_active


@pytest.mark.parametrize(
    "same",
    [
        {"email": "someone.else@example.com", "phone": "0201234999"},  # name and birthday
        {"first_name": "N.", "email": "other@example.com"},  # the phone number
        {"first_name": "Nora", "phone": "0201234999"},  # the email address
    ],
)
def test_a_sign_up_matching_a_patient_on_file_makes_nothing_and_says_the_same(
    client, sign_up, same
):
    on_file = PatientFactory(
        first_name="Noor",
        last_name="Bakker",
        date_of_birth=datetime.date(1991, 5, 17),
        email="noor.bakker@example.com",
        phone="+31 6 1234 5678",
    )
    response = sign_up(**same)
    assert response.status_code == 302 and response.url == reverse("signup_sent")
    assert list(Patient.objects.all()) == [on_file]
    assert not User.objects.exists()
    # The hint goes to the address the clinic holds, never to the one typed.
    (message,) = mail.outbox
    assert message.to == ["noor.bakker@example.com"]
    assert "/portal/signup/verify/" not in message.body
    assert "ask us for an invitation" in message.body
    event = AuditEvent.objects.get(patient_id=on_file.pk)
    assert not event.allowed and "matched this record" in event.detail


def test_a_patient_with_an_account_is_told_how_to_sign_in(sign_up, alice):
    sign_up(email=alice.user.email, first_name="Someone")
    (message,) = mail.outbox
    assert message.to == [alice.user.email]
    assert "/accounts/login/" in message.body and "/accounts/password_reset/" in message.body
    assert Patient.objects.count() == 1


def test_a_staff_address_makes_nothing(sign_up, clinician_user):
    clinician_user.email = "carla@clinic.example"
    clinician_user.username = "carla@clinic.example"
    clinician_user.save()
    sign_up(email="Carla@clinic.example")
    assert not Patient.objects.exists()
    assert [m.to for m in mail.outbox] == [["carla@clinic.example"]]


def test_a_second_sign_up_before_verifying_replaces_the_first(client, sign_up):
    """Whoever signs up first with someone else's address keeps no way in: the owner's later
    sign-up replaces the details and the password, and the first link stops working."""
    sign_up(
        first_name="Mallory",
        phone="0201234999",
        password1="first-Password-9",
        password2="first-Password-9",
    )
    first_link = link_in(mail.outbox[0])
    sign_up()
    patient = Patient.objects.select_related("user").get()
    assert patient.first_name == "Noor" and patient.user.check_password(PASSWORD)
    assert client.post(first_link).status_code == 400
    assert client.post(link_in(mail.outbox[1])).status_code == 200
    assert User.objects.get().is_active


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
        ({"phone": "12"}, "phone", "Give a phone number"),
        ({"password1": "1234567890", "password2": "1234567890"}, "password1", "numeric"),
        ({"password2": "something-else-1"}, "password2", "The two passwords differ"),
        ({"email": "not an address"}, "email", "valid email"),
        ({"first_name": ""}, "first_name", "required"),
    ],
)
def test_wrong_details_answer_400_with_the_reason_and_keep_what_was_typed(
    client, sign_up, changes, field, message
):
    response = sign_up(**changes)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert 'value="Bakker"' in response.content.decode()
    assert not Patient.objects.exists() and mail.outbox == []


def test_sign_up_is_throttled_per_address_like_a_password_reset(sign_up, settings):
    settings.SIGNUP_PER_EMAIL = 2
    assert sign_up().status_code == 302
    assert sign_up().status_code == 302
    paused = sign_up()
    assert paused.status_code == 429 and paused["Retry-After"] == "3600"
    assert "Sign-up paused" in paused.content.decode()
    assert len(mail.outbox) == 2


def test_a_sign_up_nobody_verifies_is_removed_after_its_days(sign_up, settings):
    """The typed name, birth date, phone and address of a sign-up never verified are not kept
    for ever: SIGNUP_UNVERIFIED_DAYS after it (its link long expired), the daily task removes
    the inactive account and the record; the audit trail says so, with no name. A younger
    one and a verified one stay, and the address can sign up again."""
    from accounts.tasks import remove_unverified_signups

    settings.SIGNUP_UNVERIFIED_DAYS = 14
    start = datetime.datetime(2026, 11, 1, 9, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        sign_up()
    with time_machine.travel(start + datetime.timedelta(days=13), tick=False):
        sign_up(email="later@example.com", first_name="Lena", phone="0201234567")
        sign_up(email="kept@example.com", first_name="Kees", phone="0201234568")
    kept = User.objects.get(email="kept@example.com")
    PendingSignup.objects.filter(user=kept).delete()  # verified
    kept.is_active = True
    kept.save()
    noor = Patient.objects.get(first_name="Noor")
    with time_machine.travel(start + datetime.timedelta(days=14, hours=1), tick=False):
        assert remove_unverified_signups.apply().get() == 1
    assert not Patient.all_records.filter(pk=noor.pk).exists()
    assert not User.objects.filter(email="noor.bakker@example.com").exists()
    assert set(Patient.objects.values_list("first_name", flat=True)) == {"Lena", "Kees"}
    event = AuditEvent.objects.get(patient_id=noor.pk, action="delete")
    assert "never verified" in event.detail and "Noor" not in event.detail
    mail.outbox.clear()
    sign_up()
    assert link_in(mail.outbox[0])


def test_an_unverified_sign_up_the_clinic_has_used_is_kept(sign_up, settings, clinician_user):
    """A clinician wrote into the new patient's history before they opened the link: the
    record is the clinic's now, so it stays (and so does the login waiting for its link)."""
    from accounts.tasks import remove_unverified_signups
    from treatments.models import Factor, HistoryEntry

    settings.SIGNUP_UNVERIFIED_DAYS = 14
    start = datetime.datetime(2026, 11, 1, 9, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        sign_up()
    noor = Patient.objects.get()
    HistoryEntry.objects.create(
        patient=noor, factor=Factor.objects.first(), recorded_by=clinician_user
    )
    with time_machine.travel(start + datetime.timedelta(days=30), tick=False):
        assert remove_unverified_signups.apply().get() == 0
    assert Patient.objects.filter(pk=noor.pk).exists()
    assert PendingSignup.objects.filter(user=noor.user).exists()


def test_an_unverified_sign_up_the_desk_wrote_on_or_switched_on_is_kept(
    sign_up, settings, front_desk_user, client
):
    """The desk called Noor and wrote a note on her record (no booking yet); an admin switched
    Lena's account on by hand and she signed in. Both are the clinic's now and stay, and one
    kept does not stop Kees's, untouched, from going."""
    from accounts.tasks import remove_unverified_signups
    from people.services import patient_update

    settings.SIGNUP_UNVERIFIED_DAYS = 14
    start = datetime.datetime(2026, 11, 1, 9, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        sign_up()
        sign_up(email="lena@example.com", first_name="Lena", phone="0201234567")
        sign_up(email="kees@example.com", first_name="Kees", phone="0201234568")
    with time_machine.travel(start + datetime.timedelta(days=2), tick=False):
        patient_update(
            patient=Patient.objects.get(first_name="Noor"),
            by=front_desk_user,
            notes="Called: wants a laser consultation; allergic to lidocaine.",
        )
        User.objects.filter(email="lena@example.com").update(is_active=True)
        client.force_login(User.objects.get(email="lena@example.com"))
        client.get(reverse("portal:home"))
    with time_machine.travel(start + datetime.timedelta(days=15), tick=False):
        assert remove_unverified_signups.apply().get() == 1
    assert set(Patient.objects.values_list("first_name", flat=True)) == {"Noor", "Lena"}
    assert User.objects.filter(email="lena@example.com", is_active=True).exists()
