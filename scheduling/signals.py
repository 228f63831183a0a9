"""Raise the calendar version after any committed change a desk calendar shows.

Every booking service saves the Session, so its signal covers booking, moving, cancelling,
check-in and no-shows; the other senders are what a grid shows beside the sessions (names,
rooms, working hours and their exceptions).
"""

from __future__ import annotations

from core import versions
from people.models import Patient
from treatments.models import Modality, Session

from .models import AvailabilityException, Booking, Practitioner, Room, WorkingHours

SHOWN_ON_THE_CALENDAR = (
    Session,
    Booking,
    Patient,
    Practitioner,
    WorkingHours,
    AvailabilityException,
    Room,
    Modality,
)


def connect() -> None:
    versions.raise_on_change(versions.CALENDAR, SHOWN_ON_THE_CALENDAR, users=True)
