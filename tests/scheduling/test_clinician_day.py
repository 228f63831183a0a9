"""The clinician's day: their home is today's list with tomorrow's beside it, one tap to the
check, the record form and the camera; the desk's day to read; their calendar feed to renew."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from scheduling import services
from tests.scheduling.conftest import at, book
from tests.scheduling.factories import PlanFactory
from tests.services import AUDIT_WRITES
from treatments.models import Session


@pytest.fixture
def carla(client, clinician_user):
    client.force_login(clinician_user)
    return client


def test_the_clinical_home_is_todays_list_with_tomorrow_beside_it(carla, clinic, front_desk_user):
    today = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    other = PlanFactory(modality=clinic.micro, session_count=1).sessions.get()
    tomorrow = book(clinic, other, at(3, 11), front_desk_user)
    services.session_arrival(session=today, status=Session.Status.CHECKED_IN, by=front_desk_user)
    html = carla.get("/clinical/").content.decode()
    # Once a search box only: now the day's patients, their screening state and next steps.
    assert html.index("Today") < html.index("Alice Smit") < html.index("Tomorrow")
    assert html.index("Tomorrow") < html.index(tomorrow.patient.full_name)
    assert "Not screened" in html
    assert f'href="/treatments/sessions/{today.pk}/#check-title">Pre-session check' in html
    assert f'href="/photos/sessions/{today.pk}/">Camera' in html
    assert "Name, phone or date of birth" in html  # the search stays


def test_a_screened_patient_is_one_tap_from_the_record_form(carla, clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    services.session_arrival(session=session, status=Session.Status.CHECKED_IN, by=front_desk_user)
    carla.post(f"/treatments/sessions/{session.pk}/screen/", {})
    html = carla.get("/clinical/").content.decode()
    assert "<strong>Clear</strong>" in html
    assert f'href="/treatments/sessions/{session.pk}/record/">Record' in html


def test_a_clinician_checks_their_patient_in_from_home(carla, clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    response = carla.post(f"/desk/sessions/{session.pk}/check-in/", {"next": "/clinical/"})
    assert response.status_code == 302 and response["Location"] == "/clinical/"
    session.refresh_from_db()
    assert session.status == Session.Status.CHECKED_IN
    home = carla.get("/clinical/").content.decode()
    assert "Alice Smit is checked in." in home and "Undo check-in" in home
    carla.post(f"/desk/sessions/{session.pk}/undo-arrival/", {"next": "/clinical/"})
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED


def test_clinicians_read_the_desks_day_but_book_cancel_and_no_show_stay_with_the_desk(
    carla, clinic, front_desk_user, frozen
):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    for url in ["/desk/", "/desk/week/", "/desk/today/", f"/desk/sessions/{session.pk}/"]:
        assert carla.get(url).status_code == 200, url
    day = carla.get("/desk/?date=2026-03-02").content.decode()
    assert "10:00 Alice Smit" in day and 'aria-label="Book' not in day and "New booking" not in day
    page = carla.get(f"/desk/sessions/{session.pk}/").content.decode()
    assert "Cancel session" not in page and "Move session" not in page
    today = carla.get("/desk/today/").content.decode()
    assert "Check in" in today and "No-show" not in today
    frozen.move_to(at(2, 10, 30))
    for url in [
        f"/desk/sessions/{session.pk}/cancel/",
        f"/desk/sessions/{session.pk}/move/",
        f"/desk/sessions/{session.pk}/no-show/",
        f"/desk/sessions/{session.pk}/book/",
        "/desk/book/",
    ]:
        assert carla.post(url, {"confirmed": "yes"}).status_code == 403, url
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED


def test_the_calendar_feed_link_is_on_the_page_and_renewing_it_kills_the_old_one(
    carla, clinic, client
):
    old = clinic.carla.calendar_token
    html = carla.get("/clinical/").content.decode()
    assert f"http://testserver/calendar/{old}.ics" in html
    response = carla.post("/clinical/calendar-feed/renew/", follow=True)
    assert "the old link no longer works" in response.content.decode()
    clinic.carla.refresh_from_db()
    new = clinic.carla.calendar_token
    assert new != old and len(new) >= 40
    assert f"/calendar/{new}.ics" in response.content.decode()
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    assert AuditEvent.objects.filter(detail="calendar feed link renewed").count() == 1


def test_a_clinician_without_a_calendar_is_told_why(client, persona, db):
    from tests.factories import StaffFactory

    daan = StaffFactory(username="daan", role="Clinician")
    client.force_login(daan)
    assert "You have no calendar here yet" in client.get("/clinical/").content.decode()
    response = client.post("/clinical/calendar-feed/renew/", follow=True)
    assert "ask a clinic admin to add you as a practitioner" in response.content.decode()


def test_the_clinicians_day_costs_the_same_queries_with_ten_times_the_sessions(
    carla, clinic, front_desk_user, django_assert_max_num_queries
):
    def fill(hours, day):
        for hour in hours:
            plan = PlanFactory(modality=clinic.micro, session_count=1)
            booked = book(clinic, plan.sessions.get(), at(day, hour), front_desk_user)
            if day == 2:
                services.session_arrival(
                    session=booked, status=Session.Status.CHECKED_IN, by=front_desk_user
                )

    fill([9], 2)
    # 1 the session, 2 the user, 3 permissions, 4 both days' sessions with patient, course and
    # practitioner, 5 the patients' signed consents, 6 the days' screenings, 7 their findings,
    # 8 the practitioner's feed link, and the look at the patients shown, audited
    with django_assert_max_num_queries(8 + AUDIT_WRITES) as few:
        carla.get("/clinical/")
    fill([10, 11, 12, 13, 14, 15, 16], 2)  # 1 session, then 16: both days full
    fill([9, 10, 11, 12, 13, 14, 15, 16], 3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = carla.get("/clinical/").content.decode()
    assert html.count('class="status-') == 16
