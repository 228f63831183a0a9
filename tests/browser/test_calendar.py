"""The desk's calendar in a real Chromium: a session dragged to another practitioner's column
moves; dragged to a time the booking rule refuses, the reason shows where it was dropped and
nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scheduling import services
from tests.browser.test_login import sign_in
from tests.factories import StaffFactory
from tests.scheduling.factories import (
    DepthLevelFactory,
    ModalityFactory,
    PlanFactory,
    PractitionerFactory,
    RoomFactory,
)
from treatments.models import Session

pytestmark = pytest.mark.browser


def next_working_day() -> dt.date:
    day = timezone.localdate() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture
def clinic_day(transactional_db, clinician_user, front_desk_user, alice, bob):
    """Tomorrow (a working day): Alice with Carla at 10:00, Bob with Carla at 14:00; Daan free."""
    micro = ModalityFactory(kind="microdermabrasion", buffer_minutes=15)
    level = DepthLevelFactory(modality=micro, session_minutes=45)
    RoomFactory(name="Room 1")
    RoomFactory(name="Room 2")
    carla = PractitionerFactory(user=clinician_user, modalities=[micro])
    daan = PractitionerFactory(
        user=StaffFactory(first_name="Daan", last_name="Bakker", username="daan"),
        modalities=[micro],
    )
    day = next_working_day()
    tz = timezone.get_current_timezone()
    booked = []
    for patient, hour in ((alice, 10), (bob, 14)):
        session = PlanFactory(patient=patient, modality=micro, session_count=1).sessions.get()
        booked.append(
            services.session_book(
                session=session,
                starts_at=dt.datetime.combine(day, dt.time(hour), tzinfo=tz),
                practitioner_user_id=carla.user_id,
                by=front_desk_user,
                notify=False,
            )
        )
    return day, level, carla, daan, booked[0]


def test_drag_a_session_to_another_practitioner_then_to_a_refused_time(
    page, front_desk_user, clinic_day
):
    day, level, carla, daan, alices = clinic_day
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    # Tall enough for the working day: a drag does not scroll the page on its way.
    page.set_viewport_size({"width": 1280, "height": 1600})
    page.goto(f"/desk/?date={day}&treatment={level.pk}")
    grid = page.locator("#day-grid")
    session = grid.locator(f'[data-session="{alices.pk}"]')
    expect(session).to_contain_text("10:00 Alice Smit")

    # To Daan's column at 11:00: moved through the booking service, the calendar redrawn.
    target = grid.locator(f'td[data-start="{day}T11:00"][data-practitioner="{daan.user_id}"]')
    session.drag_to(target)
    expect(grid.get_by_text("Session moved to")).to_contain_text("with Daan Bakker")
    moved = grid.locator(f'[data-session="{alices.pk}"]')
    expect(moved).to_contain_text("11:00 Alice Smit")
    alices.refresh_from_db()
    assert alices.practitioner_id == daan.user_id
    assert timezone.localtime(alices.starts_at).time() == dt.time(11)
    # It stands in Daan's column.
    column = grid.locator("thead th").filter(has_text="Daan Bakker")
    assert abs(moved.bounding_box()["x"] - column.bounding_box()["x"]) < 10

    # To Carla at 14:45, in the cleaning buffer after Bob's 14:00 session: refused, the reason
    # shown where it was dropped, nothing moved.
    refused = grid.locator(f'td[data-start="{day}T14:45"][data-practitioner="{carla.user_id}"]')
    expect(refused).to_have_class("cal-open")  # working, but no start fits there
    moved.drag_to(refused)
    alert = grid.locator(".cal-refusal")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("This session cannot move there")
    expect(alert).to_contain_text("already has a session at that time")
    # The box stands by the cell it was dropped on.
    assert abs(alert.bounding_box()["y"] - refused.bounding_box()["y"]) < 80
    alices.refresh_from_db()
    assert alices.practitioner_id == daan.user_id
    assert timezone.localtime(alices.starts_at).time() == dt.time(11)
    assert alices.status == Session.Status.BOOKED
    expect(grid.locator(f'[data-session="{alices.pk}"]')).to_contain_text("11:00 Alice Smit")
    expect(grid.get_by_text("Session moved to")).to_have_count(0)  # the last success is gone
    # The refusal is a 400, which Chromium notes in the console; nothing else went wrong.
    assert [e for e in page.console_errors if "status of 400" not in e] == []
