"""The sign-in flow in a real Chromium, under the strict Content Security Policy."""

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_clinician_signs_in_and_out(page, clinician_user):
    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    assert page.get_by_role("heading", name="Your day").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    page.goto("/clinical/")
    assert "/accounts/login/" in page.url
    assert page.console_errors == []  # a CSP violation would show here


def test_a_wrong_password_is_explained(page, clinician_user):
    sign_in(page, clinician_user.username, "not-the-password")
    alert = page.get_by_role("alert")
    assert "enter a correct username and password" in alert.inner_text()
    assert "/accounts/login/" in page.url


def test_patient_search_updates_as_you_type(page, front_desk_user, alice, bob):
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    page.get_by_label("Name, phone or date of birth").press_sequentially("Mul", delay=30)
    result = page.locator("#patient-results").get_by_role("link", name="Mulder, Bob")
    result.wait_for()
    assert page.locator("#patient-results").get_by_text("Smit").count() == 0
    result.click()
    assert page.get_by_role("heading", name="Bob Mulder").is_visible()
    assert page.console_errors == []
