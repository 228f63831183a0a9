"""Raise the calendar version after any committed change a desk calendar shows.

Every booking service saves the Session, so its signal covers booking, moving, cancelling,
check-in and no-shows; the other senders are what a grid shows beside the sessions (names,
rooms, working hours and their exceptions).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from core.cache import saves_only_last_login
from people.models import Patient
from treatments.models import Modality, Session

from . import calendar
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


def _changed(sender, **kwargs) -> None:
    calendar.calendar_changed()


def _user_changed(sender, update_fields=None, **kwargs) -> None:
    if saves_only_last_login(update_fields):
        return
    calendar.calendar_changed()


def connect() -> None:
    for model in SHOWN_ON_THE_CALENDAR:
        post_save.connect(_changed, sender=model, dispatch_uid=f"calendar-{model.__name__}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"calendar-{model.__name__}-del")
    user = get_user_model()
    post_save.connect(_user_changed, sender=user, dispatch_uid="calendar-user-save")
    post_delete.connect(_changed, sender=user, dispatch_uid="calendar-user-del")
