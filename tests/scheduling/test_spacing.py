"""Spacing holds against both neighbours and across every course on an overlapping area, and
the sessions of a course stay in order (issue 17, observations 4 and 7). Refused, not warned."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from scheduling import services
from scheduling.availability import find_slots
from scheduling.services import CourseChoice
from tests.scheduling.conftest import AMS, at
from tests.scheduling.factories import BodyAreaFactory, PlanFactory
from treatments.models import Session


def book(clinic, session, when, by):
    return services.session_book(
        session=session,
        starts_at=when,
        practitioner_user_id=clinic.carla.user_id,
        by=by,
        notify=False,
    )


def move(session, when, by):
    return services.session_reschedule(
        session=Session.objects.get(pk=session.pk), starts_at=when, by=by
    )


def course(clinic, alice, slug: str = "face") -> list[Session]:
    """Another microdermabrasion course of Alice's, on the area `slug` (a seeded one)."""
    plan = PlanFactory(
        patient=alice, modality=clinic.micro, body_area=BodyAreaFactory(slug=slug), session_count=2
    )
    return list(plan.sessions.order_by("number"))


@pytest.fixture
def api(front_desk_user):
    client = APIClient()
    client.force_authenticate(front_desk_user)
    return client


@pytest.fixture
def three_booked(clinic, front_desk_user):
    """Sessions 1, 2 and 3 of Alice's face course on 2, 16 and 30 March, at nine."""
    uid = clinic.carla.user_id
    days = (2, 16, 30)
    services.course_book(
        plan=clinic.plan,
        choices=[
            CourseChoice(s, at(d, 9), uid) for s, d in zip(clinic.sessions, days, strict=False)
        ],
        by=front_desk_user,
    )
    return clinic.sessions[:3]


def first_day_offered(session, first: int, last: int, month: int = 3) -> dt.date | None:
    slots = find_slots(
        session=Session.objects.select_related("plan__modality", "plan__body_area").get(
            pk=session.pk
        ),
        first_day=dt.date(2026, month, first),
        last_day=dt.date(2026, month, last),
    )
    return min((s.starts_at.astimezone(AMS).date() for s in slots), default=None)


def last_day_offered(session, first: int, last: int) -> dt.date | None:
    slots = find_slots(
        session=Session.objects.select_related("plan__modality", "plan__body_area").get(
            pk=session.pk
        ),
        first_day=dt.date(2026, 3, first),
        last_day=dt.date(2026, 3, last),
    )
    return max((s.starts_at.astimezone(AMS).date() for s in slots), default=None)


# --- within a course: both neighbours, and in order ----------------------------------------


def test_moving_session_2_to_5_days_before_session_3_is_refused(three_booked, front_desk_user):
    _, second, _ = three_booked
    with pytest.raises(ValidationError) as error:
        move(second, at(25, 9), front_desk_user)
    assert error.value.messages == [
        "Session 2 of this course can be booked until Monday 23 March 2026: at least 7 days "
        "before session 3 on Monday 30 March 2026."
    ]
    second.refresh_from_db()
    assert second.starts_at == at(16, 9)
    assert move(second, at(23, 9), front_desk_user) == []  # day 7 before is allowed


def test_moving_session_1_after_session_2_is_refused(three_booked, front_desk_user):
    first, second, _ = three_booked
    for day in (18, 20):  # just after session 2, and well after it
        with pytest.raises(ValidationError, match="before session 2 on Monday 16 March 2026"):
            move(first, at(day, 9), front_desk_user)
    with pytest.raises(ValidationError, match="can be booked until Monday 9 March 2026"):
        move(first, at(12, 9), front_desk_user)  # before session 2, but too close
    first.refresh_from_db()
    assert first.starts_at == at(2, 9)
    assert move(first, at(9, 9), front_desk_user) == []
    # Nor can session 2 go before session 1.
    with pytest.raises(ValidationError, match="at least 7 days after session 1"):
        move(second, at(4, 9), front_desk_user)


def test_a_cancelled_first_session_cannot_be_booked_again_after_the_second(
    clinic, three_booked, front_desk_user
):
    first = three_booked[0]
    services.session_cancel(session=first, cancelled_by="patient", reason="Ill", by=front_desk_user)
    with pytest.raises(ValidationError, match="before session 2"):
        book(clinic, Session.objects.get(pk=first.pk), at(18, 9), front_desk_user)


def test_the_search_offers_only_days_between_the_neighbours(three_booked):
    _, second, _ = three_booked
    assert first_day_offered(second, 2, 31) == dt.date(2026, 3, 9)
    assert last_day_offered(second, 2, 31) == dt.date(2026, 3, 23)


def test_moves_through_the_api_are_refused_with_the_reason(api, three_booked):
    first, second, _ = three_booked
    refused = api.post(
        f"/api/booking/sessions/{second.pk}/reschedule/",
        {"starts_at": at(25, 9).isoformat()},
        format="json",
    )
    assert refused.status_code == 400
    assert "at least 7 days before session 3 on Monday 30 March 2026" in str(refused.json())
    refused = api.post(
        f"/api/booking/sessions/{first.pk}/reschedule/",
        {"starts_at": at(20, 9).isoformat()},
        format="json",
    )
    assert refused.status_code == 400
    assert "before session 2 on Monday 16 March 2026" in str(refused.json())
    moved = api.post(
        f"/api/booking/sessions/{second.pk}/reschedule/",
        {"starts_at": at(23, 9).isoformat()},
        format="json",
    )
    assert moved.status_code == 200
    assert moved.json()["warnings"] == []


