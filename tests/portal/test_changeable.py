"""When a patient may still cancel a session or ask to move it from the portal: one rule, read
without a request (the page shows the forms by it, the services refuse by it)."""

from __future__ import annotations

import datetime as dt

from portal.queries import change_refusal
from treatments.models import Session


def test_a_booked_session_with_notice_left_may_be_changed(course, settings):
    session = course.sessions.get(status=Session.Status.BOOKED)  # 13 days away
    settings.CANCELLATION_NOTICE_HOURS = 24
    assert change_refusal(session) == ""


def test_within_the_notice_period_the_patient_is_asked_to_call(course, settings):
    session = course.sessions.get(status=Session.Status.BOOKED)
    settings.CANCELLATION_NOTICE_HOURS = 24
    settings.CLINIC_PHONE = "020 123 4567"
    just_in_time = session.starts_at - dt.timedelta(hours=24, minutes=1)
    assert change_refusal(session, now=just_in_time) == ""
    refusal = change_refusal(session, now=session.starts_at - dt.timedelta(hours=23))
    assert refusal == (
        "This session starts in less than 24 hours. "
        "Please call us on 020 123 4567 to cancel or change it."
    )


def test_only_booked_sessions_may_be_changed(course):
    done = course.sessions.get(number=1)
    planned = course.sessions.filter(status=Session.Status.PLANNED).first()
    assert (
        change_refusal(done) == "This session is completed; it cannot be cancelled or changed here."
    )
    assert "This session is planned" in change_refusal(planned)
    booked = course.sessions.get(status=Session.Status.BOOKED)
    booked.status = Session.Status.CHECKED_IN
    assert "cannot be cancelled or changed" in change_refusal(booked)
