"""The small things a desk expects: the slot finder keeps its date, undo of check-in and
no-show, a confirmation before cancel and no-show, and refusals under their own heading."""

from __future__ import annotations

import re

import pytest

from audit.models import AuditEvent
from scheduling.models import Reservation
from tests.scheduling.conftest import at, book
from tests.scheduling.factories import PlanFactory
from treatments.models import Session


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


def test_the_slot_finder_date_field_holds_an_iso_date_the_browser_keeps(desk, clinic):
    # A date input discards "02/03/2026": the value must be YYYY-MM-DD, empty form or not.
    url = f"/desk/sessions/{clinic.sessions[0].pk}/slots/"
    empty = desk.get(url).content.decode()
    assert re.search(r'name="first_day" value="2026-03-02"', empty)
    searched = desk.get(url, {"first_day": "2026-03-09", "days": 3}).content.decode()
    assert re.search(r'name="first_day" value="2026-03-09"', searched)


def test_a_check_in_is_undone_the_same_day_and_refused_the_next(
    desk, clinic, front_desk_user, frozen
):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    desk.post(f"/desk/sessions/{session.pk}/check-in/")
    session.refresh_from_db()
    assert session.status == Session.Status.CHECKED_IN
    response = desk.post(
        f"/desk/sessions/{session.pk}/undo-arrival/", {"next": "/desk/today/"}, follow=True
    )
    assert "Alice Smit is booked again, as before." in response.content.decode()
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED
    assert session.booking.checked_in_at is None
    assert AuditEvent.objects.filter(object_id=str(session.pk), detail="check-in undone").exists()

    desk.post(f"/desk/sessions/{session.pk}/check-in/")
    frozen.move_to(at(3, 9))
    response = desk.post(f"/desk/sessions/{session.pk}/undo-arrival/", follow=True)
    assert "can only be undone on the day of the session" in response.content.decode()
    session.refresh_from_db()
    assert session.status == Session.Status.CHECKED_IN


def test_a_no_show_is_asked_once_more_then_undone_holding_the_time_again(
    desk, clinic, front_desk_user, frozen
):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    frozen.move_to(at(2, 10, 30))
    url = f"/desk/sessions/{session.pk}/no-show/"
    asked = desk.post(url, {"next": "/desk/today/"})
    html = asked.content.decode()
    assert asked.status_code == 200
    assert "Mark Alice Smit as a no-show?" in html
    assert 'name="confirmed" value="yes"' in html and 'name="next" value="/desk/today/"' in html
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED  # nothing done before the answer

    desk.post(url, {"confirmed": "yes"})
    session.refresh_from_db()
    assert session.status == Session.Status.NO_SHOW
    assert not Reservation.objects.filter(session=session, active=True).exists()
    desk.post(f"/desk/sessions/{session.pk}/undo-arrival/")
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED
    assert Reservation.objects.filter(session=session, active=False).count() == 0


def test_an_undone_no_show_whose_time_was_given_away_is_refused(
    desk, clinic, front_desk_user, frozen
):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    frozen.move_to(at(2, 10, 30))
    desk.post(f"/desk/sessions/{session.pk}/no-show/", {"confirmed": "yes"})
    other = PlanFactory(modality=clinic.micro, session_count=1).sessions.get()
    frozen.move_to(at(2, 8))  # booked earlier that morning for the freed slot (the test's way)
    book(clinic, other, at(2, 10), front_desk_user)
    frozen.move_to(at(2, 10, 40))
    response = desk.post(f"/desk/sessions/{session.pk}/undo-arrival/", follow=True)
    assert "given to another booking" in response.content.decode()
    session.refresh_from_db()
    assert session.status == Session.Status.NO_SHOW


def test_the_no_show_button_asks_in_the_row_before_it_acts(desk, clinic, front_desk_user, frozen):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    frozen.move_to(at(2, 10, 30))
    row = desk.post(f"/desk/sessions/{session.pk}/no-show/", headers={"HX-Request": "true"})
    html = row.content.decode()
    assert 'role="alertdialog"' in html and "Yes, a no-show" in html
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED


def test_cancelling_is_asked_once_more_with_what_it_means(desk, clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    url = f"/desk/sessions/{session.pk}/cancel/"
    form = {"cancelled_by": "patient", "reason": "Flu"}
    asked = desk.post(url, form)
    html = asked.content.decode()
    assert asked.status_code == 200
    assert "Cancel session 1 of Alice Smit?" in html and "A late cancellation" in html
    assert 'name="reason" value="Flu"' in html
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED
    done = desk.post(url, {**form, "confirmed": "yes"})
    assert done.status_code == 302
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED


def test_a_refused_check_in_has_its_own_heading_and_clears_after_a_success(
    desk, clinic, front_desk_user
):
    tomorrow = book(clinic, clinic.sessions[0], at(3, 10), front_desk_user)
    htmx = {"HX-Request": "true"}
    refused = desk.post(f"/desk/sessions/{tomorrow.pk}/check-in/", headers=htmx)
    html = refused.content.decode()
    assert refused["HX-Retarget"] == "#today-problems"
    assert "The patient could not be checked in:" in html
    assert "This cannot be booked as it is" not in html
    plan = PlanFactory(modality=clinic.micro, session_count=1)
    today = book(clinic, plan.sessions.get(), at(2, 11), front_desk_user)
    done = desk.post(f"/desk/sessions/{today.pk}/check-in/", headers=htmx).content.decode()
    assert '<div id="today-problems" hx-swap-oob="innerHTML"></div>' in done
    assert "Undo check-in" in done
