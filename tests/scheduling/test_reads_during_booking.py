"""Looking at the clinic never waits for a booking in flight (issue 19).

A booking's transaction can take a while: it screens the patient, checks the rule, and may wait
on another booking's uncommitted reservation before it can hold its own. Meanwhile the desk
searches for free time and clinicians open charts, and opening a chart appends an event to the
audit chain. These tests stop a real booking half way through its transaction, on PostgreSQL
(the server's database), and ask with a short lock timeout: a read that queued behind the
booking would be refused by the timeout instead of answering.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_verify
from scheduling import services
from scheduling.models import Reservation
from tests.scheduling.conftest import at
from tests.scheduling.factories import PlanFactory
from treatments.models import Session

pytestmark = pytest.mark.postgres

# Long enough for any read that does not queue behind a lock; far shorter than the hold.
READ_LOCK_TIMEOUT = "200ms"


@pytest.fixture
def pg_clinic(request, transactional_db):
    request.getfixturevalue("postgres")
    return request.getfixturevalue("clinic")


class Rollback(Exception):
    """Ends the blocker's transaction without keeping anything."""


def _waiting_on_a_lock() -> int:
    """How many other connections to this database wait for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _until(condition, *, seconds: float = 20) -> None:
    """Waits for a condition of the database (not for a guessed length of time)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the booking never reached the point the test holds it at")
        time.sleep(0.02)


@pytest.fixture
def chart_client(pg_clinic, clinician_user):
    """Signed in before any booking starts (signing in is written to the audit log too)."""
    client = Client(raise_request_exception=False)
    client.force_login(clinician_user)
    return client


@pytest.fixture
def desk_client(pg_clinic, front_desk_user):
    client = Client(raise_request_exception=False)
    client.force_login(front_desk_user)
    return client


@pytest.fixture
def booking_in_flight(pg_clinic, bob, front_desk_user):
    """A booking of Alice's first session stopped inside its own transaction, after it has
    screened her (an audit event) and while it waits to hold its time: another transaction,
    not yet committed, holds a reservation of Carla at that very time. Released at the end of
    the test, the other transaction rolls back and the booking goes through."""
    clinic = pg_clinic
    when = at(2, 10)
    other = PlanFactory(patient=bob, modality=clinic.micro).sessions.get(number=1)
    held, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def blocker():
        try:
            with transaction.atomic():
                Reservation.objects.create(
                    session=other,
                    resource=clinic.carla.resource_key,
                    starts_at=when,
                    ends_at=when + (at(2, 11) - at(2, 10)),
                )
                held.set()
                release.wait(timeout=60)
                raise Rollback
        except Rollback:
            pass
        finally:
            connections.close_all()

    def booking():
        try:
            outcome["session"] = services.session_book(
                session=clinic.sessions[0],
                starts_at=when,
                practitioner_user_id=clinic.carla.user_id,
                by=front_desk_user,
                notify=False,
            )
        except Exception as error:  # reported by the test
            outcome["error"] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=blocker)]
    threads[0].start()
    assert held.wait(timeout=20)
    threads.append(threading.Thread(target=booking))
    threads[1].start()

    def finish() -> Session:
        """Lets the other transaction roll back; the booking then commits."""
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        release.set()
        for thread in threads:
            thread.join(timeout=60)
        assert "error" not in outcome, outcome.get("error")
        return outcome["session"]

    try:
        _until(lambda: _waiting_on_a_lock() >= 1)
        with connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{READ_LOCK_TIMEOUT}'")
        yield SimpleNamespace(clinic=clinic, finish=finish)
    finally:
        if not release.is_set():
            finish()


def test_a_chart_opens_while_a_booking_is_in_flight(chart_client, booking_in_flight, alice):
    looks = AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, patient_id=alice.pk)
    before = looks.count()

    response = chart_client.get(f"/treatments/patients/{alice.pk}/")

    assert response.status_code == 200
    assert looks.count() == before + 1  # the look is in the log already, not after the booking


def test_the_availability_search_answers_while_a_booking_is_in_flight(
    desk_client, booking_in_flight
):
    session = booking_in_flight.clinic.sessions[1]

    response = desk_client.get(
        "/api/booking/availability/",
        {"session": session.pk, "first_day": "2026-03-16", "last_day": "2026-03-20"},
    )

    assert response.status_code == 200
    assert response.json()["count"] > 0


def test_the_looks_and_the_booking_join_one_chain(chart_client, booking_in_flight, alice):
    """Looks written while the booking waits come before the booking's own events, and the
    chain holds once it commits."""
    for _ in range(3):
        assert chart_client.get(f"/treatments/patients/{alice.pk}/").status_code == 200

    booked = booking_in_flight.finish()

    assert booked.status == Session.Status.BOOKED
    events = list(AuditEvent.objects.filter(patient_id=alice.pk).order_by("id"))
    assert [e.action for e in events][-5:] == ["view"] * 3 + ["create", "change"]
    assert events[-1].detail.startswith("booked for")
    assert audit_verify().ok
