"""Demo courses: Alice halfway through microdermabrasion, Bob about to start laser resurfacing.

Safe to load twice: a patient who already has a course of that modality is left alone. The
sessions in the past are written as records of what happened (screened and recorded on their
day, under that day's screening), since the services only record today's sessions.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from people.demo import opening_day_on_or_before
from people.models import Patient

from . import consents, services
from .models import BodyArea, ConsentSignature, Factor, Indication, Modality, Screening, Session


def _at(day, hour: int = 10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _patient(first: str, last: str) -> Patient | None:
    return Patient.objects.filter(first_name=first, last_name=last).first()


def _record_past(session: Session, *, by, products: str, notes: str) -> None:
    day = session.proposed_date
    plan = session.plan
    screening = services.session_screen(
        session=session, occasion=Screening.Occasion.CHECK_IN, on=day, by=by
    )
    Screening.objects.filter(pk=screening.pk).update(screened_at=_at(day, 9))
    starts = _at(day)
    Session.objects.filter(pk=session.pk).update(
        status=Session.Status.COMPLETED,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=session.depth_level.session_minutes),
        completed_at=starts + timedelta(minutes=session.depth_level.session_minutes),
        practitioner=by,
        recorded_by=by,
        performed_by=by,
        completed_screening=screening,
        products=products,
        notes=notes,
    )
    session.areas.set([plan.body_area])


def _demo_signature() -> bytes:
    """A hand-drawn-looking stroke, as the consent form's canvas sends it."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    points = [(30, 150), (80, 40), (120, 160), (170, 60), (230, 140), (330, 70), (560, 90)]
    ImageDraw.Draw(image).line(points, fill="#1a1a2e", width=5, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _sign(patient: Patient, modality: Modality, *, purposes, by) -> None:
    """The patient signed the modality's consent form on the clinic's tablet (once)."""
    version = consents.current_version(modality)
    if (
        version is None
        or ConsentSignature.objects.filter(
            patient=patient, version__form__modality=modality
        ).exists()
    ):
        return
    consents.consent_sign(
        patient=patient,
        version=version,
        signed_name=f"{patient.first_name} {patient.last_name}",
        signature=_demo_signature(),
        purposes=purposes,
        place=ConsentSignature.Place.TABLET,
        by=by,
    )


def load() -> None:
    clinician = get_user_model().objects.filter(username="clinician").first()
    today = timezone.localdate()
    face = BodyArea.objects.get(slug="face")

    alice = _patient("Alice", "Smit")
    microdermabrasion = Modality.objects.get(kind="microdermabrasion")
    if alice:
        _sign(alice, microdermabrasion, purposes=("clinical", "portal"), by=clinician)
    if alice and not alice.plans.filter(modality=microdermabrasion).exists():
        services.history_add(
            patient=alice,
            factor=Factor.objects.get(slug="retinoids"),
            started_on=today - timedelta(days=400),
            ended_on=today - timedelta(days=60),
            notes="Tretinoin cream, stopped before the course",
            by=clinician,
        )
        plan = services.plan_create(
            patient=alice,
            indication=Indication.objects.get(slug="dull-dry-rough-skin"),
            body_area=face,
            modality=microdermabrasion,
            # Every fortnight from an opening day stays on that weekday: the clinic is open.
            first_date=opening_day_on_or_before(today - timedelta(days=42)),
            session_count=6,
            interval_days=14,
            notes="Dull, dry skin on the cheeks and forehead.",
            by=clinician,
        )
        for session in plan.sessions.filter(number__lte=3).select_related(
            "plan__modality", "plan__body_area", "depth_level"
        ):
            _record_past(
                session,
                by=clinician,
                products="Diamond tip, medium suction; soothing gel",
                notes="Even redness, gone within the day."
                if session.number > 1
                else "First session.",
            )

    bob = _patient("Bob", "Mulder")
    laser = Modality.objects.get(kind="laser_resurfacing")
    if bob:
        _sign(bob, laser, purposes=("clinical",), by=clinician)
    if bob and not bob.plans.filter(modality=laser).exists():
        services.history_add(
            patient=bob,
            factor=Factor.objects.get(slug="anticoagulants"),
            started_on=today - timedelta(days=900),
            notes="Low-dose aspirin",
            by=clinician,
        )
        services.history_add(
            patient=bob,
            factor=Factor.objects.get(slug="tan"),
            started_on=today - timedelta(days=40),
            notes="Holiday in Spain",
            by=clinician,
        )
        services.plan_create(
            patient=bob,
            indication=Indication.objects.get(slug="sun-damage"),
            body_area=face,
            modality=laser,
            first_date=today + timedelta(days=7),
            session_count=3,
            by=clinician,
        )
