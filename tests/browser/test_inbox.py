"""Alice asks for another time in the portal; the desk finds it in its inbox, moves the session,
and Alice's portal shows the request handled."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scheduling.models import ChangeRequest
from tests.browser.test_login import sign_in
from tests.portal.conftest import make_course, make_practitioner
from tests.scheduling.factories import RoomFactory
from treatments.models import Session

pytestmark = pytest.mark.browser


@pytest.fixture
def alices_session(alice, clinician_user):
    """Three sessions done; session 4 booked ten days ahead with Carla."""
    now = timezone.now()
    carla = make_practitioner(clinician_user)
    plan = make_course(alice, practitioner=carla, first=now - dt.timedelta(days=42))
    carla.practitioner.modalities.add(plan.modality)
    RoomFactory(name="Room 1")
    session = plan.sessions.get(number=4)
    starts = now + dt.timedelta(days=10)
    Session.objects.filter(pk=session.pk).update(
        starts_at=starts, ends_at=starts + dt.timedelta(minutes=45)
    )
    return session


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def test_a_change_request_from_the_portal_to_the_inbox_and_back(
    page, alices_session, front_desk_user
):
    session = alices_session
    portal_url = f"/portal/sessions/{session.pk}/"

    # Alice asks for another time.
    sign_in(page, "alice")
    page.wait_for_url("**/portal/")
    page.goto(portal_url)
    page.get_by_text("Ask for another time").click()
    page.get_by_label("Which days or times would suit you better?").fill(
        "A Friday morning would suit me better."
    )
    page.get_by_label("Fridays").check()
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_url(f"**{portal_url}")
    expect(page.get_by_text("Waiting for the clinic")).to_be_visible()
    # A reload keeps it: the request is stored, not only emailed.
    page.reload()
    expect(page.get_by_text("Waiting for the clinic")).to_be_visible()
    expect(page.get_by_text("A Friday morning would suit me better.")).to_be_visible()
    expect(page.get_by_role("button", name="Withdraw my request")).to_be_visible()
    sign_out(page)

    # The desk sees it in the inbox (the badge counts it) and moves the session.
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    inbox_link = page.locator(".cal-nav").get_by_role("link", name="Inbox")
    expect(inbox_link.locator(".inbox-count")).to_have_text("1 new")
    inbox_link.click()
    page.wait_for_url("**/desk/inbox/")
    row = page.locator("tr.inbox-item").first
    expect(row).to_contain_text("Asks to move")
    expect(row).to_contain_text("Alice Smit")
    expect(row).to_contain_text("Fridays")
    expect(row.locator(".state-pill")).to_have_text("New")
    row.get_by_role("link", name="Handle").click()
    page.wait_for_url(f"**/desk/sessions/{session.pk}/")
    heading = page.get_by_role("heading", name="The patient asks to move this session")
    expect(heading).to_be_visible()
    page.get_by_role("link", name="Move the session").click()
    new_day = timezone.localtime(session.starts_at).date() + dt.timedelta(days=1)
    while new_day.weekday() != 4:  # the Friday she asked for
        new_day += dt.timedelta(days=1)
    page.get_by_label("Date and time").fill(f"{new_day:%Y-%m-%d}T10:00")
    page.get_by_role("button", name="Move session").click()
    page.wait_for_url(f"**/desk/?date={new_day:%Y-%m-%d}")
    expect(page.get_by_text("Session moved to")).to_be_visible()
    page.goto("/desk/inbox/?state=handled")
    row = page.locator("tr.inbox-item").first
    expect(row.locator(".state-pill")).to_have_text("Handled")
    expect(row).to_contain_text(f"by {front_desk_user.get_full_name()}: moved")
    sign_out(page)

    # Alice's portal shows the request handled and the new time.
    sign_in(page, "alice")
    page.wait_for_url("**/portal/")
    page.goto(portal_url)
    expect(page.get_by_text("Handled: your session has a new time")).to_be_visible()
    expect(page.get_by_role("button", name="Withdraw my request")).to_have_count(0)
    request = ChangeRequest.objects.get()
    assert (request.state, request.outcome, request.handled_by) == (
        "handled",
        "moved",
        front_desk_user,
    )
    assert page.console_errors == []
