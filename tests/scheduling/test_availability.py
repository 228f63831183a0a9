"""The availability engine, without HTTP."""

from __future__ import annotations

import datetime as dt

import time_machine

from scheduling.availability import find_slots
from scheduling.models import AvailabilityException, ModalityRequirement
from scheduling.services import session_book
from tests.scheduling.conftest import AMS, at
from tests.scheduling.factories import PlanFactory, PractitionerFactory
from treatments.models import Modality

MON = dt.date(2026, 3, 2)


def local_starts(slots, practitioner=None):
    return [
        s.starts_at.astimezone(AMS).strftime("%d %H:%M")
        for s in slots
        if practitioner is None or s.practitioner == practitioner
    ]


def test_a_free_day_offers_every_quarter_from_nine_until_the_session_fits(clinic):
    slots = find_slots(session=clinic.sessions[0], first_day=MON, last_day=MON)
    starts = local_starts(slots)
    assert starts[0] == "02 09:00"
    assert starts[-1] == "02 16:15"  # 45 minutes end at 17:00
    assert len(starts) == 30
    assert slots[0].room is not None and slots[0].device is None


def test_weekends_are_closed_and_the_past_is_not_offered(clinic, frozen):
    frozen.move_to(at(2, 12, 5))
    slots = find_slots(session=clinic.sessions[0], first_day=dt.date(2026, 2, 28), last_day=MON)
    assert local_starts(slots)[0] == "02 12:15"


def test_another_patients_session_blocks_the_practitioner_with_its_cleaning_buffer(
    clinic, bob, front_desk_user
):
    other = PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1)
    session_book(
        session=other,
        starts_at=at(2, 10),
        practitioner_user_id=clinic.carla.user_id,
        by=front_desk_user,
        notify=False,
    )
    starts = local_starts(find_slots(session=clinic.sessions[0], first_day=MON, last_day=MON))
    # Bob holds 10:00-10:45 plus 15 minutes of cleaning.
    assert "02 09:00" in starts
    assert "02 09:15" not in starts
    assert "02 10:45" not in starts
    assert "02 11:00" in starts


def test_exceptions_replace_the_weeks_hours(clinic):
    AvailabilityException.objects.create(
        practitioner=clinic.carla, first_day=MON, last_day=MON, kind="off", reason="Sick"
    )
    tuesday = dt.date(2026, 3, 3)
    AvailabilityException.objects.create(
        practitioner=clinic.carla,
        first_day=tuesday,
        last_day=tuesday,
        kind="changed",
        starts=dt.time(13),
        ends=dt.time(15),
        reason="Afternoon only",
    )
    starts = local_starts(find_slots(session=clinic.sessions[0], first_day=MON, last_day=tuesday))
    assert starts[0] == "03 13:00"
    assert starts[-1] == "03 14:15"


def test_mornings_only_and_a_chosen_practitioner(clinic, db):
    dave = PractitionerFactory(modalities=[clinic.micro], hours={0: (12, 18)})
    slots = find_slots(session=clinic.sessions[0], first_day=MON, last_day=MON, mornings_only=True)
    assert {s.practitioner for s in slots} == {clinic.carla}
    assert local_starts(slots)[-1] == "02 11:45"
    only_dave = find_slots(
        session=clinic.sessions[0], first_day=MON, last_day=MON, practitioner_user_id=dave.user_id
    )
    assert local_starts(only_dave)[0] == "02 12:00"


def test_unqualified_practitioners_are_not_offered(clinic):
    PractitionerFactory(modalities=[clinic.laser])
    slots = find_slots(session=clinic.sessions[0], first_day=MON, last_day=MON)
    assert {s.practitioner for s in slots} == {clinic.carla}


def test_the_courses_minimum_interval_is_honoured(clinic, front_desk_user):
    session_book(
        session=clinic.sessions[0],
        starts_at=at(2, 9),
        practitioner_user_id=clinic.carla.user_id,
        by=front_desk_user,
        notify=False,
    )
    slots = find_slots(session=clinic.sessions[1], first_day=MON, last_day=dt.date(2026, 3, 13))
    assert local_starts(slots)[0] == "09 09:00"  # 7 days after 2 March


def test_no_microdermabrasion_within_seven_days_after_laser(clinic, alice, front_desk_user):
    laser_session = PlanFactory(patient=alice, modality=clinic.laser).sessions.get(number=1)
    session_book(
        session=laser_session,
        starts_at=at(3, 9),
        practitioner_user_id=clinic.carla.user_id,
        by=front_desk_user,
        notify=False,
    )
    slots = find_slots(session=clinic.sessions[0], first_day=MON, last_day=dt.date(2026, 3, 13))
    days = sorted({s.starts_at.astimezone(AMS).day for s in slots})
    # Before the laser is fine (the 2nd); after it, not while 3 March is within 7 days
    # (day 7, the 10th, still counts, as in screening's look-back windows).
    assert days == [2, 11, 12, 13]


def test_the_shared_laser_is_one_session_at_a_time_across_rooms(
    clinic, alice, bob, front_desk_user
):
    dave = PractitionerFactory(modalities=[clinic.laser])
    first = PlanFactory(patient=bob, modality=clinic.laser).sessions.get(number=1)
    session_book(
        session=first,
        starts_at=at(2, 10),
        practitioner_user_id=clinic.carla.user_id,
        by=front_desk_user,
        notify=False,
    )
    mine = PlanFactory(patient=alice, modality=clinic.laser).sessions.get(number=1)
    starts = local_starts(find_slots(session=mine, first_day=MON, last_day=MON), dave)
    # Bob's laser session holds the device 10:00-11:15; a room is free, the laser is not
    # (and an hour from 9:00 plus cleaning would run into it).
    assert starts[0] == "02 11:15"
    assert "02 09:00" not in starts


