"""Random sequences of book, move and cancel on PostgreSQL never leave two active sessions
overlapping for a practitioner, a room or a device (checked in SQL after every step)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from scheduling import services
from tests.scheduling.conftest import at
from tests.scheduling.factories import PlanFactory, PractitionerFactory
from treatments.models import Session

ACTIVE = ("booked", "checked_in")

OVERLAPS = {
    "reservations on one resource": """
        SELECT a.id, b.id FROM scheduling_reservation a
        JOIN scheduling_reservation b ON a.resource = b.resource AND a.id < b.id
        WHERE a.active AND b.active AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
    """,
    "sessions of one practitioner": """
        SELECT a.id, b.id FROM treatments_session a
        JOIN treatments_session b ON a.practitioner_id = b.practitioner_id AND a.id < b.id
        WHERE a.status IN %(active)s AND b.status IN %(active)s
          AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
    """,
    "sessions in one room": """
        SELECT a.id, b.id FROM treatments_session a
        JOIN scheduling_booking ba ON ba.session_id = a.id
        JOIN scheduling_booking bb ON bb.room_id = ba.room_id
        JOIN treatments_session b ON b.id = bb.session_id AND a.id < b.id
        WHERE a.status IN %(active)s AND b.status IN %(active)s
          AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
    """,
    "sessions on one device": """
        SELECT a.id, b.id FROM treatments_session a
        JOIN scheduling_booking ba ON ba.session_id = a.id
        JOIN scheduling_booking bb ON bb.device_id = ba.device_id
        JOIN treatments_session b ON b.id = bb.session_id AND a.id < b.id
        WHERE a.status IN %(active)s AND b.status IN %(active)s
          AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
    """,
    "an active session without its practitioner's hold": """
        SELECT s.id, s.practitioner_id FROM treatments_session s
        WHERE s.status IN %(active)s AND NOT EXISTS (
            SELECT 1 FROM scheduling_reservation r WHERE r.session_id = s.id AND r.active
              AND r.resource = 'practitioner:' || s.practitioner_id::text
              AND r.starts_at = s.starts_at)
    """,
    "a cancelled session still holding a resource": """
        SELECT s.id, r.id FROM treatments_session s
        JOIN scheduling_reservation r ON r.session_id = s.id AND r.active
        WHERE s.status NOT IN %(active)s
    """,
}

# The first week of March 2026 (the clinic fixture freezes time on Monday the 2nd, 08:00).
times = st.builds(
    lambda day, quarter: at(day, 9) + dt.timedelta(minutes=15 * quarter),
    st.integers(2, 4),
    st.integers(0, 30),
)


class Booking(RuleBasedStateMachine):
    """One run of the machine; every run starts from the same clinic (a savepoint)."""

    world = None  # set by the test: sessions, practitioner user ids, the desk user

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint_create()

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    def _try(self, action, **kwargs):
        try:
            with transaction.atomic():
                action(**kwargs, by=self.world.desk)
        except ValidationError:
            self.world.done["refused"] += 1  # with a message; the invariant checks what stayed
        else:
            self.world.done[action.__name__] += 1

    @rule(data=st.data(), starts_at=times)
    def book(self, data, starts_at):
        session = data.draw(st.sampled_from(self.world.sessions))
        self._try(
            services.session_book,
            session=Session.objects.get(pk=session.pk),
            starts_at=starts_at,
            practitioner_user_id=data.draw(st.sampled_from(self.world.practitioners)),
            notify=False,
        )

    @rule(data=st.data(), starts_at=times)
    def move(self, data, starts_at):
        booked = list(Session.objects.filter(status="booked", pk__in=self.world.ids))
        if booked:
            self._try(
                services.session_reschedule,
                session=data.draw(st.sampled_from(booked)),
                starts_at=starts_at,
                practitioner_user_id=data.draw(st.sampled_from(self.world.practitioners)),
            )

    @rule(data=st.data())
    def cancel(self, data):
        booked = list(Session.objects.filter(status="booked", pk__in=self.world.ids))
        if booked:
            self._try(
                services.session_cancel,
                session=data.draw(st.sampled_from(booked)),
                cancelled_by="clinic",
                reason="property test",
            )

    @invariant()
    def nothing_overlaps(self):
        with connection.cursor() as cursor:
            for what, sql in OVERLAPS.items():
                cursor.execute(sql, {"active": ACTIVE})
                rows = cursor.fetchall()
                assert not rows, f"{what}: {rows}"


def test_random_book_move_cancel_never_overlaps(postgres, clinic, front_desk_user):
    dora = PractitionerFactory(modalities=[clinic.micro, clinic.laser])
    plans = [PlanFactory(modality=clinic.micro, session_count=2) for _ in range(3)]
    plans += [PlanFactory(modality=clinic.laser, session_count=2) for _ in range(2)]
    sessions = [clinic.sessions[0]] + [s for p in plans for s in p.sessions.order_by("number")]

    class World:
        pass

    world = World()
    world.sessions = sessions
    world.ids = [s.pk for s in sessions]
    world.practitioners = [clinic.carla.user_id, dora.user_id]
    world.desk = front_desk_user
    world.done = Counter()
    Booking.world = world
    run_state_machine_as_test(
        Booking,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            # The same runs whatever pytest-randomly's seed: with a random one, 15 short runs
            # now and then never reached a successful cancellation, and the check below failed.
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    # The machine did reach every operation, not only refusals.
    assert min(world.done[n] for n in ("session_book", "session_reschedule", "session_cancel")), (
        world.done
    )
