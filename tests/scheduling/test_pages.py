"""The desk pages: calendar, booking, course, move, cancel, check-in; access and query counts."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.scheduling.conftest import AMS, at, book
from tests.scheduling.factories import PlanFactory, RoomFactory
from tests.services import AUDIT_WRITES
from treatments.models import Session


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_only_the_front_desk_and_clinicians_see_the_calendar(client, persona, who, clinic):
    client.force_login(persona(who))
    for url in [
        "/desk/",
        "/desk/week/",
        "/desk/today/",
        f"/desk/sessions/{clinic.sessions[0].pk}/",
    ]:
        assert client.get(url).status_code == 403


def test_the_day_view_shows_columns_sessions_free_slots_and_the_search_box(
    desk, clinic, front_desk_user
):
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    # Free time for microdermabrasion (45 minutes and 15 of cleaning), as the search finds it.
    micro = clinic.sessions[0].depth_level_id
    response = desk.get(f"/desk/?date=2026-03-02&treatment={micro}")
    html = response.content.decode()
    assert response.status_code == 200
    assert str(clinic.carla) in html and "10:00 Alice Smit" in html
    assert 'aria-label="Book 09:00 with' in html
    assert 'aria-label="Book 10:00 with' not in html  # taken
    assert "Name, phone or date of birth" in html
    rooms = desk.get("/desk/?date=2026-03-02&by=room").content.decode()
    assert "Room 1" in rooms and "10:00 Alice Smit" in rooms


def test_the_day_view_costs_the_same_queries_however_full_the_day(
    desk, clinic, front_desk_user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    def fill(hours):
        with django_capture_on_commit_callbacks(execute=True):  # as if each booking committed
            for hour in hours:
                plan = PlanFactory(modality=clinic.micro, session_count=1)
                book(clinic, plan.sessions.get(), at(2, hour), front_desk_user)

    fill([10])
    # 1 the session, 2 the user, 3 the user's own and group permissions, 4 practitioners,
    # 5 their working hours, 6 their exceptions, 7 their modalities, 8 the treatments free
    # time can be shown for, 9 the day's sessions with patient, modality, practitioner and
    # room; the free time: 10 the treatment's requirement, 11 its rooms, 12 every room (none
    # is named), 13 the day's reservations; and the look at the patients shown audited
    with django_assert_num_queries(13 + AUDIT_WRITES):
        desk.get("/desk/?date=2026-03-02")
    fill([11, 12, 13, 14, 15])
    with django_assert_num_queries(13 + AUDIT_WRITES):
        response = desk.get("/desk/?date=2026-03-02")
    assert response.content.decode().count("cal-session") == 6


def test_week_and_today_lists(desk, clinic, front_desk_user, django_assert_num_queries):
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    book(clinic, clinic.sessions[1], at(9, 10), front_desk_user)
    week = desk.get("/desk/week/?date=2026-03-04").content.decode()
    assert "10:00 Alice Smit" in week and "Monday 2 Mar" in week
    # session, user, own and group permissions (one query), the day's sessions, their patients'
    # signed consents, their screenings of the day (their findings too, when there are some),
    # and the look audited
    with django_assert_num_queries(6 + AUDIT_WRITES):
        today = desk.get("/desk/today/").content.decode()
    assert today.count("Check in") == 1


def test_check_in_with_htmx_swaps_the_row(desk, clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    response = desk.post(f"/desk/sessions/{session.pk}/check-in/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Checked in" in response.content.decode()
    again = desk.post(f"/desk/sessions/{session.pk}/check-in/", HTTP_HX_REQUEST="true")
    assert "Only a booked session can be checked in" in again.content.decode()
    assert again["HX-Retarget"] == "#today-problems"


def test_no_show_after_the_start_swaps_the_row_or_returns_to_the_session(
    desk, clinic, front_desk_user, frozen
):
    first = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    yes = {"confirmed": "yes"}
    too_early = desk.post(f"/desk/sessions/{first.pk}/no-show/", yes, HTTP_HX_REQUEST="true")
    assert "has not started yet" in too_early.content.decode()
    frozen.move_to(at(2, 10, 30))
    row = desk.post(f"/desk/sessions/{first.pk}/no-show/", yes, HTTP_HX_REQUEST="true")
    assert row.status_code == 200
    assert f'id="today-{first.pk}"' in row.content.decode()
    assert "No-show" in row.content.decode() and "Check in" not in row.content.decode()
    second = book(clinic, clinic.sessions[1], at(9, 10), front_desk_user)
    frozen.move_to(at(9, 9))
    page = desk.post(f"/desk/sessions/{second.pk}/check-in/")
    assert page.status_code == 302 and page["Location"] == f"/desk/sessions/{second.pk}/"
    assert Session.objects.get(pk=second.pk).status == Session.Status.CHECKED_IN


def test_booking_from_a_free_slot(desk, clinic):
    start = at(2, 9).isoformat()
    page = desk.get("/desk/book/", {"practitioner": clinic.carla.user_id, "start": start})
    assert "Monday 2 March 2026, 09:00" in page.content.decode()
    results = desk.get(
        "/desk/book/patients/",
        {"q": "Smit", "start": "2026-03-02T09:00", "practitioner": clinic.carla.user_id},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Book session 1 here" in results
    session = clinic.sessions[0]
    response = desk.post(
        f"/desk/sessions/{session.pk}/book/",
        {"starts_at": "2026-03-02T09:00", "practitioner": clinic.carla.user_id},
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == "booked" and session.starts_at == at(2, 9)


def test_a_refused_booking_is_explained_in_words_with_400(desk, clinic, front_desk_user):
    book(clinic, clinic.sessions[0], at(2, 9), front_desk_user)
    response = desk.post(
        f"/desk/sessions/{clinic.sessions[1].pk}/book/",
        {"starts_at": "2026-03-04T09:00", "practitioner": clinic.carla.user_id},
    )
    assert response.status_code == 400
    assert "can be booked from Monday 9 March 2026" in response.content.decode()
    garbage = desk.post(
        f"/desk/sessions/{clinic.sessions[1].pk}/book/", {"starts_at": "soon", "practitioner": "x"}
    )
    assert garbage.status_code == 400


def test_slot_search_page(desk, clinic):
    url = f"/desk/sessions/{clinic.sessions[0].pk}/slots/"
    response = desk.get(url, {"first_day": "2026-03-02", "days": 1, "mornings_only": "on"})
    html = response.content.decode()
    assert "Mon 2 Mar, 09:00" in html and "Mon 2 Mar, 12:00" not in html
    assert desk.get(url, {"first_day": "nonsense", "days": 1}).status_code == 400


def course_post(rows) -> dict:
    """The course form's fields for (session, start, practitioner, include) rows."""
    data = {"sessions-TOTAL_FORMS": len(rows), "sessions-INITIAL_FORMS": len(rows)}
    for n, (session, start, practitioner, include) in enumerate(rows):
        data |= {
            f"sessions-{n}-session": session.pk,
            f"sessions-{n}-starts_at": start,
            f"sessions-{n}-practitioner": practitioner,
        }
        if include:
            data[f"sessions-{n}-include"] = "on"
    return data


