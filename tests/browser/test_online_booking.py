"""Online booking on a 375-pixel phone: Alice moves a session to a free time and finds it on her
home page; Bob, new and without a course, books a first consultation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.test_login import sign_in
from tests.browser.test_portal import fits_the_screen
from tests.portal.conftest import make_course, make_practitioner
from tests.scheduling.factories import RoomFactory
from treatments.models import BodyArea, Modality, Session

pytestmark = pytest.mark.browser


@pytest.fixture
def carla(clinician_user, settings):
    settings.ONLINE_BOOKING_MIN_NOTICE_HOURS = 24
    settings.ONLINE_BOOKING_DAYS_AHEAD = 60
    settings.CANCELLATION_NOTICE_HOURS = 24
    carla = make_practitioner(clinician_user)
    carla.practitioner.modalities.add(
        *Modality.objects.filter(kind__in=[Modality.Kind.MICRODERMABRASION, "consultation"])
    )
    RoomFactory(name="Room 1")
    return carla


def weekday_in(days: int) -> dt.datetime:
    """10:00 on the first weekday at least `days` days from now."""
    day = timezone.localdate() + dt.timedelta(days=days)
    while day.weekday() > 4:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(10), tzinfo=timezone.get_current_timezone())


def test_alice_moves_a_session_to_a_free_time(phone_page, alice, carla):
    page = phone_page
    plan = make_course(alice, practitioner=carla, first=timezone.now() - dt.timedelta(days=42))
    fourth = plan.sessions.get(number=4)
    booked_at = weekday_in(10)
    Session.objects.filter(pk=fourth.pk).update(
        starts_at=booked_at, ends_at=booked_at + dt.timedelta(minutes=45)
    )
    sign_in(page, "alice")
    page.wait_for_url("**/portal/")
    page.get_by_role("link", name="Move", exact=True).click()
    page.wait_for_url(f"**/portal/sessions/{fourth.pk}/move/")
    assert page.get_by_role("heading", name="Move session 4").is_visible()
    assert fits_the_screen(page)

    first_time = page.locator(".time-list a").first
    chosen = first_time.get_attribute("aria-label")  # "Monday 14 December at 09:00 with ..."
    when = chosen.split(" with ")[0]
    first_time.click()
    assert page.get_by_text(when.split(" at ")[0]).first.is_visible()
    page.get_by_role("button", name="Move my session").click()
    page.wait_for_url(f"**/portal/sessions/{fourth.pk}/")
    assert page.get_by_text("is moved for").is_visible()

    page.get_by_role("link", name="My treatment", exact=True).click()
    page.wait_for_url("**/portal/")
    assert page.locator(".portal-list .when").first.inner_text().startswith(when)
    fourth.refresh_from_db()
    assert fourth.starts_at != booked_at
    assert fits_the_screen(page)


def test_a_new_patient_books_a_consultation(phone_page, bob, carla):
    page = phone_page
    sign_in(page, "bob")
    page.wait_for_url("**/portal/")
    page.get_by_role("link", name="Book a consultation").click()
    page.wait_for_url("**/portal/book/")
    assert page.get_by_role("heading", name="Book a consultation").is_visible()
    assert fits_the_screen(page)
    page.locator(".time-list a").first.click()
    page.wait_for_url("**/portal/book/consultation/?*")

    # Without an area the page says what is missing and keeps the chosen time.
    page.get_by_role("button", name="Book this time").click()
    assert page.get_by_text("Choose the area you would like to talk about.").is_visible()
    page.get_by_label("Which area would you like to talk about?").select_option(
        label=BodyArea.objects.get(slug="face").name
    )
    page.get_by_label("Anything we should know before we meet?").fill("Acne scars on my cheeks")
    page.get_by_role("button", name="Book this time").click()
    page.wait_for_url("**/portal/sessions/*/")
    assert page.get_by_text("Your consultation is booked for").is_visible()
    session = Session.objects.get(patient=bob)
    assert session.status == Session.Status.BOOKED
    assert session.plan.notes == "Acne scars on my cheeks"
    assert fits_the_screen(page)
