"""A clinician's day in Chromium: from the home list to a recorded session, performed by the
colleague who stepped in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scheduling.models import Booking
from tests.browser.test_login import sign_in
from tests.factories import StaffFactory
from tests.scheduling.factories import PlanFactory, PractitionerFactory
from treatments.models import Session

pytestmark = pytest.mark.browser


def test_a_clinicians_day_from_the_list_to_a_recorded_session(page, clinician_user, alice):
    clinician_user.first_name, clinician_user.last_name = "Carla", "Jansen"
    clinician_user.save()
    PractitionerFactory(user=clinician_user)
    StaffFactory(username="daan", first_name="Daan", last_name="Bakker", role="Clinician")
    # Alice is booked with Carla a few minutes from now (the booking browser test walks that).
    session = PlanFactory(patient=alice, session_count=2).sessions.get(number=1)
    starts = timezone.now().replace(second=0, microsecond=0)
    Session.objects.filter(pk=session.pk).update(
        status=Session.Status.BOOKED,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        practitioner=clinician_user,
    )
    Booking.objects.create(session=session)

    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    today = page.get_by_role("region", name="Today")
    row = today.get_by_role("row").filter(has_text="Alice Smit")
    expect(row).to_contain_text("Not screened")
    expect(page.get_by_label("Calendar link")).to_have_value(
        f"{page.url.split('/clinical/')[0]}/calendar/{clinician_user.practitioner.calendar_token}.ics"
    )

    row.get_by_role("button", name="Check in").click()
    page.wait_for_url("**/clinical/")
    row = page.get_by_role("region", name="Today").get_by_role("row").filter(has_text="Alice")
    expect(row).to_contain_text("Checked in")
    row.get_by_role("link", name="Pre-session check").click()
    page.get_by_role("button", name="Screen the patient").click()
    page.get_by_role("heading", name="Screening: Clear").wait_for()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clinical").click()
    row = page.get_by_role("region", name="Today").get_by_role("row").filter(has_text="Alice")
    expect(row).to_contain_text("Clear")
    row.get_by_role("link", name="Record").click()
    expect(page.get_by_label("Performed by")).to_have_value(str(clinician_user.pk))
    page.get_by_label("Performed by").select_option(label="Daan Bakker")  # Daan stepped in
    page.get_by_label("Products").fill("Diamond tip")
    page.get_by_role("button", name="Record and complete").click()
    expect(page.get_by_text("The session was recorded")).to_be_visible()
    expect(page.get_by_text("Daan Bakker")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clinical").click()
    row = page.get_by_role("region", name="Today").get_by_role("row").filter(has_text="Alice")
    expect(row).to_contain_text("Done")
    session.refresh_from_db()
    assert session.status == Session.Status.COMPLETED
    assert session.performed_by.username == "daan"
