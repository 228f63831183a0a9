"""The benchmark data generator, run at a tiny scale on the test database (PostgreSQL only)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Max, Min

from audit.services import audit_verify
from people.models import Patient
from photos.models import Comparison, Derivative, Photo
from scheduling.models import Booking, Reservation
from treatments.models import Screening, Session, TreatmentPlan


@pytest.fixture
def generated(postgres, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("generate_clinic", scale=0.0005, seed=3, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_counts_at_tiny_scale(generated):
    assert Patient.objects.count() == 50
    assert Session.objects.count() == 500
    assert Photo.objects.count() == pytest.approx(1000, abs=2)
    assert Derivative.objects.count() == 3 * Photo.objects.count()
    assert Screening.objects.count() == TreatmentPlan.objects.count()
    assert Comparison.objects.exists()
    # The chart patient: exactly 60 sessions and 300 photos, and a portal account.
    chart = Patient.objects.get(pk=1)
    assert chart.user.username == "bench-patient"
    assert Session.objects.filter(patient=chart).count() == 60
    assert Photo.objects.filter(patient=chart).count() == 300


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
    assert Session.objects.count() == 500


@pytest.mark.django_db
def test_refuses_sqlite():
    if connection.vendor == "postgresql":
        pytest.skip("runs on SQLite only: checks the refusal message there")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("generate_clinic", scale=0.0005)
