"""The front desk in a real Chromium: book a course, move one session, cancel another."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

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


@pytest.fixture
def course(transactional_db, clinician_user, alice):
    micro = ModalityFactory(kind="microdermabrasion", buffer_minutes=15)
    DepthLevelFactory(modality=micro, session_minutes=45)
    RoomFactory(name="Room 1")
    PractitionerFactory(user=clinician_user, modalities=[micro])
    return PlanFactory(patient=alice, modality=micro, session_count=3, interval_days=14)


def local(session: Session) -> dt.datetime:
    session.refresh_from_db()
    return timezone.localtime(session.starts_at)


def test_book_a_course_move_one_cancel_another(page, front_desk_user, course):
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")

    page.goto(f"/desk/plans/{course.pk}/book/")
    page.get_by_role("button", name="Book these sessions").click()
    page.wait_for_url("**/desk/?date=*")
    assert page.get_by_text("3 sessions booked for Alice Smit").is_visible()
    first, second, third = course.sessions.order_by("number")
    grid = page.locator("#day-grid")
    assert grid.get_by_role("link", name=f"{local(first):%H:%M} Alice Smit").is_visible()

    # Day navigation swaps only the calendar (htmx) and keeps the URL in step.
    grid.get_by_role("link", name="Next day →").click()
    next_day = local(first).date() + dt.timedelta(days=1)
    expect(grid.locator("h2")).to_have_text(date_format(next_day, "l j F Y"))
    assert f"date={next_day:%Y-%m-%d}" in page.url
    grid.get_by_role("link", name="← Previous day").click()
    expect(grid.get_by_role("link", name=f"{local(first):%H:%M} Alice Smit")).to_be_visible()

    # Move session 2 one working day later, at 11:00.
    new_day = local(second).date() + dt.timedelta(days=1)
    while new_day.weekday() >= 5:
        new_day += dt.timedelta(days=1)
    page.goto(f"/desk/sessions/{second.pk}/")
    page.get_by_label("Date and time").fill(f"{new_day:%Y-%m-%d}T11:00")
    page.get_by_role("button", name="Move session").click()
    page.wait_for_url(f"**/desk/?date={new_day:%Y-%m-%d}")
    assert page.get_by_text("Session moved to").is_visible()
    assert grid.get_by_role("link", name="11:00 Alice Smit").is_visible()
    assert local(second).hour == 11

    # Cancel session 3; its day no longer shows it and the time is free again.
    third_start = local(third)
    page.goto(f"/desk/sessions/{third.pk}/")
    page.get_by_label("Patient", exact=True).check()
    page.get_by_label("Reason").fill("Going abroad")
    page.get_by_role("button", name="Cancel session").click()
    # Asked once more, with what it means, before anything is cancelled.
    page.get_by_role("heading", name="Cancel session 3 of").wait_for()
    page.get_by_role("button", name="Yes, cancel the session").click()
    page.wait_for_url(f"**/desk/?date={third_start:%Y-%m-%d}")
    assert page.get_by_text("Session 3 was cancelled.").is_visible()
    assert grid.get_by_role("link", name=f"{third_start:%H:%M} Alice Smit").count() == 0
    free = grid.get_by_role("link", name=f"Book {third_start:%H:%M} with")
    assert free.is_visible()

    # Clicking the free slot starts a booking there; finding Alice offers her next session.
    free.click()
    page.get_by_label("Patient: name, phone").press_sequentially("Smit", delay=30)
    page.get_by_role("button", name="Book session 3 here").click()
    page.wait_for_url(f"**/desk/?date={third_start:%Y-%m-%d}")
    assert grid.get_by_role("link", name=f"{third_start:%H:%M} Alice Smit").is_visible()
    third.refresh_from_db()
    assert third.status == "booked"
    assert page.console_errors == []
