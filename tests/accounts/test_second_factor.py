"""TOTP second factor: staff enrol with a real authenticator code; signing in then asks for one."""

from __future__ import annotations

import datetime

import time_machine
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from tests.factories import PASSWORD

START = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.UTC)


def code_for(device: TOTPDevice) -> str:
    """What the user's authenticator app would show right now."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def enrol(client, user) -> TOTPDevice:
    client.force_login(user)
    page = client.get(reverse("otp_enrol"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert page.context["secret"] in page.content.decode()
    assert page.context["otpauth_uri"].startswith("otpauth://totp/")
    assert page.context["qr_data_uri"].startswith("data:image/svg+xml")
    response = client.post(reverse("otp_enrol"), {"token": code_for(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def sign_in(client, user):
    client.logout()
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD})


def test_a_clinician_enrols_then_must_give_a_code_at_sign_in(client, clinician_user):
    with time_machine.travel(START, tick=False):
        device = enrol(client, clinician_user)
    with time_machine.travel(START + datetime.timedelta(minutes=5), tick=False):
        response = sign_in(client, clinician_user)
        assert response.status_code == 302
        # Signed in with the password only, every page leads to the code step.
        blocked = client.get(reverse("clinical_home"))
        assert blocked.status_code == 302
        assert blocked.url.startswith(reverse("otp_verify"))
        assert client.get(reverse("people:patient_list")).url.startswith(reverse("otp_verify"))
        wrong = client.post(blocked.url, {"token": "000000"})
        assert wrong.status_code == 400
        assert "That code is not right" in wrong.content.decode()
        # Malformed input is explained, not a crash.
        assert client.post(blocked.url, {"token": "12ab"}).status_code == 400
    with time_machine.travel(START + datetime.timedelta(minutes=6), tick=False):
        right = client.post(
            reverse("otp_verify"), {"token": code_for(device), "next": "/clinical/"}
        )
        assert right.status_code == 302 and right.url == "/clinical/"
        assert client.get(reverse("clinical_home")).status_code == 200
    refused = AuditEvent.objects.filter(detail="wrong second-factor code", allowed=False)
    assert refused.count() == 1
    assert AuditEvent.objects.filter(detail="second factor verified").count() == 2


def test_a_code_cannot_be_used_twice(client, clinician_user):
    with time_machine.travel(START, tick=False):
        device = enrol(client, clinician_user)
        code = code_for(device)
        sign_in(client, clinician_user)
        assert client.post(reverse("otp_verify"), {"token": code}).status_code == 400


def test_an_open_redirect_is_not_followed(client, clinician_user):
    with time_machine.travel(START, tick=False):
        device = enrol(client, clinician_user)
    with time_machine.travel(START + datetime.timedelta(minutes=1), tick=False):
        sign_in(client, clinician_user)
        response = client.post(
            reverse("otp_verify"), {"token": code_for(device), "next": "https://evil.example/"}
        )
    assert response.status_code == 302 and response.url == reverse("home")


def test_users_without_an_authenticator_sign_in_with_the_password(client, front_desk_user):
    response = sign_in(client, front_desk_user)
    assert client.get(response.url, follow=True).status_code == 200
    assert client.get(reverse("desk_home")).status_code == 200


def test_clinic_admins_must_enrol_when_required(client, admin_user, front_desk_user, settings):
    settings.REQUIRE_SECOND_FACTOR = True
    sign_in(client, admin_user)
    response = client.get(reverse("admin_home"))
    assert response.status_code == 302 and response.url.startswith(reverse("otp_enrol"))
    with time_machine.travel(START, tick=False):
        client.get(reverse("otp_enrol"))
        device = TOTPDevice.objects.get(user=admin_user)
        client.post(reverse("otp_enrol"), {"token": code_for(device)})
        assert client.get(reverse("admin_home")).status_code == 200
    # Other staff are not forced.
    sign_in(client, front_desk_user)
    assert client.get(reverse("desk_home")).status_code == 200


def test_every_role_that_sees_photos_or_history_must_enrol(
    client, clinician_user, front_desk_user, settings
):
    settings.REQUIRE_SECOND_FACTOR = True
    sign_in(client, clinician_user)
    response = client.get(reverse("clinical_home"))
    assert response.status_code == 302 and response.url.startswith(reverse("otp_enrol"))
    assert client.get(reverse("people:patient_list")).url.startswith(reverse("otp_enrol"))
    # The front desk sees neither photos nor medical history.
    sign_in(client, front_desk_user)
    assert client.get(reverse("desk_home")).status_code == 200


def test_the_password_alone_cannot_replace_the_authenticator(client, clinician_user):
    with time_machine.travel(START, tick=False):
        enrol(client, clinician_user)
    with time_machine.travel(START + datetime.timedelta(minutes=2), tick=False):
        sign_in(client, clinician_user)
        response = client.get(reverse("otp_enrol"))
        assert response.status_code == 302 and response.url.startswith(reverse("otp_verify"))
        client.post(reverse("otp_enrol"), {"token": "123456"})
        assert TOTPDevice.objects.filter(user=clinician_user).count() == 1
        assert client.get(reverse("clinical_home")).url.startswith(reverse("otp_verify"))


def test_a_verified_user_is_not_offered_a_second_authenticator(client, clinician_user):
    with time_machine.travel(START, tick=False):
        enrol(client, clinician_user)
        response = client.get(reverse("otp_enrol"), follow=True)
    assert "already has an authenticator app" in response.content.decode()
    assert TOTPDevice.objects.filter(user=clinician_user).count() == 1


def test_no_api_token_for_the_password_alone(client, clinician_user, front_desk_user):
    with time_machine.travel(START, tick=False):
        enrol(client, clinician_user)
    client.logout()
    url = reverse("api_token")
    refused = client.post(url, {"username": clinician_user.username, "password": PASSWORD})
    assert refused.status_code == 403
    assert "two steps" in refused.json()["detail"]
    allowed = client.post(url, {"username": front_desk_user.username, "password": PASSWORD})
    assert allowed.status_code == 200
