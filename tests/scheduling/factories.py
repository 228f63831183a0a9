"""Catalogue, plan and scheduling rows for the booking tests (the catalogue seed is elsewhere)."""

from __future__ import annotations

import datetime as dt

import factory

from scheduling.models import Device, Practitioner, Room, WorkingHours
from tests.factories import PatientFactory, StaffFactory
from treatments.models import BodyArea, DepthLevel, Modality, Session, TreatmentPlan


class CatalogueFactory(factory.django.DjangoModelFactory):
    """The catalogue is seeded by migrations: a test's values replace the seeded row's."""

    class Meta:
        abstract = True

    @classmethod
    def _get_or_create(cls, model_class, *args, **kwargs):
        lookup = {key: kwargs.pop(key) for key in cls._meta.django_get_or_create}
        instance, _ = model_class.objects.update_or_create(**lookup, defaults=kwargs)
        return instance


class ModalityFactory(CatalogueFactory):
    class Meta:
        model = Modality
        django_get_or_create = ("kind",)

    kind = Modality.Kind.MICRODERMABRASION
    name = factory.LazyAttribute(lambda m: Modality.Kind(m.kind).label)
    min_interval_days = 7
    buffer_minutes = 15


class DepthLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DepthLevel
        django_get_or_create = ("modality", "rank")

    modality = factory.SubFactory(ModalityFactory)
    rank = 1
    name = factory.LazyAttribute(lambda level: f"Level {level.rank}")
    session_minutes = 45


class BodyAreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BodyArea
        django_get_or_create = ("slug",)

    name = "Face"
    slug = "face"


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentPlan
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)
    modality = factory.SubFactory(ModalityFactory)
    body_area = factory.SubFactory(BodyAreaFactory)
    session_count = 4
    interval_days = 14

    @factory.post_generation
    def sessions(plan, create, extracted, **kwargs):
        """Creates the plan's planned sessions at the modality's first level."""
        if not create:
            return
        level = DepthLevelFactory(modality=plan.modality)
        for number in range(1, plan.session_count + 1):
            Session.objects.create(
                plan=plan, patient=plan.patient, number=number, depth_level=level
            )


class PractitionerFactory(factory.django.DjangoModelFactory):
    """Works Monday to Friday, 9:00 to 17:00, unless `hours` says otherwise."""

    class Meta:
        model = Practitioner
        skip_postgeneration_save = True

    user = factory.SubFactory(StaffFactory, role="Clinician")

    @factory.post_generation
    def modalities(practitioner, create, extracted, **kwargs):
        if create and extracted:
            practitioner.modalities.set(extracted)

    @factory.post_generation
    def hours(practitioner, create, extracted, **kwargs):
        if not create:
            return
        days = extracted if extracted is not None else {d: (9, 17) for d in range(5)}
        for weekday, (start, end) in days.items():
            WorkingHours.objects.create(
                practitioner=practitioner,
                weekday=weekday,
                starts=dt.time(start),
                ends=dt.time(end) if end < 24 else dt.time(23, 59),
            )


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Room {n + 1}")


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device
        django_get_or_create = ("name",)

    name = "Laser"
