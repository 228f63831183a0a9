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
START = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)


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


# --- the account's own throttle, across addresses ------------------------------------------

ADDRESSES = [f"192.0.2.{n}" for n in range(1, 41)]


def test_wrong_passwords_from_many_addresses_slow_the_account(client, clinician_user, settings):
    """40 wrong passwords from 10 addresses stay under the per-address lockout; the account's
    own throttle makes each attempt after the first ten wait, however many addresses."""
    settings.AXES_FAILURE_LIMIT = 5
    with time_machine.travel(START, tick=False):
        answers = [
            attempt(client, clinician_user.username, ip=ADDRESSES[n % 10]).status_code
            for n in range(40)
        ]
        slowed = attempt(client, clinician_user.username, ip=ADDRESSES[20])
    assert answers[:10] == [200] * 10  # the first ten are judged as usual
    assert set(answers[10:]) == {429}  # then: wait, whichever address asks
    assert slowed.status_code == 429
    assert "Too many wrong passwords for this account" in slowed.content.decode()
    assert int(slowed["Retry-After"]) >= 1


def test_the_wait_grows_and_the_right_password_waits_too(client, clinician_user, settings):
    settings.AXES_FAILURE_LIMIT = 100
    with time_machine.travel(START, tick=False) as clock:
        for n in range(10):
            attempt(client, clinician_user.username, ip=ADDRESSES[n])
        # Refused while the wait runs, even with the right password: the throttle never
        # says whether a password was right.
        assert attempt(client, clinician_user.username, PASSWORD, ADDRESSES[11]).status_code == 429
        waits = []
        for n in range(4):
            wait = int(attempt(client, clinician_user.username, ip=ADDRESSES[12])["Retry-After"])
            waits.append(wait)
            clock.shift(wait)
            assert attempt(client, clinician_user.username, ip=ADDRESSES[13 + n]).status_code == 200
        assert waits == sorted(waits) and waits[-1] > waits[0]  # each wrong one waits longer
        clock.shift(3600)
        # After the wait the right password gets in, from any address, and clears the count.
        assert attempt(client, clinician_user.username, PASSWORD, ADDRESSES[30]).status_code == 302
        client.logout()
        assert attempt(client, clinician_user.username, ip=ADDRESSES[31]).status_code == 200


def test_the_wait_is_capped_so_the_owner_is_slowed_not_locked(client, clinician_user, settings):
    settings.AXES_FAILURE_LIMIT = 1000
    with time_machine.travel(START, tick=False) as clock:
        for n in range(60):
            response = attempt(client, clinician_user.username, ip=ADDRESSES[n % 40])
            if response.status_code == 429:
                clock.shift(int(response["Retry-After"]))
        wait = int(attempt(client, clinician_user.username, ip=ADDRESSES[0])["Retry-After"])
        assert wait <= settings.ACCOUNT_THROTTLE_MAX_WAIT_SECONDS
        clock.shift(wait)
        assert attempt(client, clinician_user.username, PASSWORD, ADDRESSES[1]).status_code == 302


def test_an_unknown_username_is_slowed_the_same(client, clinician_user):
    with time_machine.travel(START, tick=False):
        for n in range(10):
            attempt(client, clinician_user.username, ip=ADDRESSES[n])
            attempt(client, "no-such-person", ip=ADDRESSES[n])
        known = attempt(client, clinician_user.username, ip=ADDRESSES[20])
        unknown = attempt(client, "no-such-person", ip=ADDRESSES[20])
    assert known.status_code == unknown.status_code == 429
    assert _page(known) == _page(unknown)
    assert known["Retry-After"] == unknown["Retry-After"]


def test_the_api_token_endpoint_is_slowed_too(client, clinician_user):
    url = reverse("api_token")
    with time_machine.travel(START, tick=False):
        for n in range(10):
            client.post(
                url,
                {"username": clinician_user.username, "password": "nope-nope-1"},
                REMOTE_ADDR=ADDRESSES[n],
            )
        slowed = client.post(
            url,
            {"username": clinician_user.username, "password": PASSWORD},
            REMOTE_ADDR=ADDRESSES[20],
        )
    assert slowed.status_code == 429
    assert "Too many wrong passwords for this account" in slowed.json()["detail"]
    assert "token" not in slowed.json()


# --- password reset -------------------------------------------------------------------------


def test_password_reset_requests_are_rate_limited(client, clinician_user):
    url = reverse("password_reset")
    answers = [
        client.post(url, {"email": clinician_user.email}, REMOTE_ADDR=ADDRESSES[n]).status_code
        for n in range(20)
    ]
    assert answers.count(302) == 3 and set(answers[3:]) == {429}
    assert len(mail.outbox) == 3
    limited = client.post(url, {"email": clinician_user.email})
    assert "Too many password reset requests" in limited.content.decode()


def test_password_reset_from_one_address_is_rate_limited(client, clinician_user):
    url = reverse("password_reset")
    answers = [
        client.post(url, {"email": f"someone{n}@example.com"}, REMOTE_ADDR="203.0.113.7")
        for n in range(20)
    ]
    assert [a.status_code for a in answers].count(302) == 10
    # Another address is not held up by it.
    other = client.post(url, {"email": clinician_user.email}, REMOTE_ADDR="198.51.100.4")
    assert other.status_code == 302


def test_the_reset_limit_looks_the_same_for_unknown_emails(client, clinician_user):
    url = reverse("password_reset")
    for _ in range(4):
        known = client.post(url, {"email": clinician_user.email})
        unknown = client.post(url, {"email": "nobody@example.com"}, REMOTE_ADDR="198.51.100.9")
    assert known.status_code == unknown.status_code == 429
    assert _page(known) == _page(unknown)
