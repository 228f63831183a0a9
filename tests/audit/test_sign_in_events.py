"""Sign-in, sign-out and failed sign-in are audited, with the client's address."""

from __future__ import annotations

from django.test import override_settings
from django.urls import reverse

from audit.ip import client_ip
from audit.models import AuditEvent
from tests.factories import PASSWORD


def _sign_in(client, username, password=PASSWORD, **extra):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="203.0.113.7"
    )


def test_sign_in_and_out_are_recorded(client, clinician_user):
    _sign_in(client, clinician_user.username)
    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.7")
    login, logout = AuditEvent.objects.order_by("id")
    assert (login.action, login.allowed, login.actor, login.ip_address) == (
        "login",
        True,
        clinician_user,
        "203.0.113.7",
    )
    assert login.actor_role == "Clinician"
    assert (logout.action, logout.actor) == ("logout", clinician_user)


def test_a_failed_sign_in_is_recorded_as_refused_without_the_password(client, clinician_user):
    _sign_in(client, clinician_user.username, "wrong-password-123")
    _sign_in(client, "nobody-by-this-name", "wrong-password-123")
    known, unknown = AuditEvent.objects.order_by("id")
    assert (known.action, known.allowed, known.actor) == ("login", False, None)
    assert known.object_id == str(clinician_user.pk)
    assert unknown.object_id == ""
    assert unknown.detail == "failed sign-in for an unknown account"
    for event in (known, unknown):
        assert "wrong-password" not in event.detail
        assert "nobody" not in event.detail
        assert event.ip_address == "203.0.113.7"


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert client_ip(request) == "10.0.0.2"
    with override_settings(TRUSTED_PROXIES=["10.0.0.2"]):
        assert client_ip(request) == "198.51.100.1"
        spoofed = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1")
        # The right-most address not added by a trusted proxy: the spoofed first hop is ignored.
        assert client_ip(spoofed) == "198.51.100.1"
    assert client_ip(rf.get("/", REMOTE_ADDR="not an address")) is None


def test_a_patients_sign_in_is_filed_under_their_record(client, alice):
    _sign_in(client, alice.user.username)
    client.post(reverse("logout"))
    assert list(AuditEvent.objects.values_list("action", "patient_id")) == [
        ("logout", alice.pk),
        ("login", alice.pk),
    ]
