"""The worker's photo tasks: they take ids, call a service, retry on transient trouble.

Both are idempotent (an atomic claim on the rows, made under the task's id, decides who works;
files go under fixed keys), acknowledged late (a killed worker's task is delivered again, under
the same id, and takes back what its dead attempt claimed) and time-limited by the
CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT settings. Work whose task died and was
never delivered again is sent again by the sweep (resend_pending) once its claim is older than
the hard time limit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

from . import services

logger = logging.getLogger(__name__)

TRANSIENT = (services.TransientError, OperationalError, InterfaceError, ConnectionError)
MAX_RETRIES = 5


def _countdown(retries: int) -> int:
    return min(2 ** (retries + 1), settings.TASK_RETRY_MAX_COUNTDOWN)


def _reconnect_if_cut() -> None:
    """A connection the database cut stays broken in Django until it is closed; closed, the
    next query opens a new one."""
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block or connection.connection is None:
            continue
        if not connection.is_usable():
            connection.close()


def _give_back(release: Callable[[str], None], claim: str) -> None:
    """Puts the work `claim` holds back to pending. If the database is still away the rows stay
    running under `claim`, which the retry (same task id) takes back all the same."""
    _reconnect_if_cut()
    try:
        release(claim)
    except DatabaseError as error:
        logger.warning("claim %s not given back: %s", claim, error)
        _reconnect_if_cut()


def _work(
    task,
    make: Callable[[str], str],
    release: Callable[[str], None],
    mark_failed: Callable[[str], None],
) -> str:
    """Runs `make` (a service call) under a claim named by the task's id; on a transient error
    gives the claim back and retries with a growing countdown, and after the last retry or past
    the soft time limit records why with `mark_failed`."""
    claim = task.request.id
    try:
        return make(claim)
    except SoftTimeLimitExceeded:
        mark_failed("Took too long; try again.")
        raise
    except TRANSIENT as error:
        _give_back(release, claim)
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
        lambda claim: services.photo_derivatives_make(photo_id=photo_id, claim=claim),
        lambda claim: services.derivatives_release(photo_id=photo_id, claim=claim),
        lambda reason: services.derivatives_mark_failed(photo_id=photo_id, reason=reason),
    )


@_photo_task(name="photos.make_sheet")
def make_sheet(self, comparison_id: int) -> str:
    return _work(
        self,
        lambda claim: services.comparison_sheet_make(comparison_id=comparison_id, claim=claim),
        lambda claim: services.comparison_sheet_release(comparison_id=comparison_id, claim=claim),
        lambda reason: services.comparison_sheet_mark_failed(
            comparison_id=comparison_id, reason=reason
        ),
    )


@shared_task(name="photos.resend_pending")
def resend_pending() -> int:
    """Beat, every PHOTOS_SWEEP_SECONDS: sends again the derivative and sheet work that a
    broker outage lost (pending too long) or whose task died (a claim past the hard limit)."""
    minutes = getattr(settings, "PHOTOS_RESEND_AFTER_MINUTES", 10)
    return services.pending_resend(older_than=dt.timedelta(minutes=minutes))


@_photo_task(name="photos.score_quality")
def score_quality(self, photo_id: int) -> str:
    """After the derivatives: the capture-quality score (and the framing's alignment)."""
    try:
        return services.photo_quality_make(photo_id=photo_id)
    except TRANSIENT as error:
        if self.request.retries >= MAX_RETRIES:
            raise
        raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error


@_photo_task(name="photos.measure_colour")
def measure_colour(self, photo_id: int) -> str:
    """After the derivatives, and when a clinician marks a region: white balance and redness."""
    try:
        return services.photo_colour_make(photo_id=photo_id)
    except TRANSIENT as error:
        if self.request.retries >= MAX_RETRIES:
            raise
        raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error


@_photo_task(name="photos.make_course_sheet")
def make_course_sheet(self, sheet_id: int) -> str:
    return _work(
        self,
        lambda claim: services.course_sheet_make(sheet_id=sheet_id, claim=claim),
        lambda claim: services.course_sheet_release(sheet_id=sheet_id, claim=claim),
        lambda reason: services.course_sheet_mark_failed(sheet_id=sheet_id, reason=reason),
    )