def test_course_booking_proposes_adjusts_and_books_all_or_none(desk, clinic, front_desk_user):
    url = f"/desk/plans/{clinic.plan.pk}/book/"
    proposal = desk.get(url).content.decode()
    assert 'value="2026-03-02T09:00"' in proposal and 'value="2026-03-16T09:00"' in proposal
    uid = clinic.carla.user_id
    starts = ["2026-03-02T09:00", "2026-03-04T09:00", "2026-03-30T09:00", "2026-04-13T09:00"]
    # Session 2 is too close to session 1.
    refused = desk.post(
        url, course_post([(s, t, uid, True) for s, t in zip(clinic.sessions, starts, strict=True)])
    )
    assert refused.status_code == 400
    assert "Session 2: Session 2 of this course can be booked from" in refused.content.decode()
    assert 'value="2026-03-04T09:00"' in refused.content.decode()  # what was typed stays
    assert not Session.objects.filter(plan=clinic.plan, status="booked").exists()
    starts[1] = "2026-03-17T11:00"  # staff adjust it
    response = desk.post(
        url, course_post([(s, t, uid, True) for s, t in zip(clinic.sessions, starts, strict=True)])
    )
    assert response.status_code == 302
    assert Session.objects.filter(plan=clinic.plan, status="booked").count() == 4


