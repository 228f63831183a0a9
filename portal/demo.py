"""Demo: Alice's next session booked, so her portal shows a real date, instructions and cancel,
and her frontal before/after released to the portal, as a clinician would.

Runs after the scheduling and photos demos. Idempotent: books only when none of her sessions is
booked yet; releases only a comparison that is not released yet.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from photos import services as photo_services
from photos.models import Comparison
from scheduling import availability, services
from treatments.models import Session


def load() -> None:
    _book_next()
    _release_frontal()


def _release_frontal() -> None:
    clinician = get_user_model().objects.filter(username="clinician").first()
    comparison = (
        Comparison.objects.filter(
            patient__user__username="alice", view="frontal", released_to_portal=False
        )
        .order_by("id")
        .first()
    )
    if clinician is not None and comparison is not None:
        photo_services.comparison_release(comparison=comparison, released=True, by=clinician)


def _book_next() -> None:
    desk = get_user_model().objects.filter(username="frontdesk").first()
    sessions = Session.objects.filter(patient__user__username="alice")
    if desk is None or sessions.filter(status=Session.Status.BOOKED).exists():
        return
    session = (
        sessions.filter(status=Session.Status.PLANNED, plan__status="active")
        .select_related("plan__modality", "depth_level", "patient")
        .order_by("number")
        .first()
    )
    if session is None:
        return
    first_day = max(session.proposed_date or timezone.localdate(), timezone.localdate())
    first_day += dt.timedelta(days=2)  # a few days' notice, so the demo can cancel in time
    slots = availability.find_slots(
        session=session, first_day=first_day, last_day=first_day + dt.timedelta(days=14)
    )
    if slots:
        services.session_book(
            session=session,
            starts_at=slots[0].starts_at,
            practitioner_user_id=slots[0].practitioner.user_id,
            by=desk,
            notify=False,
        )
