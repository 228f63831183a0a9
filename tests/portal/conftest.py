"""Alice's course as the portal sees it: sessions done, one booked, the rest still to book."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from photos import services as photo_services
from photos.models import Comparison
from tests.photos import images
from tests.records import screening_on_record
from tests.scheduling.factories import PractitionerFactory
from treatments.models import BodyArea, DepthLevel, Indication, Modality, Session, TreatmentPlan

AMS = ZoneInfo("Europe/Amsterdam")
# Tuesday 10 March 2026, 9:00 in Amsterdam: the day after session 3 of Alice's course.
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=AMS)
# Monday 9 February 2026, 10:00: her first session; the course is fortnightly.
FIRST = dt.datetime(2026, 2, 9, 10, 0, tzinfo=AMS)


def make_course(
    patient,
    *,
    practitioner,
    first: dt.datetime = FIRST,
    count: int = 6,
    done: int = 3,
    booked: int = 1,
    area: str = "face",
) -> TreatmentPlan:
    """A microdermabrasion course: `done` completed, then `booked` booked, the rest planned."""
    modality = Modality.objects.get(kind="microdermabrasion")
    plan = TreatmentPlan.objects.create(
        patient=patient,
        modality=modality,
        body_area=BodyArea.objects.get(slug=area),
        indication=Indication.objects.get(slug="dull-dry-rough-skin"),
        session_count=count,
        interval_days=14,
    )
    level = DepthLevel.objects.get(modality=modality, rank=1)
    on_record = screening_on_record(plan)
    for index in range(count):
        starts = first + dt.timedelta(days=14 * index)
        session = Session(
            plan=plan, patient=patient, number=index + 1, depth_level=level, proposed_date=starts
        )
        if index < done + booked:
            session.starts_at = starts
            session.ends_at = starts + dt.timedelta(minutes=45)
            session.practitioner = practitioner
        if index < done:
            session.status = Session.Status.COMPLETED
            session.completed_screening = on_record
            session.completed_at = session.ends_at
            session.recorded_by = practitioner
        elif index < done + booked:
            session.status = Session.Status.BOOKED
        session.proposed_date = starts.date()
        session.save()
    return plan


def add_comparison(plan, *, by, portal: bool = True, release: bool = True) -> Comparison:
    """Before at session 1, after at the last completed session; consented and released."""
    sessions = list(plan.sessions.filter(status=Session.Status.COMPLETED).order_by("number"))
    purposes = ("clinical", "portal") if portal else ("clinical",)
    for session, phase in ((sessions[0], "before"), (sessions[-1], "after")):
        photo_services.photo_upload(
            session=session,
            body_area=plan.body_area,
            view="frontal",
            phase=phase,
            purposes=purposes,
            file=SimpleUploadedFile(f"{phase}.jpg", images.jpeg(), content_type="image/jpeg"),
            by=by,
        )
    comparison = Comparison.objects.get(plan=plan, kind="pair")
    if release and portal:
        photo_services.comparison_release(comparison=comparison, released=True, by=by)
    comparison.refresh_from_db()
    return comparison


def make_practitioner(user):
    user.first_name, user.last_name = "Carla", "Jansen"
    user.save()
    PractitionerFactory(user=user)
    return user


@pytest.fixture
def carla(clinician_user):
    return make_practitioner(clinician_user)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def course(frozen, alice, carla):
    return make_course(alice, practitioner=carla)


@pytest.fixture
def comparison(course, carla, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return add_comparison(course, by=carla)
