"""API tokens expire, and end when what they were issued on changes.

A token is issued on a password (and a second factor for those who have one), for an account
with its roles. When the password changes, a role is taken away or given, the account is
closed or a second factor is set up, every token issued before no longer opens anything.
"""

from __future__ import annotations

import datetime

import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from people.roles import Role, assign_role
from tests.accounts.test_second_factor import code_for, enrol
from tests.factories import PASSWORD

START = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.UTC)
TOKEN_URL = reverse("api_token")


def take_token(client, user, **extra) -> str:
    response = client.post(TOKEN_URL, {"username": user.username, "password": PASSWORD, **extra})
    assert response.status_code == 200, response.content
    return response.json()["token"]


def reads_history(client, token: str, patient) -> int:
    """What a token holder gets for a patient's record (medical history lives there)."""
    return client.get(
        f"/api/patients/{patient.pk}/", headers={"Authorization": f"Token {token}"}
    ).status_code


def test_a_token_tells_its_expiry_and_expires(client, clinician_user, bob, settings):
    with time_machine.travel(START, tick=False):
        response = client.post(
            TOKEN_URL, {"username": clinician_user.username, "password": PASSWORD}
        )
        assert response.status_code == 200
        token = response.json()["token"]
        assert response.json()["expiry"]
        assert reads_history(client, token, bob) == 200
    with time_machine.travel(START + datetime.timedelta(hours=9, minutes=59), tick=False):
        assert reads_history(client, token, bob) == 200
    with time_machine.travel(START + datetime.timedelta(hours=10, minutes=1), tick=False):
        assert reads_history(client, token, bob) == 401


def test_a_password_change_ends_every_token(client, clinician_user, bob):
    first, second = take_token(client, clinician_user), take_token(client, clinician_user)
    clinician_user.set_password("a-new-long-password-42")
    clinician_user.save()
    assert reads_history(client, first, bob) == 401
    assert reads_history(client, second, bob) == 401


def test_taking_a_role_away_ends_every_token(client, clinician_user, bob):
    token = take_token(client, clinician_user)
    clinician_user.groups.remove(Group.objects.get(name=Role.CLINICIAN.value))
    assert reads_history(client, token, bob) == 401


def test_giving_a_role_ends_every_token_too(client, front_desk_user, bob):
    """A token is for the access it was issued with; new access asks for a new token."""
    token = take_token(client, front_desk_user)
    assign_role(front_desk_user, Role.CLINICIAN)
    assert reads_history(client, token, bob) == 401


def test_closing_the_account_ends_every_token_for_good(client, clinician_user, bob):
    token = take_token(client, clinician_user)
    clinician_user.is_active = False
    clinician_user.save()
    assert reads_history(client, token, bob) == 401
    clinician_user.is_active = True
    clinician_user.save()
    assert reads_history(client, token, bob) == 401


def test_signing_in_elsewhere_keeps_the_token(client, clinician_user, bob):
    """Saving the account for its last sign-in is no reason to end its tokens."""
    token = take_token(client, clinician_user)
    client.post(reverse("login"), {"username": clinician_user.username, "password": PASSWORD})
    assert reads_history(client, token, bob) == 200


def test_setting_up_a_second_factor_ends_tokens_taken_before(client, clinician_user, bob):
    token = take_token(client, clinician_user)
    with time_machine.travel(START, tick=False):
        enrol(client, clinician_user)
    assert reads_history(client, token, bob) == 401


def test_with_a_second_factor_the_token_needs_a_code(client, clinician_user, bob):
    with time_machine.travel(START, tick=False):
        device = enrol(client, clinician_user)
    client.logout()
    with time_machine.travel(START + datetime.timedelta(minutes=3), tick=False):
        asked = client.post(TOKEN_URL, {"username": clinician_user.username, "password": PASSWORD})
        assert asked.status_code == 403
        assert "otp" in asked.json()["detail"]
        wrong = client.post(
            TOKEN_URL,
            {"username": clinician_user.username, "password": PASSWORD, "otp": "000000"},
        )
        assert wrong.status_code == 403
        assert "not right" in wrong.json()["detail"]
    with time_machine.travel(START + datetime.timedelta(minutes=4), tick=False):
        device.refresh_from_db()
        token = take_token(client, clinician_user, otp=code_for(device))
        assert reads_history(client, token, bob) == 200
    with time_machine.travel(START + datetime.timedelta(minutes=5), tick=False):
        # A second token, with the next code, leaves the first one working.
        device.refresh_from_db()
        take_token(client, clinician_user, otp=code_for(device))
        assert reads_history(client, token, bob) == 200


def test_a_wrong_password_with_a_right_code_gets_nothing(client, clinician_user):
    with time_machine.travel(START, tick=False):
        device = enrol(client, clinician_user)
    client.logout()
    with time_machine.travel(START + datetime.timedelta(minutes=3), tick=False):
        refused = client.post(
            TOKEN_URL,
            {"username": clinician_user.username, "password": "wrong", "otp": code_for(device)},
        )
    assert refused.status_code == 400
    assert TOTPDevice.objects.get(user=clinician_user).last_t == device.last_t  # code unspent


def test_staff_who_must_enrol_get_no_token_before_they_have(client, admin_user, settings):
    settings.REQUIRE_SECOND_FACTOR = True
    refused = client.post(TOKEN_URL, {"username": admin_user.username, "password": PASSWORD})
    assert refused.status_code == 403
    assert "set up" in refused.json()["detail"]


def test_signing_out_ends_the_token(client, clinician_user, bob):
    token = take_token(client, clinician_user)
    other = take_token(client, clinician_user)
    response = client.post(reverse("api_token_logout"), headers={"Authorization": f"Token {token}"})
    assert response.status_code == 204
    assert reads_history(client, token, bob) == 401
    assert reads_history(client, other, bob) == 200
