"""The availability search against the booking rule, on random clinics.

The search has shortcuts of its own (days skipped when no one works, when screening refuses
the day or when every room is full; a clash jumps past the whole busy stretch; reservations
read lazily two weeks at a time). Whatever the working hours, exceptions, bookings, buffers,
rooms and device, every slot it offers is one rules.check() accepts, and every start on the
grid that rules.check() accepts is offered (with the same room).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scheduling import availability, rules
from scheduling.availability import SearchContext
from scheduling.models import (
    AvailabilityException,
    ModalityRequirement,
    Reservation,
    WorkingHours,
)
from tests.records import screening_on_record
from tests.scheduling.conftest import AMS
from tests.scheduling.factories import (
    BodyAreaFactory,
    DepthLevelFactory,
    PlanFactory,
    PractitionerFactory,
    RoomFactory,
)
from treatments.models import Session

FIVE = dt.timedelta(minutes=5)
# March 2026, with the change to summer time on Sunday the 29th.
FIRST = dt.date(2026, 3, 2)


def local(day: dt.date, minutes: int) -> dt.datetime:
    """`minutes` of real time after the local midnight starting `day` (in UTC: adding to a
    local time would count wall-clock minutes across the change to summer time)."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=AMS).astimezone(dt.UTC)
    return midnight + dt.timedelta(minutes=minutes)


def clock(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


# A block of work: from 06:00 to 19:00, half an hour to eight hours long, in five minutes.
block = st.tuples(st.integers(6 * 12, 19 * 12), st.integers(6, 8 * 12)).map(
    lambda b: (b[0] * 5, min(b[0] * 5 + b[1] * 5, 23 * 60 + 55))
)
blocks = st.lists(block, max_size=2)
week = st.dictionaries(st.integers(0, 6), blocks, max_size=7)
exception = st.tuples(
    st.integers(0, 30),  # first day, from FIRST
    st.integers(0, 3),  # days long
    st.sampled_from([AvailabilityException.Kind.OFF, AvailabilityException.Kind.CHANGED]),
    block,
)
# Each resource's bookings one after another from 06:00 the day before the search: (gap,
# length, active) in five minutes; mostly short gaps, so rooms and people are often all busy.
timeline = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 0, 1, 2, 3, 5, 9, 12, 24, 60, 200]),
        st.sampled_from([1, 3, 6, 9, 9, 12, 12, 18, 24, 36, 72, 16 * 12]),
        st.sampled_from([True, True, True, False]),
    ),
    min_size=5,
    max_size=60,
)

clinics = st.fixed_dictionaries(
    {
        "weeks": st.lists(week, min_size=1, max_size=3),
        "exceptions": st.lists(st.tuples(st.integers(0, 2), exception), max_size=3),
        "rooms": st.integers(0, 1),  # besides the fixture's two
        "needs_room": st.booleans(),
        "equipped": st.lists(st.integers(0, 2), max_size=2),
        "laser": st.booleans(),  # the laser course (with its one shared device)
        "minutes": st.sampled_from([15, 30, 45, 50, 60, 90]),
        "buffer": st.sampled_from([0, 5, 10, 15, 30]),
        "busy": st.lists(timeline, min_size=9, max_size=9),
        "session_number": st.integers(1, 3),
        "earlier_session_day": st.one_of(st.none(), st.integers(-20, 25)),
        "later_session_day": st.one_of(st.none(), st.integers(-5, 40)),
        # Another course of the same modality, on the same, an overlapping or another area.
        "other_course": st.one_of(
            st.none(),
            st.tuples(st.sampled_from(["face", "around-eyes", "neck"]), st.integers(-10, 35)),
        ),
        "other_modality_day": st.one_of(st.none(), st.integers(-10, 25)),
        "first_day": st.integers(0, 28),
        "days": st.integers(1, 4),
        "now": st.integers(-24 * 12, 5 * 24 * 12),  # five-minute steps from the first day
        "only": st.one_of(st.none(), st.integers(0, 2)),
        "mornings_only": st.booleans(),
        "step": st.sampled_from([5, 15, 30]),
        "lazy": st.booleans(),
        "order": st.randoms(use_true_random=False),
    }
)