def test_course_booking_books_only_the_ticked_sessions(desk, clinic):
    url = f"/desk/plans/{clinic.plan.pk}/book/"
    first, second, *rest = clinic.sessions
    uid = clinic.carla.user_id
    rows = [(first, "2026-03-02T09:00", uid, True), (second, "", "", False)]
    rows += [(s, "", "", False) for s in rest]
    assert desk.post(url, course_post(rows)).status_code == 302
    booked = Session.objects.filter(plan=clinic.plan, status="booked")
    assert list(booked.values_list("number", flat=True)) == [1]


def test_move_keeps_the_spacing_and_cancel_frees(desk, clinic, front_desk_user):
    first = book(clinic, clinic.sessions[0], at(2, 9), front_desk_user)
    book(clinic, clinic.sessions[1], at(16, 9), front_desk_user)
    crowding = desk.post(
        f"/desk/sessions/{first.pk}/move/",
        {"starts_at": "2026-03-11T14:00", "practitioner": clinic.carla.user_id},
    )
    assert crowding.status_code == 400
    assert (
        "Session 1 of this course can be booked until Monday 9 March 2026: at least 7 days "
        "before session 2 on Monday 16 March 2026." in crowding.content.decode()
    )
    response = desk.post(
        f"/desk/sessions/{first.pk}/move/",
        {"starts_at": "2026-03-04T14:00", "practitioner": clinic.carla.user_id},
        follow=True,
    )
    assert "Session moved to Wednesday 4 March 2026 at 14:00." in response.content.decode()
    bad = desk.post(
        f"/desk/sessions/{first.pk}/move/",
        {"starts_at": "2026-03-04T20:00", "practitioner": clinic.carla.user_id},
    )
    assert bad.status_code == 400 and "does not work at 20:00" in bad.content.decode()
    cancelled = desk.post(
        f"/desk/sessions/{first.pk}/cancel/",
        {"cancelled_by": "patient", "reason": "Flu", "confirmed": "yes"},
        follow=True,
    )
    assert "Session 1 was cancelled." in cancelled.content.decode()
    assert desk.post(f"/desk/sessions/{first.pk}/cancel/", {}).status_code == 400


def test_the_room_view_lists_every_room(desk, clinic):
    RoomFactory(name="Room 3")
    html = desk.get("/desk/?by=room&date=2026-03-02").content.decode()
    assert all(f"Room {n}" in html for n in (1, 2, 3))


def test_dst_day_grid_has_the_local_hours(desk, clinic):
    day = dt.date(2026, 3, 30)  # Monday after spring forward
    html = desk.get(f"/desk/?date={day}").content.decode()
    assert '<th scope="row" class="cal-time">09:00</th>' in html
    assert AMS.utcoffset(dt.datetime(2026, 3, 30)) == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    "url",
    [
        "/desk/?date=2026-02-30",
        "/desk/?date=rubbish",
        "/desk/week/?date=2026-13-01",
        "/desk/book/?start=2026-13-01T10:00&practitioner=abc",
        "/desk/book/patients/?q=%00",
        # Past the dates a day can be added to, and digits that are not ASCII (issue 19).
        "/desk/?date=9999-12-31",
        "/desk/week/?date=0001-01-01",
        "/desk/week/?date=9999-12-31",
        "/desk/book/?practitioner=%C2%B2",
        "/desk/book/?start=9999-12-31T23:30&practitioner=999999999999999999999999999999",
        "/desk/plans/{plan}/book/?practitioner=%C2%B2&from=9999-12-31",
    ],
)
def test_bad_query_strings_never_give_a_500(desk, clinic, url):
    assert desk.get(url.format(plan=clinic.plan.pk)).status_code == 200


