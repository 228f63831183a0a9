"""Two days before her session Alice answers the short check on her phone: a cold sore. She is
told kindly to call and offered other times; the desk's inbox shows the session flagged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.portal.conftest import make_course, make_practitioner
from tests.scheduling.factories import RoomFactory
from treatments.models import Session
from treatments.services import patient_check_factors

pytestmark = pytest.mark.browser


@pytest.fixture
def alices_session(alice, clinician_user):
    """Three sessions done; session 4 booked with Carla in two days, at 10:00."""
    now = timezone.now()
    carla = make_practitioner(clinician_user)
    plan = make_course(alice, practitioner=carla, first=now - dt.timedelta(days=42))
    carla.practitioner.modalities.add(plan.modality)
    RoomFactory(name="Room 1")
    session = plan.sessions.get(number=4)
    day = timezone.localdate() + dt.timedelta(days=2)
    starts = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
    Session.objects.filter(pk=session.pk).update(
        starts_at=starts, ends_at=starts + dt.timedelta(minutes=45)
    )
    session.refresh_from_db()
    return session


def test_alice_reports_a_cold_sore_and_the_desk_sees_the_session_flagged(
    phone_page, page, alices_session, front_desk_user
):
    session = alices_session
    check_url = f"/portal/sessions/{session.pk}/check/"
    questions = [f.question_for_patient for f in patient_check_factors(session)]
    cold_sore = next(q for q in questions if "cold sore" in q)

    # Alice, on her phone, from the link in the email.
    phone = phone_page
    sign_in(phone, "alice")
    phone.wait_for_url("**/portal/")
    phone.goto(check_url)
    for question in questions:
        group = phone.get_by_role("group", name=question)
        if question == cold_sore:
            group.get_by_label("Yes").check()
            group.get_by_label("Since when?").fill(timezone.localdate().isoformat())
        else:
            group.get_by_label("No").check()
    phone.get_by_role("button", name="Send my answers").click()
    phone.wait_for_url(f"**{check_url}")

    # A kind word with the clinic's number, and other times that suit her answers.
    expect(phone.get_by_role("heading", name="Thank you for telling us")).to_be_visible()
    expect(phone.get_by_text("we would like to have a quick word with you")).to_be_visible()
    offered = phone.get_by_role("link", name="Move to ")
    expect(offered).to_have_count(3)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375

    # The desk's inbox lists the session, flagged.
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    page.goto("/desk/inbox/")
    flagged = page.get_by_text(f"Flagged by screening: Microdermabrasion, session {session.number}")
    expect(flagged).to_be_visible()
    expect(page.get_by_text("as the patient answered on")).to_be_visible()
