"""The worker's photo tasks: they take ids, call a service, retry on transient trouble.

Both are idempotent (an atomic claim on the rows decides who works; files go under fixed keys),
acknowledged late (a killed worker's task is delivered again) and time-limited by the
CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services

TRANSIENT = (services.TransientError, OperationalError, InterfaceError, ConnectionError)
MAX_RETRIES = 5


def _countdown(retries: int) -> int:
    return min(2 ** (retries + 1), 60)


def _work(task, make: Callable[[], str], mark_failed: Callable[[str], None]) -> str:
    """Runs `make` (a service call); on a transient error retries with a growing countdown, and
    after the last retry or past the soft time limit records why with `mark_failed`."""
    try:
        return make()
    except SoftTimeLimitExceeded:
        mark_failed("Took too long; try again.")
        raise
    except TRANSIENT as error:
        if task.request.retries >= MAX_RETRIES:
            mark_failed(f"Gave up after {MAX_RETRIES} attempts: {error}")
            raise
        raise task.retry(exc=error, countdown=_countdown(task.request.retries)) from error


# Acknowledged late, so a killed worker's task is delivered again; the rows hold the outcome,
# so no result-store round trip on send.
_photo_task = partial(
    shared_task, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)


@_photo_task(name="photos.make_derivatives")
def make_derivatives(self, photo_id: int) -> str:
    return _work(
        self,
        lambda: services.photo_derivatives_make(photo_id=photo_id),
        lambda reason: services.derivatives_mark_failed(photo_id=photo_id, reason=reason),
    )


@_photo_task(name="photos.make_sheet")
def make_sheet(self, comparison_id: int) -> str:
    return _work(
        self,
        lambda: services.comparison_sheet_make(comparison_id=comparison_id),
        lambda reason: services.comparison_sheet_mark_failed(
            comparison_id=comparison_id, reason=reason
        ),
    )


@shared_task(name="photos.resend_pending")
def resend_pending() -> int:
    """Beat: re-sends derivative work that a broker outage lost (pending too long)."""
    minutes = getattr(settings, "PHOTOS_RESEND_AFTER_MINUTES", 10)
    return services.pending_resend(older_than=dt.timedelta(minutes=minutes))
