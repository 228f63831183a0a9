"""Demo: Alice's frontal before/after released to the portal, as a clinician would.

Runs after the scheduling and photos demos. Idempotent: releases only a comparison that is not
released yet.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from photos import services as photo_services
from photos.models import Comparison


def load() -> None:
    # Her upcoming sessions are booked by scheduling.demo, with notice enough to cancel.
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
