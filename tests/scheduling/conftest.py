from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine

from scheduling.models import CrossModalityGap, ModalityRequirement
from tests.scheduling.factories import (
    DepthLevelFactory,
    DeviceFactory,
    ModalityFactory,
    PlanFactory,
    PractitionerFactory,
    RoomFactory,
)
from treatments.models import Modality

AMS = ZoneInfo("Europe/Amsterdam")
# Monday 2 March 2026, 08:00 in Amsterdam: the clinic opens at nine.
NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=AMS)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=AMS)


def book(clinic, session, when, by):
    """Books the session with Carla, without the confirmation email."""
    from scheduling import services

    return services.session_book(
        session=session,
        starts_at=when,
        practitioner_user_id=clinic.carla.user_id,
        by=by,
        notify=False,
    )


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def clinic(db, clinician_user, alice, frozen):
    """A small clinic: microdermabrasion (45 min + 15 buffer), laser with the one shared laser,
    two rooms, Carla qualified for both (Mon-Fri 9-17), Alice with a 4-session course."""
    micro = ModalityFactory(kind=Modality.Kind.MICRODERMABRASION, buffer_minutes=15)
    laser = ModalityFactory(kind=Modality.Kind.LASER_PEEL, buffer_minutes=15, min_interval_days=28)
    # The seeded catalogue already has these first levels; the test fixes their durations.
    for modality, minutes in ((micro, 45), (laser, 60)):
        level = DepthLevelFactory(modality=modality)
        level.session_minutes = minutes
        level.save(update_fields=["session_minutes"])
    rooms = [RoomFactory(name="Room 1"), RoomFactory(name="Room 2")]
    device = DeviceFactory(name="Laser")
    ModalityRequirement.objects.create(modality=laser, device=device)
    CrossModalityGap.objects.update_or_create(after=laser, then=micro, defaults={"days": 7})
    carla = PractitionerFactory(user=clinician_user, modalities=[micro, laser])
    plan = PlanFactory(patient=alice, modality=micro, session_count=4, interval_days=14)
    return SimpleNamespace(
        micro=micro,
        laser=laser,
        rooms=rooms,
        device=device,
        carla=carla,
        plan=plan,
        sessions=list(plan.sessions.order_by("number")),
    )
