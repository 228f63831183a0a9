"""Booking, course booking, moving, cancelling, check-in and no-show."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from scheduling import services
from scheduling.models import Booking, Reservation
from scheduling.services import CourseChoice
from tests.scheduling.conftest import AMS, at
from tests.scheduling.factories import PlanFactory
from treatments.models import Session


def book(clinic, session, when, by, **kwargs):
    return services.session_book(
        session=session, starts_at=when, practitioner_user_id=clinic.carla.user_id, by=by, **kwargs
    )


def test_booking_holds_practitioner_patient_and_room_and_is_audited(clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user, notify=False)
    assert session.status == Session.Status.BOOKED
    assert session.ends_at == at(2, 10, 45)
    assert session.practitioner == clinic.carla.user
    resources = set(Reservation.objects.filter(session=session).values_list("resource", flat=True))
    assert resources == {
        f"practitioner:{clinic.carla.user_id}",
        f"patient:{session.patient_id}",
        f"room:{clinic.rooms[0].pk}",
    }
    held = Reservation.objects.filter(session=session).first()
    assert held.ends_at == at(2, 11)  # 45 minutes and 15 of cleaning
    event = AuditEvent.objects.get(object_type="treatments.Session", object_id=str(session.pk))
    assert event.actor == front_desk_user and "booked" in event.detail


def test_the_booking_email_has_real_dates_and_an_ics(
    clinic, front_desk_user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        book(clinic, clinic.sessions[0], at(12, 10), front_desk_user)
    [mail] = mailoutbox
    assert mail.to == [clinic.plan.patient.email]
    assert "Thursday 12 March 2026 at 10:00" in mail.body
    assert "From Thursday 5 March 2026: no waxing" in mail.body
    assert "tanning" in mail.body
    name, content, mimetype = mail.attachments[0]
    assert name == "booking.ics" and mimetype == "text/calendar"


def test_the_same_time_twice_is_refused_in_words(clinic, bob, front_desk_user):
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user, notify=False)
    other = PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1)
    with pytest.raises(ValidationError) as error:
        book(clinic, other, at(2, 10, 30), front_desk_user, notify=False)
    assert "already has a session at that time" in " ".join(error.value.messages)
    assert other.__class__.objects.get(pk=other.pk).status == Session.Status.PLANNED


def test_outside_working_hours_and_in_the_past_are_refused(clinic, front_desk_user):
    with pytest.raises(ValidationError, match="does not work at 18:00"):
        book(clinic, clinic.sessions[0], at(2, 18), front_desk_user)
    with pytest.raises(ValidationError, match="in the past"):
        book(clinic, clinic.sessions[0], at(1, 10), front_desk_user)


def test_spacing_rule_is_explained(clinic, front_desk_user):
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user, notify=False)
    with pytest.raises(ValidationError) as error:
        book(clinic, clinic.sessions[1], at(5, 10), front_desk_user)
    assert error.value.messages == [
        "Session 2 of this course can be booked from Monday 9 March 2026: at least 7 days "
        "after session 1 on Monday 2 March 2026."
    ]


def test_course_proposal_spaces_sessions_by_the_plans_interval(clinic):
    proposals = services.course_propose(plan=clinic.plan, first_day=dt.date(2026, 3, 2))
    starts = [slot.starts_at.astimezone(AMS) for _, slot in proposals]
    assert [s.date() for s in starts] == [
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 16),
        dt.date(2026, 3, 30),
        dt.date(2026, 4, 13),
    ]
    assert all(s.hour == 9 for s in starts)


def test_a_course_is_booked_whole_or_not_at_all(
    clinic, bob, front_desk_user, mailoutbox, django_capture_on_commit_callbacks
):
    blocker = PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1)
    book(clinic, blocker, at(30, 9), front_desk_user, notify=False)
    uid = clinic.carla.user_id
    choices = [
        CourseChoice(clinic.sessions[0], at(2, 9), uid),
        CourseChoice(clinic.sessions[1], at(16, 9), uid),
        CourseChoice(clinic.sessions[2], at(30, 9), uid),  # taken by Bob
    ]
    with pytest.raises(ValidationError) as error:
        services.course_book(plan=clinic.plan, choices=choices, by=front_desk_user)
    assert "Session 3: " in error.value.messages[0]
    assert "Nothing was booked." in error.value.messages
    assert not Session.objects.filter(plan=clinic.plan, status="booked").exists()
    assert not Reservation.objects.filter(session__plan=clinic.plan).exists()

    choices[2] = CourseChoice(clinic.sessions[2], at(30, 10), uid)
    with django_capture_on_commit_callbacks(execute=True):
        booked = services.course_book(plan=clinic.plan, choices=choices, by=front_desk_user)
    assert [s.status for s in booked] == ["booked"] * 3
    assert len(mailoutbox) == 1  # one email for the course
    assert mailoutbox[0].body.count("session ") >= 3


def test_reschedule_rechecks_and_refuses_crowding_the_next_session(clinic, bob, front_desk_user):
    uid = clinic.carla.user_id
    services.course_book(
        plan=clinic.plan,
        choices=[
            CourseChoice(clinic.sessions[0], at(2, 9), uid),
            CourseChoice(clinic.sessions[1], at(16, 9), uid),
        ],
        by=front_desk_user,
    )
    blocker = PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1)
    book(clinic, blocker, at(9, 9), front_desk_user, notify=False)
    first = Session.objects.get(pk=clinic.sessions[0].pk)
    with pytest.raises(ValidationError, match="already has a session"):
        services.session_reschedule(session=first, starts_at=at(9, 9), by=front_desk_user)
    with pytest.raises(ValidationError) as error:
        services.session_reschedule(session=first, starts_at=at(12, 11), by=front_desk_user)
    assert error.value.messages == [
        "Session 1 of this course can be booked until Monday 9 March 2026: at least 7 days "
        "before session 2 on Monday 16 March 2026."
    ]
    warnings = services.session_reschedule(session=first, starts_at=at(9, 11), by=front_desk_user)
    assert warnings == []
    first.refresh_from_db()
    assert first.starts_at == at(9, 11)
    assert Reservation.objects.filter(session=first, starts_at=at(9, 11)).count() == 3
    assert not Reservation.objects.filter(session=first, starts_at=at(2, 9)).exists()


def test_cancel_frees_the_slot_and_knows_when_it_is_late(clinic, bob, front_desk_user, frozen):
    early = book(clinic, clinic.sessions[0], at(4, 10), front_desk_user, notify=False)
    services.session_cancel(
        session=early, cancelled_by="patient", reason="Holiday", by=front_desk_user
    )
    booking = Booking.objects.get(session=early)
    assert booking.cancelled_by == "patient" and not booking.cancelled_late
    late = book(clinic, clinic.sessions[0], at(2, 15), front_desk_user, notify=False)
    services.session_cancel(session=late, cancelled_by="clinic", reason="Ill", by=front_desk_user)
    assert Booking.objects.get(session=late).cancelled_late
    # the time is free again for someone else
    other = PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1)
    assert book(clinic, other, at(2, 15), front_desk_user, notify=False).status == "booked"
    with pytest.raises(ValidationError, match="Give a reason"):
        services.session_cancel(
            session=other, cancelled_by="clinic", reason=" ", by=front_desk_user
        )


def check_in(session, by):
    return services.session_arrival(session=session, status="checked_in", by=by)


def no_show(session, by):
    return services.session_arrival(session=session, status="no_show", by=by)


def test_check_in_on_the_day_and_no_show_after_the_start(clinic, front_desk_user, frozen):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user, notify=False)
    with pytest.raises(ValidationError, match="has not started yet"):
        no_show(session, front_desk_user)
    row = check_in(session, front_desk_user)
    assert row.status == Session.Status.CHECKED_IN
    assert Session.objects.get(pk=session.pk).status == "checked_in"
    assert Booking.objects.get(session=session).checked_in_at == timezone.now()
    assert Reservation.objects.filter(session=session, active=True).count() == 3  # still held
    with pytest.raises(ValidationError, match="Only a booked session can be marked as a no-show"):
        no_show(session, front_desk_user)
    later = book(clinic, clinic.sessions[1], at(9, 10), front_desk_user, notify=False)
    with pytest.raises(ValidationError, match="on the day of the session"):
        check_in(later, front_desk_user)
    frozen.move_to(at(9, 10, 20))
    assert no_show(later, front_desk_user).status == Session.Status.NO_SHOW
    assert not Reservation.objects.filter(session=later, active=True).exists()
    assert Booking.objects.get(session=later).checked_in_at is None
    details = AuditEvent.objects.filter(object_type="treatments.Session").values_list(
        "detail", flat=True
    )
    assert {"checked in", "no-show"} <= set(details)


def test_arrival_is_either_a_check_in_or_a_no_show(clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(2, 10), front_desk_user, notify=False)
    with pytest.raises(ValidationError, match="either checked in or a no-show"):
        services.session_arrival(session=session, status="completed", by=front_desk_user)
    assert Session.objects.get(pk=session.pk).status == Session.Status.BOOKED


def test_a_moved_session_is_emailed_with_new_dates(
    clinic, front_desk_user, mailoutbox, django_capture_on_commit_callbacks
):
    session = book(clinic, clinic.sessions[0], at(12, 10), front_desk_user, notify=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_reschedule(session=session, starts_at=at(13, 14), by=front_desk_user)
    [mail] = mailoutbox
    assert mail.subject.startswith("Your session has moved")
    assert "Friday 13 March 2026 at 14:00" in mail.body
    assert "From Friday 6 March 2026: no waxing" in mail.body


def test_a_stopped_course_cannot_be_booked(clinic, front_desk_user):
    clinic.plan.status = "stopped"
    clinic.plan.save()
    with pytest.raises(ValidationError, match="This course is stopped"):
        book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)


def test_screening_known_in_advance_blocks_booking_and_the_search(clinic, alice, front_desk_user):
    """Isotretinoin stopped 8 September; the 6-month rule counts through 8 March, 6 calendar
    months on, and 9 March is free."""
    from scheduling.availability import find_slots
    from treatments.models import Factor, Screening
    from treatments.services import history_add

    history_add(
        patient=alice,
        factor=Factor.objects.get(slug="isotretinoin"),
        started_on=dt.date(2025, 6, 1),
        ended_on=dt.date(2025, 9, 8),
    )
    session = clinic.sessions[0]
    with pytest.raises(ValidationError, match="Refused by screening: Isotretinoin"):
        book(clinic, session, at(4, 10), front_desk_user, notify=False)
    assert Reservation.objects.filter(session=session).count() == 0
    session.refresh_from_db()
    assert session.status == Session.Status.PLANNED

    slots = find_slots(
        session=session, first_day=dt.date(2026, 3, 2), last_day=dt.date(2026, 3, 13)
    )
    first_day = min(s.starts_at.astimezone(AMS).date() for s in slots)
    assert first_day == dt.date(2026, 3, 9)

    booked = book(clinic, session, at(9, 10), front_desk_user, notify=False)
    stored = Screening.objects.get(session=booked, occasion=Screening.Occasion.BOOKING)
    assert (stored.outcome, stored.screened_by) == (Screening.Outcome.CLEAR, front_desk_user)
