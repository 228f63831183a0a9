"""Alice's file with one object of every kind that has its own URL, for the access matrix."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from photos import services as photo_services
from photos.models import Comparison, Photo
from tests.photos.conftest import create_plan, upload_file
from tests.scheduling.conftest import clinic, frozen  # noqa: F401 - for the booking machine
from treatments import services as treatment_services
from treatments.models import Factor, HistoryEntry, Screening, Session, TreatmentPlan


@dataclass
class AliceFile:
    patient: object
    plan: TreatmentPlan
    session: Session
    screening: Screening
    history: HistoryEntry
    photo: Photo
    comparison: Comparison

    @property
    def secrets(self) -> list[str]:
        """What of Alice may never appear in a refused answer."""
        p = self.patient
        return [p.first_name, p.last_name, p.email, p.date_of_birth.isoformat(), p.phone]


@pytest.fixture
def alice_file(alice, clinician_user, django_capture_on_commit_callbacks) -> AliceFile:
    plan = create_plan(alice, sessions=2)
    first, last = plan.sessions.order_by("number")
    with django_capture_on_commit_callbacks(execute=True):
        photos = [
            photo_services.photo_upload(
                session=session,
                body_area=plan.body_area,
                view="frontal",
                phase=phase,
                purposes=("clinical", "portal"),
                file=upload_file("photo.jpg"),
                by=clinician_user,
            )
            for session, phase in ((first, "before"), (last, "after"))
        ]
    comparison = Comparison.objects.filter(plan=plan).order_by("id").first()
    with django_capture_on_commit_callbacks(execute=True):
        photo_services.comparison_release(comparison=comparison, released=True, by=clinician_user)
    comparison.refresh_from_db()
    screening = treatment_services.screening_create(
        patient=alice,
        modality=plan.modality,
        on=dt.date(2026, 3, 2),
        occasion=Screening.Occasion.PLANNING,
        findings=[],
        plan=plan,
        by=clinician_user,
    )
    history = HistoryEntry.objects.create(
        patient=alice,
        factor=Factor.objects.filter(kind=Factor.Kind.CONDITION).first() or Factor.objects.first(),
        started_on=dt.date(2020, 1, 1),
    )
    return AliceFile(alice, plan, first, screening, history, photos[0], comparison)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, which the test may stop and start (tests/resilience
    /redis_server.py); stopped at the end."""
    from tests.resilience.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()
