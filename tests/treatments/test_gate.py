"""The one gate before a session is completed (issue 17, observations 1, 2, 3 and 12): through
the service, the API and the record page alike."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.records import arrive
from treatments import services
from treatments.aftercare import aftercare_for
from treatments.models import Screening, Session

from .conftest import at

DAY = datetime.date(2026, 3, 10)


def record_by_api(client, session, **body):
    return client.post(f"/api/sessions/{session.pk}/record/", body, content_type="application/json")


def record_by_page(client, session, level_id=None):
    return client.post(
        reverse("treatments:session_record", args=[session.pk]),
        {"depth_level": level_id or session.depth_level_id, "areas": [session.plan.body_area_id]},
    )


def refused(response) -> str:
    assert response.status_code == 400, response.status_code
    return response.content.decode()


@pytest.fixture
def first(alice, make_plan):
    return make_plan(alice, "microdermabrasion", DAY).sessions.get(number=1)


@time_machine.travel(at(DAY, 10), tick=False)
def test_1_a_booking_screening_of_today_does_not_let_a_session_be_recorded(
    client, clinician_user, first
):
    """Booked for 15:00 today: the screening stored at booking is dated today, yet nobody has
    asked about cold sores or sunburn; before check-in nothing records it."""
    services.session_check_bookable(session=first, on=DAY, by=clinician_user)
    assert first.screenings.filter(screened_for=DAY, occasion="booking").exists()
    client.force_login(clinician_user)
    assert "Check the patient in" in refused(record_by_api(client, first))
    assert "Check the patient in" in refused(record_by_page(client, first))
    # Checked in, but still without the day's check: refused too.
    arrive(first, at(DAY, 9, 45))
    assert "Do the pre-session check" in refused(record_by_api(client, first))
    assert "Do the pre-session check" in refused(record_by_page(client, first))
    first.refresh_from_db()
    assert first.status == Session.Status.CHECKED_IN


@time_machine.travel(at(DAY, 10), tick=False)
def test_1_a_session_booked_for_later_today_is_not_recorded_before_its_day(
    client, clinician_user, first
):
    tomorrow = at(DAY + datetime.timedelta(days=1), 10)
    arrive(first, tomorrow)
    client.force_login(clinician_user)
    assert "cannot be recorded before" in refused(record_by_api(client, first))


@time_machine.travel(at(DAY, 10), tick=False)
def test_2_history_added_after_screening_makes_it_stale(
    client, clinician_user, alice, first, catalogue
):
    arrive(first, at(DAY, 9, 45))
    services.session_check_and_screen(session=first, present=[], by=clinician_user)
    client.force_login(clinician_user)
    response = client.post(
        "/api/history/",
        {"patient": alice.pk, "factor": catalogue.factor("isotretinoin").pk, "started_on": DAY},
        content_type="application/json",
    )
    assert response.status_code == 201
    api_answer = refused(record_by_api(client, first))
    assert "has changed since the patient was screened" in api_answer
    assert "Isotretinoin" in api_answer
    assert "has changed since the patient was screened" in refused(record_by_page(client, first))
    # Screened again: the isotretinoin refuses the session outright.
    services.session_check_and_screen(session=first, present=[], by=clinician_user)
    assert "Screening refused this session" in refused(record_by_api(client, first))
    first.refresh_from_db()
    assert first.status == Session.Status.CHECKED_IN


@time_machine.travel(at(DAY, 10), tick=False)
def test_3_a_depth_nobody_screened_is_refused(client, clinician_user, alice, first, catalogue):
    """A keloid patient screened clear at Level I is not recorded at Level III, where the keloid
    rule applies; screened at Level III, the rule is found, and a clinician must decide."""
    services.history_add(patient=alice, factor=catalogue.factor("keloid"))
    arrive(first, at(DAY, 9, 45))
    screening = services.session_check_and_screen(session=first, present=[], by=clinician_user)
    assert screening.outcome == Screening.Outcome.CLEAR
    assert screening.depth_level.rank == 1
    level_three = catalogue.level("microdermabrasion", 3)
    client.force_login(clinician_user)
    answer = refused(record_by_api(client, first, depth_level=level_three.pk))
    assert "screen the patient again for the level you use" in answer
    answer = refused(record_by_page(client, first, level_three.pk))
    assert "screen the patient again for the level you use" in answer
    services.session_set_level(session=first, depth_level=level_three)
    screening = services.session_check_and_screen(session=first, present=[], by=clinician_user)
    assert screening.outcome == Screening.Outcome.RELATIVE
    assert "eloid" in screening.findings.get().rule_name
    with pytest.raises(ValidationError, match="relative findings; record why you proceed"):
        services.session_record(session=first, depth_level=level_three, by=clinician_user)


def test_12_a_session_recorded_after_midnight_keeps_its_day_and_its_aftercare(
    clinician_user, first
):
    evening = at(DAY, 22, 30)
    with time_machine.travel(evening, tick=False):
        arrive(first, evening)
        services.session_check_and_screen(session=first, present=[], by=clinician_user)
    with time_machine.travel(at(DAY + datetime.timedelta(days=1), 0, 40), tick=False):
        services.session_record(session=first, by=clinician_user)
    first.refresh_from_db()
    assert first.status == Session.Status.COMPLETED
    assert first.day == DAY
    retinoids = next(i for i in aftercare_for(first) if i.text == "no retinoids")
    assert retinoids.until == DAY + datetime.timedelta(days=3)


def test_a_session_is_not_recorded_long_after_it_ended(clinician_user, first):
    with time_machine.travel(at(DAY, 10), tick=False):
        arrive(first, at(DAY, 10))
        services.session_check_and_screen(session=first, present=[], by=clinician_user)
    with (
        time_machine.travel(at(DAY + datetime.timedelta(days=2), 10), tick=False),
        pytest.raises(ValidationError, match="ended too long ago"),
    ):
        services.session_record(session=first, by=clinician_user)


@time_machine.travel(at(DAY, 10), tick=False)
def test_a_screening_made_before_check_in_is_not_the_days(clinician_user, first):
    services.session_check_and_screen(session=first, present=[], by=clinician_user)
    arrive(first, at(DAY, 10, 5))  # checked in after the screening
    with (
        time_machine.travel(at(DAY, 10, 10), tick=False),
        pytest.raises(ValidationError, match="made before check-in"),
    ):
        services.session_record(session=first, by=clinician_user)


@time_machine.travel(at(DAY, 10), tick=False)
def test_nothing_else_can_complete_a_session(first):
    """The database holds a completed session to the screening it was completed under."""
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.filter(pk=first.pk).update(status=Session.Status.COMPLETED)
