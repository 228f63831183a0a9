"""A small clinic whose sessions are placed by hand, so each report's figure can be worked out
on paper: sessions put straight into the state the desk and the clinicians would leave them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from scheduling.models import Booking
from tests.records import screening_on_record
from tests.scheduling.factories import (
    DeviceFactory,
    ModalityFactory,
    PlanFactory,
    PractitionerFactory,
    RoomFactory,
)
from treatments.models import Modality, Session

AMS = ZoneInfo("Europe/Amsterdam")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=AMS)


class Placer:
    """Puts sessions of fresh courses at given times, in given states."""

    def __init__(self, practitioner, room, device):
        self.practitioner = practitioner
        self.room = room
        self.device = device
        self._free: list[Session] = []

    def session(self, modality: Modality | None = None) -> Session:
        modality = modality or ModalityFactory(kind="microdermabrasion")
        plan = PlanFactory(modality=modality, session_count=1)
        return plan.sessions.get()

    def put(
        self,
        starts_at: dt.datetime,
        status: str = Session.Status.COMPLETED,
        *,
        minutes: int = 60,
        modality: Modality | None = None,
        practitioner=None,
        room=None,
        device=None,
        late: bool = False,
        session: Session | None = None,
    ) -> Session:
        session = session or self.session(modality)
        practitioner = practitioner or self.practitioner
        fields = {
            "status": status,
            "starts_at": starts_at,
            "ends_at": starts_at + dt.timedelta(minutes=minutes),
            "practitioner_id": practitioner.user_id,
        }
        if status == Session.Status.COMPLETED:
            fields["completed_at"] = fields["ends_at"]
            fields["completed_screening"] = screening_on_record(session.plan)
        Session.objects.filter(pk=session.pk).update(**fields)
        Booking.objects.update_or_create(
            session=session,
            defaults={
                "room": room or self.room,
                "device": device,
                "cancelled_late": late,
                "cancelled_at": starts_at if status == Session.Status.CANCELLED else None,
                "cancelled_by": "patient" if status == Session.Status.CANCELLED else "",
            },
        )
        session.refresh_from_db()
        return session


@pytest.fixture
def placer(db):
    practitioner = PractitionerFactory(modalities=[ModalityFactory(kind="microdermabrasion")])
    return Placer(practitioner, RoomFactory(name="Room 1"), DeviceFactory(name="Laser"))
