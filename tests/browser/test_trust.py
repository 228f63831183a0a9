"""Sign-in hardening in a real Chromium: the lockout page and the authenticator-app flow."""

from __future__ import annotations

import base64
import datetime

import pytest
from django_otp.oath import totp

from tests.browser.test_login import sign_in

pytestmark = pytest.mark.browser


def code_from(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app holding `secret` shows (steps_ahead: that many 30 s later)."""
    key = base64.b32decode(secret)
    return f"{totp(key, step=30, t0=-30 * steps_ahead, digits=6):06d}"


def test_repeated_wrong_passwords_show_the_lockout_page(page, clinician_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
    for _ in range(2):
        sign_in(page, clinician_user.username, "not-the-password")
        assert "enter a correct username and password" in page.get_by_role("alert").inner_text()
    sign_in(page, clinician_user.username, "not-the-password")
    assert page.get_by_role("heading", name="Sign-in paused").is_visible()
    assert "wait 15 minutes" in page.get_by_role("alert").inner_text()
    # The right password does not get past the lockout either.
    sign_in(page, clinician_user.username)
    assert page.get_by_role("heading", name="Sign-in paused").is_visible()
    page.goto("/clinical/")
    assert "/accounts/login/" in page.url


def test_a_clinician_sets_up_an_authenticator_and_signs_in_with_it(page, clinician_user):
    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    page.goto("/accounts/2fa/set-up/")
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr.is_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the SVG loaded under the CSP
    secret = page.get_by_test_id("otp-secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill(code_from(secret))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/clinical/")
    assert page.get_by_text("Your authenticator app is set up.").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")

    sign_in(page, clinician_user.username)
    page.wait_for_url("**/accounts/2fa/**")
    page.goto("/clinical/")  # not reachable before the code
    assert "/accounts/2fa/" in page.url
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_text("That code is not right").is_visible()
    page.wait_for_timeout(1500)  # django-otp throttles: 1 s after one wrong code
    page.get_by_label("Code from your authenticator app").fill(code_from(secret, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/clinical/")
    assert page.get_by_role("heading", name="Your day").is_visible()
    # The wrong code was answered with a 400, which Chromium reports; nothing else (no CSP error).
    assert [error for error in page.console_errors if "status of 400" not in error] == []
