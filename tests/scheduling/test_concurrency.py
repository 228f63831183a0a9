"""No double booking, ever: many concurrent bookings of one slot.

On PostgreSQL (the real server, under REQUIRE_SERVICES=1) the exclusion constraint decides the
race; on SQLite the same test shows the IMMEDIATE transactions serialising the booking path.
"""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction

from scheduling import services
from scheduling.models import Reservation
from tests.scheduling.conftest import at
from tests.scheduling.factories import PlanFactory
from treatments.models import Session


@pytest.fixture
def pg_clinic(request, transactional_db):
    request.getfixturevalue("postgres")
    return request.getfixturevalue("clinic")


@pytest.fixture
def any_db_clinic(request, transactional_db):
    return request.getfixturevalue("clinic")


def test_many_concurrent_bookings_of_one_slot_one_wins(any_db_clinic, front_desk_user):
    clinic = any_db_clinic
    sessions = [PlanFactory(modality=clinic.micro).sessions.get(number=1) for _ in range(8)]
    barrier = threading.Barrier(len(sessions))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(session):
        try:
            barrier.wait(timeout=10)
            services.session_book(
                session=session,
                starts_at=at(2, 10),
                practitioner_user_id=clinic.carla.user_id,
                by=front_desk_user,
                notify=False,
            )
            result = "won"
        except ValidationError as error:
            result = " ".join(error.messages)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes.count("won") == 1, outcomes
    losers = [o for o in outcomes if o != "won"]
    assert len(losers) == 7
    for message in losers:
        assert "That time was just taken" in message or "already has a session" in message, message
    assert Session.objects.filter(status="booked").count() == 1
    assert Reservation.objects.filter(resource=f"practitioner:{clinic.carla.user_id}").count() == 1


@pytest.mark.postgres
def test_the_database_itself_refuses_overlapping_reservations(pg_clinic):
    session = pg_clinic.sessions[0]
    Reservation.objects.create(
        session=session, resource="room:1", starts_at=at(2, 9), ends_at=at(2, 10)
    )
    # back to back is fine, and cancelled (inactive) ones do not count
    Reservation.objects.create(
        session=session, resource="room:1", starts_at=at(2, 10), ends_at=at(2, 11)
    )
    Reservation.objects.create(
        session=session, resource="room:1", starts_at=at(2, 9), ends_at=at(2, 11), active=False
    )
    with pytest.raises(IntegrityError, match="reservation_no_overlap"), transaction.atomic():
        Reservation.objects.create(
            session=session, resource="room:1", starts_at=at(2, 9, 30), ends_at=at(2, 9, 45)
        )
    assert connection.vendor == "postgresql"