def test_a_slot_search_at_the_end_of_time_is_a_400(desk, clinic):
    url = f"/desk/sessions/{clinic.sessions[0].pk}/slots/?first_day=9999-12-31&days=14"
    response = desk.get(url)
    assert response.status_code == 400
    assert "Give a date between 1900 and 2100." in response.content.decode()


def test_a_course_form_with_an_impossible_date_is_a_400_that_keeps_the_input(desk, clinic):
    session = clinic.sessions[0]
    response = desk.post(
        f"/desk/plans/{clinic.plan.pk}/book/",
        course_post([(session, "2026-02-30T10:00", clinic.carla.user_id, True)]),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Session 1: choose a date, a time and a practitioner." in html
    assert 'value="2026-02-30T10:00"' in html


@pytest.mark.parametrize(
    "change",
    [
        {"sessions-TOTAL_FORMS": None},  # no management form at all
        {"sessions-0-session": "999999"},  # not a session of this course
        {"sessions-0-session": "abc"},
        {"sessions-0-practitioner": "nobody"},
        {"sessions-0-include": None},  # nothing ticked
        {"sessions-TOTAL_FORMS": "100000"},
    ],
)
def test_wrong_course_forms_are_a_400_with_a_reason_never_a_500(desk, clinic, change):
    data = course_post([(clinic.sessions[0], "2026-03-02T09:00", clinic.carla.user_id, True)])
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    response = desk.post(f"/desk/plans/{clinic.plan.pk}/book/", data)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()  # the reason, above the form
    assert not Session.objects.filter(plan=clinic.plan, status="booked").exists()


def test_a_session_of_another_course_cannot_be_booked_through_this_one(desk, clinic, bob):
    other = PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1)
    data = course_post([(other, "2026-03-02T09:00", clinic.carla.user_id, True)])
    response = desk.post(f"/desk/plans/{clinic.plan.pk}/book/", data)
    assert response.status_code == 400
    assert "not one of this course&#x27;s to book" in response.content.decode()
    assert Session.objects.get(pk=other.pk).status == Session.Status.PLANNED


def test_day_navigation_and_refresh_swap_only_the_grid(desk, clinic, front_desk_user):
    book(clinic, clinic.sessions[0], at(3, 10), front_desk_user)
    response = desk.get("/desk/?date=2026-03-03", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "Tuesday 3 March 2026" in html and "10:00 Alice Smit" in html
    assert 'hx-trigger="every 60s"' in html


def test_course_proposal_follows_preferences(desk, clinic):
    url = f"/desk/plans/{clinic.plan.pk}/book/"
    html = desk.get(url, {"from": "2026-03-04", "mornings": "on"}).content.decode()
    assert 'value="2026-03-04T09:00"' in html and 'value="2026-03-18T09:00"' in html
    assert desk.get(url, {"from": "2026-02-31", "practitioner": "x"}).status_code == 200


def test_the_session_page_says_when_a_cancel_would_be_late(desk, clinic, front_desk_user):
    soon = book(clinic, clinic.sessions[0], at(2, 15), front_desk_user)
    later = book(clinic, clinic.sessions[1], at(9, 15), front_desk_user)
    assert "late cancellation" in desk.get(f"/desk/sessions/{soon.pk}/").content.decode()
    assert "late cancellation" not in desk.get(f"/desk/sessions/{later.pk}/").content.decode()
