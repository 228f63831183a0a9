"""Helpers for the treatments tests; the catalogue and rules are the seeded ones (0003)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.records import screening_on_record
from treatments import services
from treatments.models import (
    BodyArea,
    DepthLevel,
    Factor,
    Indication,
    Modality,
    Session,
)

AMS = ZoneInfo("Europe/Amsterdam")


class Catalogue:
    def modality(self, kind: str) -> Modality:
        return Modality.objects.get(kind=kind)

    def level(self, kind: str, rank: int) -> DepthLevel:
        return DepthLevel.objects.get(modality__kind=kind, rank=rank)

    def area(self, slug: str) -> BodyArea:
        return BodyArea.objects.get(slug=slug)

    def factor(self, slug: str) -> Factor:
        return Factor.objects.get(slug=slug)

    def indication(self, slug: str) -> Indication:
        return Indication.objects.get(slug=slug)


@pytest.fixture
def catalogue(db) -> Catalogue:
    return Catalogue()


INDICATION_FOR = {
    "microdermabrasion": "dull-dry-rough-skin",
    "microneedling": "acne-scars",
    "laser_peel": "freckles",
    "laser_resurfacing": "sun-damage",
}


@pytest.fixture
def make_plan(catalogue, clinician_user):
    def make(patient, kind: str, first_date: datetime.date, area: str = "face", **kwargs):
        return services.plan_create(
            patient=patient,
            indication=catalogue.indication(INDICATION_FOR[kind]),
            body_area=catalogue.area(area),
            modality=catalogue.modality(kind),
            first_date=first_date,
            by=clinician_user,
            **kwargs,
        )

    return make


def at(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=AMS)


@pytest.fixture
def session_done(make_plan):
    """A completed session of `kind` here on `day` (without going through screening)."""

    def make(patient, kind: str, day: datetime.date, area: str = "face") -> Session:
        plan = make_plan(patient, kind, day, area=area, session_count=1)
        session = plan.sessions.get()
        Session.objects.filter(pk=session.pk).update(
            status=Session.Status.COMPLETED,
            starts_at=at(day),
            ends_at=at(day, 11),
            completed_at=at(day, 11),
            completed_screening=screening_on_record(plan),
        )
        session.refresh_from_db()
        return session

    return make


@pytest.fixture
def session_booked(make_plan):
    def make(patient, kind: str, day: datetime.date, area: str = "face") -> Session:
        plan = make_plan(patient, kind, day, area=area, session_count=1)
        session = plan.sessions.get()
        Session.objects.filter(pk=session.pk).update(
            status=Session.Status.BOOKED, starts_at=at(day), ends_at=at(day, 11)
        )
        session.refresh_from_db()
        return session

    return make