# --- across courses on the same or an overlapping area --------------------------------------


def test_a_second_course_on_the_same_area_two_days_after_the_first_is_refused(
    clinic, alice, front_desk_user
):
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    second_course = course(clinic, alice, "face")
    with pytest.raises(ValidationError) as error:
        book(clinic, second_course[0], at(4, 10), front_desk_user)
    assert error.value.messages == [
        "Session 1 of another microdermabrasion course (Face) is on Monday 2 March 2026: "
        "microdermabrasion on the same or an overlapping area needs at least 7 days between "
        "sessions, so not from Tuesday 24 February 2026 to Sunday 8 March 2026."
    ]
    assert book(clinic, second_course[0], at(9, 10), front_desk_user).status == "booked"


def test_another_course_holds_its_spacing_before_the_candidate_too(clinic, alice, front_desk_user):
    second_course = course(clinic, alice, "face")
    book(clinic, second_course[0], at(11, 10), front_desk_user)
    with pytest.raises(ValidationError, match="Session 1 of another microdermabrasion course"):
        book(clinic, clinic.sessions[0], at(9, 10), front_desk_user)  # two days before it
    assert book(clinic, clinic.sessions[0], at(4, 10), front_desk_user).status == "booked"


def test_face_and_around_the_eyes_courses_two_days_apart_are_refused(
    clinic, alice, front_desk_user
):
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    eyes = course(clinic, alice, "around-eyes")
    with pytest.raises(ValidationError, match=r"another microdermabrasion course \(Face\)"):
        book(clinic, eyes[0], at(4, 10), front_desk_user)
    # The search agrees: the eyes may be treated from the 9th.
    assert first_day_offered(eyes[0], 2, 13) == dt.date(2026, 3, 9)
    # The neck is not part of the face, and the lips are not part of the eyes.
    assert book(clinic, course(clinic, alice, "neck")[0], at(4, 10), front_desk_user)
    book(clinic, eyes[0], at(9, 10), front_desk_user)
    lips = course(clinic, alice, "around-lips")
    assert book(clinic, lips[0], at(11, 10), front_desk_user)  # 2 days after the eyes: fine
    with pytest.raises(ValidationError, match=r"course \(Around the eyes\)"):
        # ...but the face holds both: 2 days after the lips, 3 after the eyes.
        book(clinic, clinic.sessions[1], at(12, 10), front_desk_user)


def test_another_modality_on_the_same_area_has_its_own_spacing(clinic, alice, front_desk_user):
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    peel = PlanFactory(patient=alice, modality=clinic.laser, body_area=BodyAreaFactory(slug="face"))
    # Not the microdermabrasion interval: a laser peel is not a microdermabrasion session.
    assert book(clinic, peel.sessions.get(number=1), at(4, 10), front_desk_user)


def test_a_completed_session_counts_by_the_areas_it_treated(clinic, alice, front_desk_user, frozen):
    """A neck course's session, recorded as having treated the face too, spaces the face."""
    from tests.records import screening_on_record

    neck = course(clinic, alice, "neck")[0]
    Session.objects.filter(pk=neck.pk).update(
        status=Session.Status.COMPLETED,
        starts_at=at(2, 9) - dt.timedelta(days=3),
        ends_at=at(2, 10) - dt.timedelta(days=3),
        completed_screening=screening_on_record(neck.plan),
    )
    neck.areas.set([BodyAreaFactory(slug="neck"), BodyAreaFactory(slug="face")])
    with pytest.raises(ValidationError, match="another microdermabrasion course"):
        book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    assert book(clinic, clinic.sessions[0], at(6, 10), front_desk_user)


def test_courses_on_overlapping_areas_through_the_api(api, clinic, alice):
    uid = clinic.carla.user_id
    booked = api.post(
        f"/api/booking/sessions/{clinic.sessions[0].pk}/book/",
        {"starts_at": at(2, 10).isoformat(), "practitioner": uid},
        format="json",
    )
    assert booked.status_code == 201
    for slug in ("face", "around-eyes"):
        refused = api.post(
            f"/api/booking/sessions/{course(clinic, alice, slug)[0].pk}/book/",
            {"starts_at": at(4, 10).isoformat(), "practitioner": uid},
            format="json",
        )
        assert refused.status_code == 400
        assert "another microdermabrasion course (Face)" in str(refused.json())


def test_courses_on_overlapping_areas_on_the_desk_page(client, clinic, alice, front_desk_user):
    client.force_login(front_desk_user)
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    eyes = course(clinic, alice, "around-eyes")
    response = client.post(
        f"/desk/sessions/{eyes[0].pk}/book/",
        {"starts_at": "2026-03-04T10:00", "practitioner": clinic.carla.user_id},
    )
    assert response.status_code == 400
    assert "another microdermabrasion course (Face) is on Monday 2 March 2026" in (
        response.content.decode()
    )
