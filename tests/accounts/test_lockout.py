"""Sign-in lockout (django-axes) by username and address, and answers that reveal no accounts."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD

LOGIN = reverse("login")


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)


def _page(response) -> str:
    """The page without its per-response tokens (CSP nonce, CSRF token)."""
    text = response.content.decode()
    text = re.sub(r'nonce="[^"]*"', "", text)
    return re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]*"', "", text)


def attempt(client, username, password="wrong-password-1", ip="203.0.113.9"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_wrong_passwords_lock_the_username_from_that_address(client, clinician_user):
    for _ in range(2):
        assert attempt(client, clinician_user.username).status_code == 200
    locked = attempt(client, clinician_user.username)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in paused" in page
    assert "wait 15 minutes" in page
    # Now even the right password is refused from that address...
    assert attempt(client, clinician_user.username, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    # ...while the same user from another address, and another user from this one, get in.
    assert attempt(client, clinician_user.username, PASSWORD, ip="198.51.100.4").status_code == 302
    client.logout()


def test_the_lockout_lifts_after_the_cool_off(client, clinician_user):
    start = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            attempt(client, clinician_user.username)
        assert attempt(client, clinician_user.username, PASSWORD).status_code == 429
    with time_machine.travel(start + datetime.timedelta(minutes=16), tick=False):
        assert attempt(client, clinician_user.username, PASSWORD).status_code == 302


def test_a_lockout_looks_the_same_for_an_unknown_username(client, clinician_user):
    for _ in range(3):
        known = attempt(client, clinician_user.username)
        unknown = attempt(client, "no-such-person")
    assert known.status_code == unknown.status_code == 429
    assert _page(known) == _page(unknown)
    assert clinician_user.username not in known.content.decode()


def test_wrong_password_and_unknown_account_get_the_same_answer(client, clinician_user):
    known = attempt(client, clinician_user.username)
    unknown = attempt(client, "no-such-person")
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()
    assert "enter a correct username and password" in str(known.context["form"].errors)


def test_password_reset_answers_the_same_for_unknown_emails(client, clinician_user):
    url = reverse("password_reset")
    known = client.post(url, {"email": clinician_user.email})
    unknown = client.post(url, {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url
    assert _page(client.get(known.url)) == _page(client.get(unknown.url))
    assert [message.to for message in mail.outbox] == [[clinician_user.email]]


def test_the_api_token_endpoint_is_locked_out_too(client, clinician_user):
    url = reverse("api_token")

    def token(username, password, ip="203.0.113.9"):
        return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)

    assert token(clinician_user.username, "nope-nope-1").status_code == 400
    assert token(clinician_user.username, "nope-nope-1").status_code == 400
    assert token(clinician_user.username, "nope-nope-1").status_code == 429
    refused = token(clinician_user.username, PASSWORD)
    assert refused.status_code == 429
    assert "token" not in refused.json()
    for _ in range(3):
        unknown = token("no-such-person", "nope-nope-1")
    assert unknown.status_code == 429 and unknown.json() == refused.json()
    allowed = token(clinician_user.username, PASSWORD, ip="198.51.100.4")
    assert allowed.status_code == 200 and allowed.json()["token"]
