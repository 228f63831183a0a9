"""Issue 22 in a real Chromium at phone size: Alice, signed out, opens the confirm link of her
reminder email, confirms, and the desk's day shows the session confirmed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scheduling import tasks
from scheduling.models import Booking
from tests.browser.test_login import sign_in
from tests.portal.conftest import make_course, make_practitioner

pytestmark = pytest.mark.browser

LINK = re.compile(r"Yes, I will come: https?://[^/\s]+(?P<path>/r/[^/\s]+/)")


def test_a_patient_confirms_from_the_reminder_and_the_desk_sees_it(
    phone_page, page, transactional_db, alice, clinician_user, front_desk_user, mailoutbox
):
    # Alice's session at the next 10:00 ahead, within the reminder's 24 hours (made as the desk
    # would have booked it, on whatever day of the week the test runs).
    now = timezone.localtime()
    starts = now.replace(hour=10, minute=0, second=0, microsecond=0)
    if starts <= now + dt.timedelta(minutes=5):
        starts += dt.timedelta(days=1)
    plan = make_course(
        alice, practitioner=make_practitioner(clinician_user), first=starts, count=1, done=0
    )
    session = plan.sessions.get()
    Booking.objects.create(session=session, booked_by=front_desk_user)
    assert tasks.send_due_reminders() == 1
    [reminder] = mailoutbox
    confirm = LINK.search(reminder.body).group("path")

    phone_page.goto(confirm)
    expect(phone_page.get_by_role("heading", name="Will you come?")).to_be_visible()
    assert Booking.objects.get(session=session).confirmed_at is None  # opening changes nothing
    phone_page.get_by_role("button", name="Yes, I will come").click()
    expect(phone_page.get_by_role("heading", name="Confirmed")).to_be_visible()
    expect(phone_page.get_by_text("is confirmed. See you then.")).to_be_visible()

    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    page.goto(f"/desk/?date={timezone.localdate(starts).isoformat()}")
    event = page.locator(".cal-event").filter(has_text="Alice Smit")
    expect(event).to_contain_text("Confirmed")
    assert Booking.objects.get(session=session).confirmed_via == "email link"


def test_alice_turns_on_text_reminders_from_her_phone(phone_page, transactional_db, alice):
    sign_in(phone_page, alice.user.username)
    phone_page.get_by_role("link", name="My reminders").click()
    expect(phone_page.get_by_role("heading", name="My reminders")).to_be_visible()
    phone_page.get_by_label("Also send me a text message").check()
    phone_page.get_by_role("button", name="Save").click()
    expect(phone_page.get_by_text("Your choice of reminders is saved.")).to_be_visible()
    expect(phone_page.get_by_text("You get them by text message too")).to_be_visible()
    alice.refresh_from_db()
    assert alice.sms_reminders