def test_a_modality_without_a_device_does_not_wait_for_the_laser(clinic, bob, front_desk_user):
    assert not ModalityRequirement.objects.filter(modality=clinic.micro).exists()
    dave = PractitionerFactory(modalities=[clinic.laser, clinic.micro])
    laser = PlanFactory(patient=bob, modality=clinic.laser).sessions.get(number=1)
    session_book(
        session=laser,
        starts_at=at(2, 10),
        practitioner_user_id=clinic.carla.user_id,
        by=front_desk_user,
        notify=False,
    )
    starts = local_starts(find_slots(session=clinic.sessions[0], first_day=MON, last_day=MON), dave)
    assert "02 10:00" in starts


def _sunday_slots(clinic, day):
    night = PractitionerFactory(
        modalities=[Modality.objects.get(kind="microdermabrasion")], hours={6: (0, 6)}
    )
    clinic.sessions[0].depth_level.session_minutes = 60
    clinic.sessions[0].depth_level.save()
    clinic.micro.buffer_minutes = 0
    clinic.micro.save()
    with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=AMS), tick=False):
        slots = find_slots(
            session=clinic.sessions[0],
            first_day=day,
            last_day=day,
            practitioner_user_id=night.user_id,
            step_minutes=60,
        )
    return slots


def test_spring_forward_has_only_the_hours_that_exist(clinic):
    slots = _sunday_slots(clinic, dt.date(2026, 3, 29))
    assert [s.starts_at.astimezone(AMS).strftime("%H:%M") for s in slots] == [
        "00:00",
        "01:00",
        "03:00",
        "04:00",
        "05:00",
    ]
    assert slots[2].starts_at - slots[1].starts_at == dt.timedelta(hours=1)
    assert all(s.ends_at - s.starts_at == dt.timedelta(hours=1) for s in slots)


def test_fall_back_offers_the_repeated_hour_twice(clinic):
    slots = _sunday_slots(clinic, dt.date(2026, 10, 25))
    assert len(slots) == 7  # six hours on the clock, seven real ones
    assert [s.starts_at.astimezone(AMS).strftime("%H:%M") for s in slots].count("02:00") == 2
    utc_hours = [s.starts_at.astimezone(dt.UTC).hour for s in slots]
    assert utc_hours == [22, 23, 0, 1, 2, 3, 4]


def test_working_hours_on_dst_days_are_local_hours(clinic):
    PractitionerFactory(modalities=[clinic.micro], hours={6: (9, 12)})
    for day, utc_hour in [(dt.date(2026, 3, 29), 7), (dt.date(2026, 10, 25), 8)]:
        with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=AMS), tick=False):
            slots = find_slots(session=clinic.sessions[0], first_day=day, last_day=day)
        assert slots[0].starts_at.astimezone(dt.UTC).hour == utc_hour
        assert slots[0].starts_at.astimezone(AMS).hour == 9


def test_the_search_loads_its_data_once(clinic, bob, front_desk_user, django_assert_num_queries):
    session = clinic.sessions[0]
    for day in (2, 3, 4):
        other = PlanFactory(patient=bob, modality=clinic.micro, session_count=1).sessions.get()
        session_book(
            session=other,
            starts_at=at(day, 11),
            practitioner_user_id=clinic.carla.user_id,
            by=front_desk_user,
            notify=False,
        )
        bob = other.plan.patient.__class__.objects.create(
            first_name="B", last_name=str(day), date_of_birth=dt.date(1990, 1, 1)
        )
    session = session.__class__.objects.get(pk=session.pk)
    # 1 the session's plan, 2 its modality, 3 the modality's requirement (none), 4 all rooms,
    # 5 qualified practitioners, 6 their working hours, 7 their exceptions in range,
    # 8 reservations in range, 9 the session's depth level (duration), 10 the patient's other
    # sessions (and the areas they treated, when there are any), 11 cross-modality gaps;
    # screening data, once for the whole range: 12 the patient, 13 active screening rules,
    # 14 their modalities, 15 their levels, 16 the modalities their factors count, 17 the
    # patient's history, 18 the patient's sessions here, 19 their areas, 20 the body areas'
    # hierarchy. The same for a month as for a day, however many sessions are booked.
    with django_assert_num_queries(20):
        find_slots(session=session, first_day=MON, last_day=dt.date(2026, 3, 31))


def test_overlapping_weekly_blocks_offer_each_time_once(clinic):
    """Older data may hold overlapping blocks (the admin now refuses them): counted once."""
    from scheduling.models import WorkingHours

    WorkingHours.objects.filter(practitioner=clinic.carla, weekday=0).delete()
    for starts, ends in ((9, 13), (12, 17)):
        WorkingHours.objects.create(
            practitioner=clinic.carla, weekday=0, starts=dt.time(starts), ends=dt.time(ends)
        )
    starts = local_starts(find_slots(session=clinic.sessions[0], first_day=MON, last_day=MON))
    assert len(starts) == len(set(starts)) == 30  # 09:00 to 16:15, as one 9-17 block
    assert "02 12:30" in starts  # across where the first block ended
