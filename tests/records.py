"""Arranging the past: sessions completed before the test begins.

A session is completed only through the screening gate (treatments/gate.py), and the database
holds every completed session to the screening it was completed under. History that a test
needs as its starting point names a clear screening of its course, as the records of a day
long gone would.
"""

from __future__ import annotations

from treatments.models import Screening


def screening_on_record(plan) -> Screening:
    """A screening of the course (the one made when it was planned, else a clear one) to stand
    for the ones its past sessions passed."""
    planned = plan.screenings.order_by("-screened_at", "-id").first()
    if planned is not None:
        return planned
    return Screening.objects.create(
        patient_id=plan.patient_id,
        plan=plan,
        modality_id=plan.modality_id,
        body_area_id=plan.body_area_id,
        occasion=Screening.Occasion.CHECK_IN,
        screened_for=plan.created_at.date(),
        outcome=Screening.Outcome.CLEAR,
    )


def arrive(session, starts_at, *, minutes: int = 45):
    """The session booked at `starts_at` and its patient checked in, as the desk leaves it
    (scheduling's booking and check-in services, without their rooms and rotas)."""
    import datetime as dt

    from scheduling.models import Booking
    from treatments.models import Session

    Session.objects.filter(pk=session.pk).update(
        status=Session.Status.CHECKED_IN,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=minutes),
    )
    Booking.objects.update_or_create(session=session, defaults={"checked_in_at": starts_at})
    session.refresh_from_db()
    return session
