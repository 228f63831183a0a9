"""Sessions: a new key at sign-in, idle and absolute timeouts, sign-out ends it on the server."""

from __future__ import annotations

import datetime

import time_machine
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.sessions import LOGIN_AT, SEEN_AT
from tests.factories import PASSWORD

LOGIN = reverse("login")
START = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.UTC)


def sign_in(client, user):
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return response


def test_signing_in_gives_a_new_session_key(client, clinician_user):
    client.get(LOGIN)
    session = client.session
    session["before"] = "anonymous"
    session.save()
    anonymous_key = session.session_key
    client.cookies["sessionid"] = anonymous_key
    sign_in(client, clinician_user)
    assert client.cookies["sessionid"].value != anonymous_key
    assert not Session.objects.filter(session_key=anonymous_key).exists()


def test_signing_out_ends_the_session_on_the_server(client, clinician_user):
    sign_in(client, clinician_user)
    old_key = client.cookies["sessionid"].value
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=old_key).exists()
    # Replaying the old cookie does not get back in.
    client.cookies["sessionid"] = old_key
    response = client.get(reverse("clinical_home"))
    assert response.status_code == 302 and response.url.startswith(LOGIN)


def test_an_idle_session_expires(client, clinician_user, settings):
    settings.SESSION_COOKIE_AGE = 30 * 60
    with time_machine.travel(START, tick=False):
        sign_in(client, clinician_user)
    with time_machine.travel(START + datetime.timedelta(minutes=29), tick=False):
        assert client.get(reverse("clinical_home")).status_code == 200
    # Activity at minute 29 slid the expiry: still in at minute 58...
    with time_machine.travel(START + datetime.timedelta(minutes=58), tick=False):
        assert client.get(reverse("clinical_home")).status_code == 200
    # ...and out after 31 idle minutes.
    with time_machine.travel(START + datetime.timedelta(minutes=89), tick=False):
        response = client.get(reverse("clinical_home"))
    assert response.status_code == 302 and response.url.startswith(LOGIN)


def test_requests_within_the_refresh_interval_do_not_write_the_session(
    client, clinician_user, django_assert_num_queries
):
    client.force_login(clinician_user)
    seen = client.session[SEEN_AT]
    # 1 session, 2 user, 3 permissions (own, groups' and group names in one), 4 the
    # clinician's sessions of today and tomorrow (none), 5 their calendar: no session write.
    with django_assert_num_queries(5):
        client.get(reverse("clinical_home"))
    assert client.session[SEEN_AT] == seen


def test_a_busy_session_still_ends_after_the_absolute_age(client, clinician_user, settings):
    settings.SESSION_COOKIE_AGE = 60 * 60
    settings.SESSION_ABSOLUTE_AGE = 12 * 60 * 60
    with time_machine.travel(START, tick=False):
        sign_in(client, clinician_user)
        login_at = client.session[LOGIN_AT]
    for step in range(1, 15):  # a request every 50 minutes, for 11 hours 40 minutes
        with time_machine.travel(START + datetime.timedelta(minutes=50 * step), tick=False):
            assert client.get(reverse("clinical_home")).status_code == 200
    old_key = client.cookies["sessionid"].value
    with time_machine.travel(START + datetime.timedelta(hours=12, minutes=1), tick=False):
        response = client.get(reverse("clinical_home"))
        assert response.status_code == 302 and response.url.startswith(LOGIN)
        assert not Session.objects.filter(session_key=old_key).exists()
        follow = client.get(response.url)
    assert "signed out after a long session" in follow.content.decode()
    assert login_at == START.timestamp()


def test_passwords_must_be_long_and_uncommon(clinician_user):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("short1!", "password123", "1234567890123", clinician_user.username + "2026"):
        try:
            validate_password(weak, clinician_user)
        except ValidationError:
            continue
        raise AssertionError(f"{weak!r} was accepted")
    validate_password("violet-stapler-harbour", clinician_user)