def build(clinic, alice, data):
    """The random clinic in the database; returns the session to search for."""
    course, other = (clinic.laser, clinic.micro) if data["laser"] else (clinic.micro, clinic.laser)
    course.buffer_minutes = data["buffer"]
    course.save(update_fields=["buffer_minutes"])
    plan = PlanFactory(patient=alice, modality=course, session_count=3)
    level = DepthLevelFactory(modality=course)  # the course's sessions are at this level
    level.session_minutes = data["minutes"]
    level.save(update_fields=["session_minutes"])
    sessions = list(plan.sessions.order_by("number"))

    rooms = list(clinic.rooms) + [RoomFactory(name=f"Room {n + 3}") for n in range(data["rooms"])]
    requirement, _ = ModalityRequirement.objects.get_or_create(modality=course)
    requirement.needs_room = data["needs_room"]
    requirement.save(update_fields=["needs_room"])
    requirement.rooms.set([rooms[i] for i in set(data["equipped"]) if i < len(rooms)])

    practitioners = []
    for hours in data["weeks"]:
        practitioner = PractitionerFactory(modalities=[course], hours={})
        WorkingHours.objects.bulk_create(
            WorkingHours(practitioner=practitioner, weekday=d, starts=clock(s), ends=clock(e))
            for d, spans in hours.items()
            for s, e in spans
        )
        practitioners.append(practitioner)
    PractitionerFactory(modalities=[other])  # works, but is not qualified for this course
    for which, (first, length, kind, spans) in data["exceptions"]:
        if which < len(practitioners):
            start, end = spans
            AvailabilityException.objects.create(
                practitioner=practitioners[which],
                first_day=FIRST + dt.timedelta(days=first),
                last_day=FIRST + dt.timedelta(days=first + length),
                kind=kind,
                starts=clock(start) if kind == "changed" else None,
                ends=clock(end) if kind == "changed" else None,
            )

    # Other patients' bookings (and some cancelled ones), never two at once on one resource.
    holder = PlanFactory(modality=course, session_count=1).sessions.get()
    keys = [r.resource_key for r in rooms] + [p.resource_key for p in practitioners]
    keys += [clinic.device.resource_key, f"patient:{alice.pk}"]
    data["order"].shuffle(keys)
    reservations: list[Reservation] = []
    first_day = FIRST + dt.timedelta(days=data["first_day"])
    for key, stretches in zip(keys, data["busy"], strict=False):
        cursor = local(first_day - dt.timedelta(days=1), 6 * 60)
        for gap, length, active in stretches:
            starts = cursor + gap * FIVE
            ends = starts + length * FIVE
            reservations.append(
                Reservation(
                    session=holder, resource=key, starts_at=starts, ends_at=ends, active=active
                )
            )
            if active:
                cursor = ends
    Reservation.objects.bulk_create(reservations)

    session = sessions[data["session_number"] - 1]
    if data["earlier_session_day"] is not None and data["session_number"] > 1:
        starts = local(FIRST + dt.timedelta(days=data["earlier_session_day"]), 10 * 60)
        Session.objects.filter(pk=sessions[0].pk).update(
            status=Session.Status.COMPLETED,
            starts_at=starts,
            ends_at=starts + 4 * FIVE,
            completed_screening=screening_on_record(sessions[0].plan),
        )
    if data["later_session_day"] is not None and data["session_number"] < 3:
        starts = local(FIRST + dt.timedelta(days=data["later_session_day"]), 14 * 60)
        Session.objects.filter(pk=sessions[2].pk).update(
            status=Session.Status.BOOKED, starts_at=starts, ends_at=starts + 6 * FIVE
        )
    if data["other_course"] is not None:
        slug, day = data["other_course"]
        other_course = PlanFactory(
            patient=alice, modality=course, body_area=BodyAreaFactory(slug=slug), session_count=1
        ).sessions.get()
        starts = local(FIRST + dt.timedelta(days=day), 8 * 60)
        Session.objects.filter(pk=other_course.pk).update(
            status=Session.Status.BOOKED, starts_at=starts, ends_at=starts + 6 * FIVE
        )
    if data["other_modality_day"] is not None:
        other_session = PlanFactory(patient=alice, modality=other, session_count=1).sessions.get()
        starts = local(FIRST + dt.timedelta(days=data["other_modality_day"]), 11 * 60)
        Session.objects.filter(pk=other_session.pk).update(
            status=Session.Status.BOOKED, starts_at=starts, ends_at=starts + 6 * FIVE
        )
    only = data["only"]
    only_user = (
        practitioners[only].user_id if only is not None and only < len(practitioners) else None
    )
    return (
        Session.objects.select_related(
            "plan__modality", "plan__body_area", "patient", "depth_level"
        ).get(pk=session.pk),
        only_user,
    )


def accepted_by_the_rule(context: SearchContext, *, now, mornings_only, step) -> list[tuple]:
    """Every start on each practitioner's grid (every `step` from the start of each stretch of
    working time) in the searched days that rules.check() accepts, with its room."""
    accepted = []
    day = context.first_day
    while day <= context.last_day:
        for practitioner in context.practitioners:
            for start, end in availability.work_intervals(practitioner, day):
                moment = start.astimezone(dt.UTC)
                while moment < end:
                    if not (mornings_only and moment.astimezone(AMS).hour >= 12):
                        verdict = rules.check(context, practitioner, moment, now=now)
                        if not verdict.problems:
                            accepted.append((moment, practitioner.pk, verdict.room))
                    moment += step
        day += dt.timedelta(days=1)
    return accepted


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=clinics)
def test_the_search_offers_exactly_the_starts_the_booking_rule_accepts(clinic, alice, data):
    with transaction.atomic():
        session, only_user = build(clinic, alice, data)
        first_day = FIRST + dt.timedelta(days=data["first_day"])
        last_day = first_day + dt.timedelta(days=data["days"] - 1)
        now = local(FIRST, 0) + data["now"] * FIVE
        step = dt.timedelta(minutes=data["step"])
        options = {"mornings_only": data["mornings_only"], "step_minutes": data["step"], "now": now}

        def search():
            return SearchContext.load(
                session,
                first_day,
                last_day,
                practitioner_user_id=only_user,
                lazy_busy=data["lazy"],
            )

        found = search().slots(**options)
        plain = SearchContext.load(session, first_day, last_day, practitioner_user_id=only_user)
        expected = accepted_by_the_rule(
            plain, now=now, mornings_only=data["mornings_only"], step=step
        )

        def key(slot):
            return (slot[0], slot[1], getattr(slot[2], "pk", None))

        offered = [(s.starts_at, s.practitioner.pk, s.room) for s in found]
        assert sorted(offered, key=key) == sorted(expected, key=key)
        assert [s.starts_at for s in found] == sorted(s.starts_at for s in found)
        earliest = search().earliest(**options)
        first = (earliest.starts_at, earliest.practitioner) if earliest else None
        assert first == ((found[0].starts_at, found[0].practitioner) if found else None)
        event("slots offered" if found else "no slot offered")
        transaction.set_rollback(True)
