"""The benchmark data generator, run at a tiny scale on the test database (PostgreSQL only)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Max, Min
from django.utils import timezone

from audit.services import audit_verify
from core.management.commands.generate_clinic import QUIET_BOOKINGS, bench_days
from people.models import Patient
from photos.models import Comparison, Derivative, Photo
from scheduling.models import Booking, Reservation
from treatments.models import Screening, Session, TreatmentPlan


@pytest.fixture
def generated(postgres, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("generate_clinic", scale=0.0005, seed=3, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_counts_at_tiny_scale(generated):
    # At this scale the two bench patients' 660 sessions and 3,300 photos set the floor.
    assert Patient.objects.count() == 50
    assert Session.objects.count() == 680
    assert Photo.objects.count() == pytest.approx(3320, abs=2)
    assert Derivative.objects.count() == 3 * Photo.objects.count()
    assert Screening.objects.count() == TreatmentPlan.objects.count()
    assert Comparison.objects.exists()
    # The bench patients, 10x apart: 60 sessions and 300 photos, 600 and 3,000; each with a
    # portal account and sessions ahead in its running courses (1 and 10).
    for pid, username, sessions, photos, running in (
        (1, "bench-patient", 60, 300, 1),
        (2, "bench-patient-large", 600, 3000, 10),
    ):
        patient = Patient.objects.get(pk=pid)
        assert patient.user.username == username
        assert Session.objects.filter(patient=patient).count() == sessions
        assert Photo.objects.filter(patient=patient).count() == photos
        assert patient.plans.filter(status="active").count() == running
        assert patient.sessions.filter(status__in=("planned", "booked")).count() == 5 * running


def test_bench_weeks(postgres, settings, tmp_path):
    # Enough courses for the bench week (5 x 128) and the quiet week (5 x 13) to fill.
    settings.MEDIA_ROOT = tmp_path
    call_command("generate_clinic", scale=0.006, seed=3, stdout=open("/dev/null", "w"))  # noqa: SIM115
    days = bench_days(timezone.localdate(Patient.objects.get(pk=1).created_at))
    booked = Session.objects.filter(status="booked")
    for n in range(5):
        full = days["full_week"] + dt.timedelta(days=n)
        quiet = days["quiet_week"] + dt.timedelta(days=n)
        assert booked.filter(starts_at__date=full).count() == 128
        assert booked.filter(starts_at__date=quiet).count() == QUIET_BOOKINGS
    assert days["full_day"].weekday() == 1
    assert days["quiet_day"] == days["full_day"] + dt.timedelta(days=7)


def test_rows_are_consistent(generated):
    # Sessions numbered 1..n within each course, for the course's patient.
    numbering = TreatmentPlan.objects.annotate(
        n=Count("sessions"), low=Min("sessions__number"), high=Max("sessions__number")
    )
    for plan in numbering:
        assert (plan.low, plan.high) == (1, plan.n) == (1, plan.session_count)
    assert not Session.objects.exclude(patient_id=F("plan__patient_id")).exists()
    # Statuses match the times: booked sessions are timed, held and booked; planned are not.
    booked = Session.objects.filter(status="booked")
    assert booked.exists()
    assert not booked.filter(starts_at__isnull=True).exists()
    assert Booking.objects.count() == booked.count()
    assert Reservation.objects.filter(active=True).count() == 3 * booked.count()
    assert not Session.objects.filter(status="planned", starts_at__isnull=False).exists()
    assert not Session.objects.filter(status="completed", completed_at__isnull=True).exists()
    # Photos belong to completed sessions of the same patient; derivatives are real files.
    assert not Photo.objects.exclude(session__status="completed").exists()
    assert not Photo.objects.exclude(patient_id=F("session__patient_id")).exists()
    keys = set(Derivative.objects.values_list("storage_key", flat=True))
    assert 1 < len(keys) <= 12
    assert all(default_storage.exists(key) for key in keys)
    assert not Derivative.objects.exclude(status="ready").exists()
    # The audit chain holds.
    report = audit_verify()
    assert report.ok, report


def test_refuses_a_clinic_with_data_unless_forced(generated):
    with pytest.raises(CommandError, match="--force"):
        call_command("generate_clinic", scale=0.0005, seed=3)
    call_command("generate_clinic", scale=0.0005, seed=4, force=True, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Session.objects.count() == 680


@pytest.mark.django_db
def test_refuses_sqlite():
    if connection.vendor == "postgresql":
        pytest.skip("runs on SQLite only: checks the refusal message there")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("generate_clinic", scale=0.0005)
