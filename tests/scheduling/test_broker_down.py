"""A booking is saved and answered even when the broker for its confirmation email is down."""

import time

from clinic.celery import app
from scheduling import services
from tests.scheduling.conftest import at
from tests.services import celery_configured
from treatments.models import Session


def test_booking_with_the_broker_down_is_saved(
    clinic, front_desk_user, django_capture_on_commit_callbacks
):
    with celery_configured(app, task_always_eager=False, broker_url="redis://127.0.0.1:1/0"):
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            session = services.session_book(
                session=clinic.sessions[0],
                starts_at=at(2, 10),
                practitioner_user_id=clinic.carla.user_id,
                by=front_desk_user,
            )
        elapsed = time.monotonic() - started
    assert elapsed < 5
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED
