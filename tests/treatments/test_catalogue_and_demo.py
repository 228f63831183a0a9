"""The seeded catalogue says what ../shared/DOMAIN.md says; the demo courses load twice safely."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from people.models import Patient
from treatments import services
from treatments.models import (
    CourseTemplate,
    DepthLevel,
    Indication,
    Modality,
    ModalityIndication,
    Screening,
    Session,
    TreatmentPlan,
)


def test_the_seeded_catalogue(db):
    assert set(Modality.objects.values_list("kind", flat=True)) == {
        "microdermabrasion",
        "microneedling",
        "laser_peel",
        "laser_resurfacing",
        "consultation",
    }
    consultation = Modality.objects.get(kind="consultation")
    assert not consultation.is_treatment and consultation.session_minutes == 30
    assert not consultation.levels.exists()
    mda = DepthLevel.objects.filter(modality__kind="microdermabrasion")
    assert list(mda.values_list("name", "layer_reached")) == [
        ("Level I", "Stratum corneum"),
        ("Level II", "Deep epidermis, up to the dermis"),
        ("Level III", "Into the living cell layer"),
    ]
    assert "pinpoint bleeding" in mda.get(rank=3).expected_reaction
    assert DepthLevel.objects.get(modality__kind="laser_peel").depth_micrometres == 30
    assert (
        DepthLevel.objects.filter(modality__kind="laser_resurfacing").last().depth_micrometres
        == 150
    )
    assert all(
        level.needle_depth_mm for level in DepthLevel.objects.filter(modality__kind="microneedling")
    )
    limited = ModalityIndication.objects.filter(benefit="limited").values_list(
        "modality__kind", "indication__slug"
    )
    assert set(limited) == {
        ("microdermabrasion", "deep-wrinkles"),
        ("microdermabrasion", "stretch-marks"),
    }
    hormonal = Indication.objects.get(slug="hormonal-pigmentation")
    assert hormonal.not_treatable_reason
    assert not hormonal.modalities.exists()
    assert Modality.objects.get(kind="microdermabrasion").default_interval_days == 14
    # The courses the desk proposes; laser resurfacing rising about a month apart.
    laser = CourseTemplate.objects.get(name="Laser resurfacing, face: acne scars")
    assert (laser.session_count, laser.interval_days) == (4, 30)
    ranks = [row.depth_level.rank for row in laser.levels.order_by("number")]
    assert ranks == [1, 2, 2, 3]
    for template in CourseTemplate.objects.all():
        template.full_clean()  # each seeded template passes the admin's own checks


def test_the_demo_loads_twice_with_alice_in_progress_and_bob_on_laser(db):
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())
    alice = Patient.objects.get(first_name="Alice")
    plan = TreatmentPlan.objects.with_progress().get(patient=alice)
    assert (plan.sessions_done, plan.sessions_ahead) == (3, 3)
    done = plan.sessions.filter(status=Session.Status.COMPLETED)
    assert all(s.screenings.filter(outcome="clear").exists() for s in done)
    assert all(s.products for s in done)
    bob_plan = TreatmentPlan.objects.get(patient__first_name="Bob")
    assert bob_plan.modality.kind == "laser_resurfacing"
    assert TreatmentPlan.objects.count() == 2
    # Both signed their course's consent form (once, however often the demo loads), so the
    # courses can be treated.
    for course in (plan, bob_plan):
        assert course.patient.consent_signatures.get().version.form.modality == course.modality


def test_booking_check_refuses_absolute_findings_only(
    alice, make_plan, catalogue, clinician_user, session_done
):
    day = datetime.date(2026, 6, 10)
    session = make_plan(alice, "microdermabrasion", day).sessions.get(number=1)
    session_done(alice, "laser_peel", day - datetime.timedelta(days=2), area="neck")
    with pytest.raises(ValidationError, match="Refused by screening: No microdermabrasion"):
        services.session_check_bookable(session=session, on=day, by=clinician_user)
    services.history_add(patient=alice, factor=catalogue.factor("rosacea-flare"))
    screening = services.session_check_bookable(
        session=session, on=day + datetime.timedelta(days=7), by=clinician_user
    )
    assert (screening.occasion, screening.outcome) == ("booking", "relative")
    assert Screening.objects.filter(occasion="booking").count() == 2
