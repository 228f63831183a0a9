"""The demo clinic's calendar: two practitioners, three rooms and the shared laser. Idempotent."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from treatments.models import Modality

from .models import CrossModalityGap, Device, ModalityRequirement, Practitioner, Room, WorkingHours

DEMO_PRACTITIONERS = [("clinician", "teal"), ("clinician2", "plum")]
ROOMS = ["Room 1", "Room 2", "Room 3"]
LASER_KINDS = (Modality.Kind.LASER_PEEL, Modality.Kind.LASER_RESURFACING)


def load() -> None:
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
                    practitioner=practitioner, weekday=day, starts=dt.time(9), ends=dt.time(17)
                )
                for day in range(5)
            )
