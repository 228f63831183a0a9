"""Honest checks of the parts the app needs: each says ok or what went wrong."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from celery import current_app
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.db import connection
from django.template.defaultfilters import pluralize
from django.utils import timezone


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    millis: float


def _timed(name: str, probe) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # noqa: BLE001 - any failure is the answer here
        detail = f"{type(exc).__name__}: {exc}"
        ok = False
    return Check(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} answered"


def _broker() -> str:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return f"{conn.transport_cls} reachable"


def _worker() -> str:
    from core.tasks import ping

    timeout = settings.HEALTH_WORKER_TIMEOUT
    result = ping.apply_async(expires=timeout)
    try:
        answer = result.get(timeout=timeout, disable_sync_subtasks=False)
    except CeleryTimeoutError:
        raise RuntimeError(f"no worker answered within {timeout:g} s") from None
    result.forget()
    if answer != "pong":
        raise RuntimeError(f"unexpected answer {answer!r}")
    return "a worker answered the ping"


# An unsent message older than this means the relay is not getting through.
OUTBOX_LATE = dt.timedelta(minutes=15)


def _outbox() -> str:
    """Down when messages wait too long (the relay is not getting through). A failed message
    is named but is no part down: one refused address is the desk's to handle, on its page."""
    from .models import OutboxMessage

    unsent = OutboxMessage.objects.filter(status__in=OutboxMessage.UNSENT)
    late = unsent.filter(created_at__lt=timezone.now() - OUTBOX_LATE).count()
    if late:
        raise RuntimeError(f"{late} message{pluralize(late)} waiting for over 15 minutes")
    failed = OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED).count()
    if failed:
        them = "it" if failed == 1 else "them"
        return f"{unsent.count()} waiting; {failed} failed: the desk can send {them} again"
    return f"{unsent.count()} waiting, none failed"


def readiness() -> tuple[bool, list[str]]:
    """For the load balancer: (ready, the parts that are down). Ready while the database
    answers: without the broker the clinic still books and uploads (the outbox keeps the
    background work until it is back), so taking the web out of service would turn a delay
    into an outage. The broker is named when it is down, so the balancer's log shows it."""
    checks = [_timed("database", _database), _timed("broker", _broker)]
    down = [check.name for check in checks if not check.ok]
    return "database" not in down, down


def run_checks() -> list[Check]:
    checks = [_timed("database", _database), _timed("broker", _broker)]
    if checks[-1].ok:
        checks.append(_timed("worker", _worker))
    else:
        checks.append(Check("worker", False, "not asked: the broker is unreachable", 0.0))
    checks.append(_timed("outbox", _outbox))
    return checks
