"""Courses and sessions to hang photos on, made directly (the treatments app's services are
another helper's work), and a helper that uploads a test image through the real service."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from photos import services
from tests.photos import images
from tests.records import screening_on_record
from treatments.models import BodyArea, DepthLevel, Modality, Session, TreatmentPlan


@pytest.fixture
def face(db):
    return BodyArea.objects.get_or_create(slug="face", defaults={"name": "Face"})[0]


def create_plan(patient, *, sessions: int = 3, area=None) -> TreatmentPlan:
    """A microdermabrasion course with its sessions, completed fortnightly from 2 March 2026."""
    if area is None:
        area = BodyArea.objects.get_or_create(slug="face", defaults={"name": "Face"})[0]
    modality, _ = Modality.objects.get_or_create(
        kind=Modality.Kind.MICRODERMABRASION, defaults={"name": "Microdermabrasion"}
    )
    level, _ = DepthLevel.objects.get_or_create(
        modality=modality, rank=2, defaults={"name": "Level II"}
    )
    plan = TreatmentPlan.objects.create(
        patient=patient,
        modality=modality,
        body_area=area,
        session_count=sessions,
        interval_days=14,
    )
    start = timezone.make_aware(dt.datetime(2026, 3, 2, 10, 0))
    on_record = screening_on_record(plan)
    for number in range(1, sessions + 1):
        Session.objects.create(
            plan=plan,
            patient=patient,
            number=number,
            depth_level=level,
            status=Session.Status.COMPLETED,
            completed_screening=on_record,
            starts_at=start + dt.timedelta(days=14 * (number - 1)),
            ends_at=start + dt.timedelta(days=14 * (number - 1), minutes=45),
        )
    return plan


@pytest.fixture
def make_plan(db, face):
    def make(patient, *, sessions: int = 3, area=None):
        return create_plan(patient, sessions=sessions, area=area or face)

    return make


@pytest.fixture
def alice_plan(make_plan, alice):
    return make_plan(alice)


def upload_file(name: str = "photo.jpg", data: bytes | None = None, content_type=None):
    if data is None:
        content_type, make = images.SAMPLES[name]
        data = make()
    return SimpleUploadedFile(name, data, content_type=content_type or "image/jpeg")


@pytest.fixture
def add_photo(clinician_user):
    def add(session, *, phase="before", view="frontal", purposes=("clinical",), name="photo.jpg"):
        return services.photo_upload(
            session=session,
            body_area=session.plan.body_area,
            view=view,
            phase=phase,
            purposes=purposes,
            file=upload_file(name),
            by=clinician_user,
        )

    return add
