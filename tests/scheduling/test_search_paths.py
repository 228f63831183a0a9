"""The search's fast paths against the booking rule: every slot it offers is one rules.check()
finds nothing wrong with, and every start rules.check() accepts is offered; a course proposed
with one shared search gives what searching session by session gives."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from scheduling import availability, rules, services
from scheduling.availability import SearchContext, _merged, _unread
from tests.scheduling.conftest import AMS, at
from tests.scheduling.factories import PlanFactory, PractitionerFactory
from treatments.models import Session

MON = dt.date(2026, 3, 2)
FRI = dt.date(2026, 3, 6)
STEP = dt.timedelta(minutes=15)


@pytest.fixture
def busy_week(clinic, front_desk_user):
    """Two practitioners, two rooms, and a week with random bookings of other patients: some
    stretches where both rooms are taken, some where only the practitioner is."""
    dana = PractitionerFactory(modalities=[clinic.micro])
    chance = random.Random(7)
    for day in range(2, 7):
        for hour in range(9, 16):
            for practitioner in (clinic.carla, dana):
                if chance.random() < 0.6:
                    session = PlanFactory(modality=clinic.micro, session_count=1).sessions.get()
                    try:
                        services.session_book(
                            session=session,
                            starts_at=at(day, hour, chance.choice((0, 15, 30))),
                            practitioner_user_id=practitioner.user_id,
                            by=front_desk_user,
                            notify=False,
                        )
                    except Exception:  # noqa: BLE001,S112 (a clash with an earlier booking: skip it)
                        continue
    return dana


def plain_rule(context: SearchContext, *, now, mornings_only=False) -> list[tuple]:
    """Every quarter hour of everyone's working time that rules.check() accepts."""
    accepted = []
    duration = dt.timedelta(minutes=context.minutes)
    day = context.first_day
    while day <= context.last_day:
        for practitioner in context.practitioners:
            for start, end in availability.work_intervals(practitioner, day):
                moment = start
                while moment + duration <= end:
                    local = moment.astimezone(AMS)
                    morning = not (mornings_only and local.hour >= 12)
                    if morning and not rules.check(context, practitioner, moment, now=now).problems:
                        accepted.append((moment, practitioner.pk))
                    moment += STEP
        day += dt.timedelta(days=1)
    return sorted(accepted, key=lambda a: (a[0], str(a[1])))


@pytest.mark.parametrize("mornings_only", [False, True])
def test_the_fast_search_offers_exactly_what_the_plain_rule_accepts(
    clinic, busy_week, mornings_only
):
    now = at(3, 11, 5)  # the middle of Tuesday: earlier starts are gone
    session = clinic.sessions[0]
    found = availability.find_slots(
        session=session, first_day=MON, last_day=FRI, mornings_only=mornings_only, now=now
    )
    context = SearchContext.load(session, MON, FRI)
    expected = plain_rule(context, now=now, mornings_only=mornings_only)
    assert sorted((s.starts_at, s.practitioner.pk) for s in found) == sorted(expected)
    assert len(found) > 10  # the week is busy, not full
    assert all(slot.room is not None for slot in found)
    first = SearchContext.load(session, MON, FRI).earliest(mornings_only=mornings_only, now=now)
    assert (first.starts_at, first.practitioner) == (found[0].starts_at, found[0].practitioner)


def test_a_day_without_a_free_room_is_skipped_whoever_is_free(clinic, busy_week, front_desk_user):
    # Fill both rooms all Monday with Dana's sessions and those of a third practitioner.
    erin = PractitionerFactory(modalities=[clinic.micro])
    PractitionerFactory(modalities=[clinic.micro])  # free all day, but no room is
    monday = availability.find_slots(session=clinic.sessions[0], first_day=MON, last_day=MON)
    for slot in monday:
        for practitioner in (busy_week, erin, clinic.carla):
            session = PlanFactory(modality=clinic.micro, session_count=1).sessions.get()
            try:
                services.session_book(
                    session=session,
                    starts_at=slot.starts_at,
                    practitioner_user_id=practitioner.user_id,
                    by=front_desk_user,
                    notify=False,
                )
            except Exception:  # noqa: BLE001,S112 (taken meanwhile)
                continue
    context = SearchContext.load(clinic.sessions[0], MON, MON)
    assert context.slots(now=at(1, 0)) == []
    assert plain_rule(context, now=at(1, 0)) == []


def test_a_course_proposed_in_one_search_matches_one_search_per_session(
    clinic, busy_week, django_assert_max_num_queries
):
    plan = PlanFactory(patient=clinic.plan.patient, modality=clinic.micro, session_count=4)
    with django_assert_max_num_queries(30):
        proposals = services.course_propose(plan=plan, first_day=MON)
    day = MON
    interval = dt.timedelta(days=max(plan.interval_days, plan.modality.min_interval_days))
    for session, slot in proposals:
        one_by_one = availability.find_slots(
            session=Session.objects.get(pk=session.pk),
            first_day=day,
            last_day=day + dt.timedelta(days=21),
        )
        assert slot is not None
        assert (slot.starts_at, slot.practitioner) == (
            one_by_one[0].starts_at,
            one_by_one[0].practitioner,
        )
        day = slot.starts_at.astimezone(AMS).date() + interval


def test_reading_reservations_in_stretches_reads_each_start_time_once():
    hours = [dt.datetime(2026, 3, 2, h, tzinfo=dt.UTC) for h in range(12)]
    read = _merged([(hours[2], hours[4]), (hours[6], hours[8])])
    assert _unread(read, hours[0], hours[10]) == [
        (hours[0], hours[2]),
        (hours[4], hours[6]),
        (hours[8], hours[10]),
    ]
    assert _unread(read, hours[2], hours[4]) == []
    assert _unread(read, hours[3], hours[7]) == [(hours[4], hours[6])]
    assert _merged([*read, (hours[4], hours[6])]) == [(hours[2], hours[8])]


def test_a_course_search_skips_days_whose_rooms_are_full_without_reading_them(
    clinic, front_desk_user
):
    """A lazy (course) search learns from the rooms' busy minutes that a day is full and never
    reads its reservations; what it proposes is what the plain search finds."""
    tue = MON + dt.timedelta(days=1)
    dana = PractitionerFactory(modalities=[clinic.micro])
    erin = PractitionerFactory(modalities=[clinic.micro])
    for day in (2, 3):  # Monday and Tuesday: both rooms taken from nine to five
        for practitioner in (dana, erin):
            for hour in range(9, 17):
                session = PlanFactory(modality=clinic.micro, session_count=1).sessions.get()
                services.session_book(
                    session=session,
                    starts_at=at(day, hour),
                    practitioner_user_id=practitioner.user_id,
                    by=front_desk_user,
                    notify=False,
                )
    session = Session.objects.select_related("plan__modality", "patient").get(
        pk=clinic.sessions[0].pk
    )
    lazy = SearchContext.load(session, MON, FRI, lazy_busy=True)
    first = lazy.earliest(now=at(1, 0))
    plain = availability.find_slots(session=session, first_day=MON, last_day=FRI, now=at(1, 0))
    assert (first.starts_at, first.practitioner) == (plain[0].starts_at, plain[0].practitioner)
    assert first.starts_at.astimezone(AMS).date() == dt.date(2026, 3, 4)  # Wednesday
    held = dt.timedelta(minutes=lazy.minutes) + lazy.buffer
    assert {(MON, held), (tue, held)} <= lazy._full_days
    assert MON not in lazy.covered and tue not in lazy.covered
