"""Online booking: the patient books the next session of her course, moves a booked one, or
books a first consultation, into the free times of the availability engine.

Alice's course (tests/portal/conftest): microdermabrasion, sessions 1-3 done (the last on
Monday 9 March 2026), session 4 booked on Monday 23 March at 10:00 with Carla, sessions 5 and
6 to book; at least 7 days between sessions. Today is Tuesday 10 March, 09:00. Carla works
Monday to Friday, 9:00 to 17:00.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connections
from django.urls import reverse

from audit.models import AuditEvent
from portal import booking
from scheduling import services as scheduling_services
from scheduling.models import ChangeRequest
from tests.factories import StaffFactory
from tests.portal.conftest import AMS, NOW, make_course
from tests.scheduling.factories import PractitionerFactory, RoomFactory
from treatments import services as treatment_services
from treatments.models import Factor, Modality, Session, TreatmentPlan

MONDAY_30 = dt.datetime(2026, 3, 30, 9, 0, tzinfo=AMS)  # session 5's first free time


@pytest.fixture
def clinic(course, carla, settings):
    settings.ONLINE_BOOKING_DAYS_AHEAD = 60
    settings.ONLINE_BOOKING_MIN_NOTICE_HOURS = 24
    settings.CANCELLATION_NOTICE_HOURS = 24
    carla.practitioner.modalities.add(
        course.modality, Modality.objects.get(kind=Modality.Kind.CONSULTATION)
    )
    RoomFactory(name="Room 1")
    return course


@pytest.fixture
def next_session(clinic) -> Session:
    return clinic.sessions.get(number=5)


@pytest.fixture
def booked(clinic) -> Session:
    return clinic.sessions.get(number=4)


def choice(when: dt.datetime, practitioner) -> dict:
    return {"start": when.isoformat(timespec="minutes"), "practitioner": practitioner.pk}


def all_times(page) -> list[dt.datetime]:
    return [t.starts_at for day in page.days for t in day.times]


# --- the rules, without HTTP ------------------------------------------------------------------


def test_the_window_runs_from_the_notice_to_the_days_ahead(settings):
    settings.ONLINE_BOOKING_MIN_NOTICE_HOURS = 48
    settings.ONLINE_BOOKING_DAYS_AHEAD = 30
    within = booking.window(NOW)
    assert within.earliest == NOW + dt.timedelta(hours=48)
    assert within.first_day == dt.date(2026, 3, 12)
    assert within.last_day == dt.date(2026, 4, 9)
    assert within.holds(NOW + dt.timedelta(hours=48))
    assert not within.holds(NOW + dt.timedelta(hours=47, minutes=59))
    assert within.holds(dt.datetime(2026, 4, 9, 16, 0, tzinfo=AMS))
    assert not within.holds(dt.datetime(2026, 4, 10, 9, 0, tzinfo=AMS))


def test_the_next_session_keeps_its_spacing_and_the_list_starts_where_times_are(next_session):
    page = booking.free_times(next_session)
    # Session 4 is on Monday 23 March: session 5 at least 7 days later.
    assert page.first_day == dt.date(2026, 3, 30)
    assert all_times(page)[0] == MONDAY_30
    assert [day.day for day in page.days] == [dt.date(2026, 3, d) for d in (30, 31)] + [
        dt.date(2026, 4, d) for d in (1, 2, 3)
    ]  # the weekend: Carla does not work
    assert page.later == dt.date(2026, 4, 6)
    assert page.earlier == dt.date(2026, 3, 23)
    assert booking.free_times(next_session, start_day=dt.date(2026, 3, 23)).days == []


def test_no_time_is_offered_inside_the_notice(booked, settings):
    """Moving session 4: from Monday 16 March (7 days after session 3). With 7 days' notice
    the first time offered is a week from now."""
    assert all_times(booking.free_times(booked))[0] == dt.datetime(2026, 3, 16, 9, 0, tzinfo=AMS)
    settings.ONLINE_BOOKING_MIN_NOTICE_HOURS = 24 * 8
    assert all_times(booking.free_times(booked))[0] == dt.datetime(2026, 3, 18, 9, 0, tzinfo=AMS)


def test_no_time_is_offered_past_the_days_ahead(next_session, settings):
    settings.ONLINE_BOOKING_DAYS_AHEAD = 22  # to Wednesday 1 April
    page = booking.free_times(next_session)
    assert page.last_day == dt.date(2026, 4, 1)
    assert page.later is None
    assert max(all_times(page)).date() == dt.date(2026, 4, 1)
    with pytest.raises(ValidationError, match="Online you can book times from"):
        booking.free_times(next_session, start_day=dt.date(2026, 4, 2))


def test_screening_refuses_the_days_it_blocks_and_the_page_says_why(
    alice_client, alice, next_session, carla
):
    treatment_services.history_add(
        patient=alice,
        factor=Factor.objects.get(slug="isotretinoin"),
        started_on=dt.date(2026, 3, 10),  # today, still taking it
        by=carla,
    )
    page = booking.free_times(next_session)
    assert page.days == []
    assert any("isotretinoin" in block.reason.lower() for block in page.blocks)
    body = alice_client.get(reverse("portal:book")).content.decode()
    assert "No free times on these days." in body and "sotretinoin" in body


def test_a_time_outside_the_window_or_not_offered_is_refused(alice, next_session, carla):
    book = {"patient": alice, "session": next_session, "by": alice.user}
    too_far = dt.datetime(2026, 5, 11, 9, 0, tzinfo=AMS)
    with pytest.raises(ValidationError, match="Online you can book"):
        booking.book(**book, starts_at=too_far, practitioner_user_id=carla.pk)
    too_close = dt.datetime(2026, 3, 24, 9, 0, tzinfo=AMS)  # the day after session 4
    with pytest.raises(booking.TimeNotFree):
        booking.book(**book, starts_at=too_close, practitioner_user_id=carla.pk)
    off_the_grid = MONDAY_30 + dt.timedelta(minutes=7)
    with pytest.raises(booking.TimeNotFree):
        booking.book(**book, starts_at=off_the_grid, practitioner_user_id=carla.pk)
    next_session.refresh_from_db()
    assert next_session.status == Session.Status.PLANNED and next_session.starts_at is None


def test_only_the_next_session_of_her_own_course_is_booked(alice, bob, clinic, carla):
    sixth = clinic.sessions.get(number=6)
    with pytest.raises(ValidationError, match="an earlier session of your course comes first"):
        booking.book(
            patient=alice,
            session=sixth,
            starts_at=MONDAY_30,
            practitioner_user_id=carla.pk,
            by=alice.user,
        )
    with pytest.raises(ValidationError, match="not your session"):
        booking.book(
            patient=bob,
            session=clinic.sessions.get(number=5),
            starts_at=MONDAY_30,
            practitioner_user_id=carla.pk,
            by=bob.user,
        )
    assert not clinic.sessions.filter(number__in=(5, 6), status=Session.Status.BOOKED).exists()


def test_a_session_inside_the_notice_period_is_not_moved_online(alice, booked, carla, time_machine):
    time_machine.move_to(booked.starts_at - dt.timedelta(hours=23), tick=False)
    with pytest.raises(ValidationError, match="Please call us"):
        booking.move(
            patient=alice,
            session=booked,
            starts_at=booked.starts_at + dt.timedelta(days=2),
            practitioner_user_id=carla.pk,
            by=alice.user,
        )
    booked.refresh_from_db()
    assert booked.starts_at == dt.datetime(2026, 3, 23, 10, 0, tzinfo=AMS)


def test_two_patients_taking_one_time_at_once_one_wins(request, transactional_db):
    """The desk's service locks and re-checks (on PostgreSQL the reservations' exclusion
    constraint decides): whoever loses is told the time was just taken."""
    clinic = request.getfixturevalue("clinic")
    alice, bob, carla = (request.getfixturevalue(name) for name in ("alice", "bob", "carla"))
    bobs = make_course(bob, practitioner=carla, done=0, booked=0, count=1).sessions.get()
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(patient, session):
        try:
            barrier.wait(timeout=10)
            booking.book(
                patient=patient,
                session=session,
                starts_at=MONDAY_30,
                practitioner_user_id=carla.pk,
                by=patient.user,
            )
            outcomes[patient.first_name] = "won"
        except ValidationError as error:
            outcomes[patient.first_name] = " ".join(error.messages)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=attempt, args=(alice, clinic.sessions.get(number=5))),
        threading.Thread(target=attempt, args=(bob, bobs)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == [
        "Sorry, that time was just taken. Please choose another of the free times below.",
        "won",
    ], outcomes
    assert Session.objects.filter(starts_at=MONDAY_30, status=Session.Status.BOOKED).count() == 1


# --- the pages --------------------------------------------------------------------------------


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice.user)
    return client


def test_alice_sees_the_free_times_of_her_next_session_by_day(
    alice_client, next_session, django_assert_max_num_queries
):
    # 27 measured: the session, the user and roles, the patient (4); the sessions to book (1);
    # the engine's one load (requirement, rooms, practitioners, hours, exceptions, the
    # patient's sessions and their areas, gaps, screening rules and history, areas: 16); the
    # rooms' load and two stretches of reservations (3); the audit event (3). Fixed, however
    # many days or times the page shows.
    with django_assert_max_num_queries(30):
        response = alice_client.get(reverse("portal:book"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Book session 5" in body
    assert "Monday 30 March" in body and "Saturday 4 April" not in body
    assert f"/portal/book/{next_session.pk}/?start=2026-03-30T09:00%2B02:00" in body
    assert f"?session={next_session.pk}&amp;from=2026-04-06" in body  # "Later"
    later = alice_client.get(
        reverse("portal:book"), {"session": next_session.pk, "from": "2026-04-06"}
    )
    assert later.status_code == 200 and "Monday 6 April" in later.content.decode()
    event = AuditEvent.objects.filter(detail="portal book").latest("pk")
    assert event.patient_id == next_session.patient_id


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"from": "2026-02-30"}, "That date does not exist."),
        ({"from": "next week"}, "Give a date as YYYY-MM-DD."),
        ({"session": "five"}, "Give an id"),
        ({"from": "2027-01-01"}, "Online you can book times from"),
    ],
)
def test_a_bad_query_answers_400_with_a_message(alice_client, next_session, query, words):
    if "session" not in query:
        query = {**query, "session": next_session.pk}
    response = alice_client.get(reverse("portal:book"), query)
    assert response.status_code == 400
    assert words in response.content.decode()


def test_alice_books_her_next_session(alice_client, alice, next_session, carla, committed):
    url = reverse("portal:book_session", args=[next_session.pk])
    confirm = alice_client.get(url, choice(MONDAY_30, carla))
    assert confirm.status_code == 200
    assert (
        "Monday 30 March" in confirm.content.decode() and "Carla Jansen" in confirm.content.decode()
    )
    with committed():
        response = alice_client.post(url, choice(MONDAY_30, carla))
    assert response.status_code == 302
    next_session.refresh_from_db()
    assert next_session.status == Session.Status.BOOKED
    assert next_session.starts_at == MONDAY_30 and next_session.practitioner_id == carla.pk
    assert next_session.booking.booked_by == alice.user
    event = AuditEvent.objects.filter(object_id=str(next_session.pk), action="change").latest("pk")
    assert event.detail == "booked for 2026-03-30 09:00 (online)"
    assert event.actor_id == alice.user.pk
    (email,) = mail.outbox
    assert email.to == [alice.email] and "30 March" in email.body


def test_a_time_taken_meanwhile_is_told_and_fresh_times_shown(
    alice_client, bob, next_session, carla
):
    url = reverse("portal:book_session", args=[next_session.pk])
    assert alice_client.get(url, choice(MONDAY_30, carla)).status_code == 200
    # Meanwhile the desk gives Carla's Monday 9:00 to Bob.
    bobs = make_course(bob, practitioner=carla, done=0, booked=0, count=1)
    scheduling_services.session_book(
        session=bobs.sessions.get(),
        starts_at=MONDAY_30,
        practitioner_user_id=carla.pk,
        by=carla,
        notify=False,
    )
    response = alice_client.post(url, choice(MONDAY_30, carla))
    assert response.status_code == 409
    body = response.content.decode()
    assert "that time was just taken" in body
    assert "2026-03-30T09:00" not in body and "2026-03-30T10:00" in body  # fresh times
    next_session.refresh_from_db()
    assert next_session.status == Session.Status.PLANNED


def test_forged_choices_change_nothing(alice_client, next_session, clinic, carla, front_desk_user):
    url = reverse("portal:book_session", args=[next_session.pk])
    not_offered = alice_client.post(url, choice(MONDAY_30 + dt.timedelta(minutes=7), carla))
    assert not_offered.status_code == 409
    outside = alice_client.post(url, choice(dt.datetime(2026, 6, 1, 9, 0, tzinfo=AMS), carla))
    assert outside.status_code == 400 and "Online you can book" in outside.content.decode()
    not_a_practitioner = alice_client.post(url, choice(MONDAY_30, front_desk_user))
    assert not_a_practitioner.status_code == 409
    garbage = alice_client.post(url, {"start": "tomorrow", "practitioner": "carla"})
    assert garbage.status_code == 400
    assert "Give a date and time as YYYY-MM-DDTHH:MM." in garbage.content.decode()
    missing = alice_client.post(url, {})
    assert missing.status_code == 400
    assert "Choose a time from the list of free times." in missing.content.decode()
    later_session = clinic.sessions.get(number=6)
    skipped = alice_client.post(
        reverse("portal:book_session", args=[later_session.pk]), choice(MONDAY_30, carla)
    )
    assert skipped.status_code == 400
    assert not clinic.sessions.filter(number__in=(5, 6), status=Session.Status.BOOKED).exists()
    assert mail.outbox == []


def test_alice_moves_a_session_and_her_open_request_is_answered(
    alice_client, alice, booked, carla, committed, django_assert_max_num_queries
):
    ChangeRequest.objects.create(
        session=booked,
        patient=alice,
        kind="change",
        message="Later that week?",
        session_starts_at=booked.starts_at,
    )
    url = reverse("portal:session_move", args=[booked.pk])
    with django_assert_max_num_queries(32):  # as the booking page, and the refusal's check
        listing = alice_client.get(url)
    assert listing.status_code == 200 and "Move session 4" in listing.content.decode()
    new_time = dt.datetime(2026, 3, 25, 14, 0, tzinfo=AMS)
    assert alice_client.get(url, choice(new_time, carla)).status_code == 200
    with committed():
        response = alice_client.post(url, choice(new_time, carla))
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.starts_at == new_time and booked.status == Session.Status.BOOKED
    event = AuditEvent.objects.filter(object_id=str(booked.pk), action="change").latest("pk")
    assert event.detail == "moved from 2026-03-23 10:00 to 2026-03-25 14:00 (online)"
    assert ChangeRequest.objects.get(session=booked).state == ChangeRequest.State.WITHDRAWN
    emails = [m for m in mail.outbox if m.to == [alice.email]]
    assert len(emails) == 1 and "25 March" in emails[0].body
    home = alice_client.get(reverse("portal:home")).content.decode()
    assert "Wednesday 25 March at 14:00" in home


def test_inside_the_notice_period_the_move_page_says_to_call(
    alice_client, booked, carla, time_machine
):
    time_machine.move_to(booked.starts_at - dt.timedelta(hours=20), tick=False)
    url = reverse("portal:session_move", args=[booked.pk])
    page = alice_client.get(url)
    assert page.status_code == 200 and "Please call us on" in page.content.decode()
    new_time = booked.starts_at + dt.timedelta(days=3)
    assert alice_client.post(url, choice(new_time, carla)).status_code == 400
    booked.refresh_from_db()
    assert booked.starts_at == dt.datetime(2026, 3, 23, 10, 0, tzinfo=AMS)


def test_a_new_patient_books_a_consultation(client, bob, clinic, carla, committed):
    client.force_login(bob.user)
    page = client.get(reverse("portal:book"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Book a consultation" in body and "Wednesday 11 March" in body
    when = dt.datetime(2026, 3, 11, 9, 0, tzinfo=AMS)
    url = reverse("portal:book_consultation")
    assert client.get(url, choice(when, carla)).status_code == 200
    no_area = client.post(url, choice(when, carla))
    assert no_area.status_code == 400
    assert "Choose the area you would like to talk about." in no_area.content.decode()
    assert not TreatmentPlan.objects.filter(patient=bob).exists()
    face = clinic.body_area
    with committed():
        response = client.post(url, {**choice(when, carla), "body_area": face.pk})
    assert response.status_code == 302
    session = Session.objects.get(patient=bob)
    assert session.plan.modality.kind == Modality.Kind.CONSULTATION
    assert session.status == Session.Status.BOOKED and session.starts_at == when
    assert session.plan.created_by == bob.user
    details = set(
        AuditEvent.objects.filter(patient_id=bob.pk, actor=bob.user).values_list(
            "detail", flat=True
        )
    )
    assert "booked for 2026-03-11 09:00 (online)" in details
    (email,) = mail.outbox
    assert email.to == [bob.email]
    # Booked: the next look offers to move it, not a second consultation.
    again = client.post(url, {**choice(when + dt.timedelta(hours=2), carla), "body_area": face.pk})
    assert again.status_code == 400
    assert Session.objects.filter(patient=bob).count() == 1


def test_a_patient_with_a_course_books_its_sessions_not_a_consultation(alice_client, clinic, carla):
    when = dt.datetime(2026, 3, 11, 9, 0, tzinfo=AMS)
    response = alice_client.post(
        reverse("portal:book_consultation"),
        {**choice(when, carla), "body_area": clinic.body_area_id},
    )
    assert response.status_code == 400
    assert "book or move those instead" in response.content.decode()


def test_when_every_session_is_booked_the_page_offers_to_move(alice_client, alice, clinic):
    clinic.sessions.filter(number__in=(5, 6)).update(status=Session.Status.CANCELLED)
    TreatmentPlan.objects.filter(pk=clinic.pk).update(status=TreatmentPlan.Status.STOPPED)
    body = alice_client.get(reverse("portal:book")).content.decode()
    assert "All your sessions are booked" in body
    assert reverse("portal:session_move", args=[clinic.sessions.get(number=4).pk]) in body


def test_the_home_page_links_to_booking_and_moving(alice_client, clinic):
    move = reverse("portal:session_move", args=[clinic.sessions.get(number=4).pk])
    session_page = alice_client.get(
        reverse("portal:session", args=[clinic.sessions.get(number=4).pk])
    )
    assert move in session_page.content.decode()
    assert "Ask for another time" in session_page.content.decode()  # kept beside it
    body = alice_client.get(reverse("portal:home")).content.decode()
    assert 'href="/portal/book/">Book online</a>' in body  # "Still to book: session 5, 6"
    assert reverse("portal:session_move", args=[clinic.sessions.get(number=4).pk]) in body


def test_each_time_is_listed_once_with_the_preferred_practitioner(next_session, clinic, carla):
    """Two practitioners free at the same times: each time once, with the session's own
    practitioner when asked, else the first the engine offers."""
    dirk = StaffFactory(first_name="Dirk", last_name="Bos", role="Clinician")
    PractitionerFactory(user=dirk, modalities=[clinic.modality])
    RoomFactory(name="Room 2")
    for prefer in (dirk, carla):
        first_day = booking.free_times(next_session, prefer_practitioner=prefer.pk).days[0]
        assert len({t.starts_at for t in first_day.times}) == len(first_day.times)
        assert {t.practitioner_user_id for t in first_day.times} == {prefer.pk}


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"from": "30-03-2026"}, "Give a date as YYYY-MM-DD."),
        ({"start": "2026-13-01T09:00", "practitioner": "1"}, "That date and time does not exist."),
        ({"start": "2026-03-25T14:00", "practitioner": "-1"}, "Give an id"),
    ],
)
def test_a_bad_query_on_the_move_page_answers_400(alice_client, booked, query, words):
    response = alice_client.get(reverse("portal:session_move", args=[booked.pk]), query)
    assert response.status_code == 400
    assert words in response.content.decode()
