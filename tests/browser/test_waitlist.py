"""Issue 20 in a real Chromium: Alice asks for an earlier time in the portal, the desk cancels
another patient's session, and Alice, signed out, books the freed time from the emailed link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scheduling import services
from tests.browser.test_login import sign_in
from tests.scheduling.factories import (
    DepthLevelFactory,
    ModalityFactory,
    PlanFactory,
    PractitionerFactory,
    RoomFactory,
)
from treatments.models import Session

pytestmark = pytest.mark.browser

LINK = re.compile(r"https?://[^/\s]+(?P<path>/waitlist/[^/\s]+/)")


def weekday_after(day: dt.date, days: int) -> dt.date:
    day += dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def at_ten(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def clinic_week(transactional_db, clinician_user, front_desk_user, alice, bob):
    """Bob booked at 10:00 in two working days; Alice's session 1 at 10:00 two weeks later."""
    micro = ModalityFactory(kind="microdermabrasion", buffer_minutes=15)
    DepthLevelFactory(modality=micro, session_minutes=45)
    RoomFactory(name="Room 1")
    carla = PractitionerFactory(user=clinician_user, modalities=[micro])
    soon = weekday_after(timezone.localdate(), 2)
    later = weekday_after(soon, 14)
    booked = {}
    for patient, day in ((bob, soon), (alice, later)):
        session = PlanFactory(patient=patient, modality=micro).sessions.get(number=1)
        booked[patient.first_name] = services.session_book(
            session=session,
            starts_at=at_ten(day),
            practitioner_user_id=carla.user_id,
            by=front_desk_user,
            notify=False,
        )
    return booked["Alice"], booked["Bob"], soon


def test_an_offer_accepted_from_the_email_link_after_a_cancellation(
    page, clinic_week, front_desk_user, alice, mailoutbox
):
    alices, bobs, soon = clinic_week

    # Alice asks for an earlier time from her session's page, then signs out.
    sign_in(page, "alice")
    page.wait_for_url("**/portal/")
    page.goto(f"/portal/sessions/{alices.pk}/")
    page.get_by_text("Ask for an earlier time").click()
    page.get_by_label("Mornings (before noon)").check()
    page.get_by_role("button", name="Put me on the waiting list").click()
    expect(page.get_by_text("You are on the waiting list for an earlier time")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")

    # The desk cancels Bob's session; the freed time goes to Alice, as the waiting list shows.
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    page.goto(f"/desk/sessions/{bobs.pk}/")
    page.get_by_label("Patient", exact=True).check()
    page.get_by_label("Reason").fill("Flu")
    page.get_by_role("button", name="Cancel session").click()
    page.get_by_role("button", name="Yes, cancel the session").click()
    expect(page.get_by_text("Session 1 was cancelled.")).to_be_visible()
    page.get_by_role("link", name="Waiting list").first.click()
    row = page.get_by_role("row").filter(has_text="Alice Smit").first
    expect(row).to_contain_text("Sent")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")

    # Alice, signed out, opens the link in her email and takes the time.
    [offer] = [m for m in mailoutbox if m.subject.startswith("A time has come free")]
    assert offer.to == [alice.email]
    page.goto(LINK.search(offer.body).group("path"))
    expect(page.get_by_role("heading", name="A time has come free")).to_be_visible()
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name="Booked")).to_be_visible()
    expect(page.get_by_text("your session is now booked for")).to_be_visible()

    alices = Session.objects.get(pk=alices.pk)
    assert alices.status == "booked" and alices.starts_at == at_ten(soon)
    # Opened again, the link books nothing more and says so.
    page.goto(LINK.search(offer.body).group("path"))
    expect(page.get_by_text("You have already taken this time")).to_be_visible()
    assert Session.objects.filter(starts_at=at_ten(soon), status="booked").count() == 1
    assert page.console_errors == []
