"""Arranging the past: sessions completed before the test begins.

A session is completed only through the screening gate (treatments/gate.py), and the database
holds every completed session to the screening it was completed under. History that a test
needs as its starting point names a clear screening of its course, as the records of a day
long gone would.
"""

from __future__ import annotations

from treatments.models import Screening


def screening_on_record(plan) -> Screening:
    """A clear screening of the course, to stand for the ones its past sessions passed."""
    return Screening.objects.create(
        patient_id=plan.patient_id,
        plan=plan,
        modality_id=plan.modality_id,
        body_area_id=plan.body_area_id,
        occasion=Screening.Occasion.CHECK_IN,
        screened_for=plan.created_at.date(),
        outcome=Screening.Outcome.CLEAR,
    )
