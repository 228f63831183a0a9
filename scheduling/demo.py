"""The demo clinic's calendar: two practitioners, three rooms and the shared laser. Idempotent."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from people.demo import OPENING_HOURS, OPENING_WEEKDAYS
from treatments.models import Modality, Session, TreatmentPlan

from .models import CrossModalityGap, Device, ModalityRequirement, Practitioner, Room, WorkingHours

DEMO_PRACTITIONERS = [("clinician", "teal"), ("clinician2", "plum")]
ROOMS = ["Room 1", "Room 2", "Room 3"]
LASER_KINDS = (Modality.Kind.LASER_PEEL, Modality.Kind.LASER_RESURFACING)


def load() -> None:
    _resources()
    _book_upcoming_sessions()


def _book_upcoming_sessions() -> None:
    """Books the demo courses' planned sessions from two days on, through the real booking path,
    so the calendar, the check-in list and the portal show a course under way."""
    from .availability import find_slots
    from .services import session_book

    front_desk = get_user_model().objects.filter(username="frontdesk").first()
    # Two days ahead at the earliest, so a patient can still cancel within the notice period.
    earliest = timezone.localdate() + dt.timedelta(days=2)
    planned = (
        Session.objects.filter(
            status=Session.Status.PLANNED,
            plan__status=TreatmentPlan.Status.ACTIVE,
            proposed_date__isnull=False,
        )
        .select_related("plan__modality", "plan__body_area", "patient", "depth_level")
        .order_by("plan_id", "number")
    )
    for session in planned:
        first_day = max(session.proposed_date, earliest)
        slots = find_slots(
            session=session, first_day=first_day, last_day=first_day + dt.timedelta(days=10)
        )
        # A mid-morning slot reads better in a demo than the first minute of the day.
        slot = next((s for s in slots if timezone.localtime(s.starts_at).hour >= 10), None)
        if slot is None:
            continue
        try:
            session_book(
                session=session,
                starts_at=slot.starts_at,
                practitioner_user_id=slot.practitioner.user_id,
                by=front_desk,
                notify=False,
            )
        except ValidationError:
            continue  # the demo shows what the rules allow; a refused session stays planned


def _resources() -> None:
    modalities = list(Modality.objects.all())
    rooms = [Room.objects.get_or_create(name=name)[0] for name in ROOMS]
    laser, _ = Device.objects.get_or_create(name="Laser")
    for modality in modalities:
        if modality.kind in LASER_KINDS:
            requirement, _ = ModalityRequirement.objects.get_or_create(
                modality=modality, defaults={"device": laser}
            )
            if not requirement.rooms.exists():
                requirement.rooms.set(rooms[:2])
    by_kind = {m.kind: m for m in modalities}
    for kind in LASER_KINDS:
        if kind in by_kind and Modality.Kind.MICRODERMABRASION in by_kind:
            CrossModalityGap.objects.get_or_create(
                after=by_kind[kind],
                then=by_kind[Modality.Kind.MICRODERMABRASION],
                defaults={"days": 7},
            )
    users = get_user_model().objects.filter(username__in=[u for u, _ in DEMO_PRACTITIONERS])
    colours = dict(DEMO_PRACTITIONERS)
    for user in users:
        practitioner, created = Practitioner.objects.get_or_create(
            user=user, defaults={"colour": colours[user.username]}
        )
        practitioner.modalities.add(*modalities)
        if created or not practitioner.working_hours.exists():
            WorkingHours.objects.bulk_create(
                WorkingHours(
                    practitioner=practitioner,
                    weekday=day,
                    starts=OPENING_HOURS[0],
                    ends=OPENING_HOURS[1],
                )
                for day in OPENING_WEEKDAYS
            )
