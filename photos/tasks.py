"""The worker's photo tasks: they take ids, call a service, retry on transient trouble.

Both are idempotent (an atomic claim on the rows decides who works; files go under fixed keys),
acknowledged late (a killed worker's task is delivered again) and time-limited by the
CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT settings.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services

TRANSIENT = (services.TransientError, OperationalError, InterfaceError, ConnectionError)
MAX_RETRIES = 5


def _countdown(retries: int) -> int:
    return min(2 ** (retries + 1), 60)


@shared_task(
    bind=True,
    name="photos.make_derivatives",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,  # the rows hold the outcome; no result-store round trip on send
)
def make_derivatives(self, photo_id: int) -> str:
    try:
        return services.photo_derivatives_make(photo_id=photo_id)
    except SoftTimeLimitExceeded:
        services.derivatives_mark_failed(photo_id=photo_id, reason="Took too long; try again.")
        raise
    except TRANSIENT as error:
        if self.request.retries >= MAX_RETRIES:
            services.derivatives_mark_failed(
                photo_id=photo_id, reason=f"Gave up after {MAX_RETRIES} attempts: {error}"
            )
            raise
        raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error


@shared_task(
    bind=True,
    name="photos.make_sheet",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def make_sheet(self, comparison_id: int) -> str:
    try:
        return services.comparison_sheet_make(comparison_id=comparison_id)
    except SoftTimeLimitExceeded:
        services.comparison_sheet_mark_failed(
            comparison_id=comparison_id, reason="Took too long; try again."
        )
        raise
    except TRANSIENT as error:
        if self.request.retries >= MAX_RETRIES:
            services.comparison_sheet_mark_failed(
                comparison_id=comparison_id, reason=f"Gave up after {MAX_RETRIES} attempts: {error}"
            )
            raise
        raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error


@shared_task(name="photos.resend_pending")
def resend_pending() -> int:
    """Beat: re-sends derivative work that a broker outage lost (pending too long)."""
    minutes = getattr(settings, "PHOTOS_RESEND_AFTER_MINUTES", 10)
    return services.pending_resend(older_than=dt.timedelta(minutes=minutes))
