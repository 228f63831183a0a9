"""Derivative and sheet work always finishes: a task that comes back (redelivered after its
worker died, or retried) takes its own work back, the sweep takes work from a dead claim, and
`photos_regenerate` covers it too. In-process; tests/resilience/test_worker_killed.py does the
same with real worker processes that it kills."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO

import pytest
import time_machine
from celery.exceptions import Retry
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from photos import imaging
from photos.models import Comparison, Status
from photos.tasks import make_derivatives, make_sheet, resend_pending


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the task gets to run after it."""


def kill_during(monkeypatch, target, name: str) -> None:
    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(target, name, killed)


def statuses(photo) -> set[str]:
    return set(photo.derivatives.values_list("status", flat=True))


def dead_derivative_task(photo, monkeypatch, task_id: str) -> None:
    """A derivative task whose worker died after it had claimed the photo's rows."""
    with monkeypatch.context() as patch:
        kill_during(patch, imaging, "make_derivatives")
        with pytest.raises(Killed):
            make_derivatives.apply(args=[photo.pk], task_id=task_id)
    assert statuses(photo) == {Status.RUNNING}


def past_the_hard_time_limit(settings):
    return time_machine.travel(
        timezone.now() + dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 11), tick=False
    )


def test_a_redelivered_derivative_task_does_the_work_its_dead_attempt_claimed(
    alice_plan, add_photo, monkeypatch
):
    photo = add_photo(alice_plan.sessions.first())  # rows pending, task not yet sent
    dead_derivative_task(photo, monkeypatch, task_id="task-24")

    # The broker delivers the same message again (same task id) seconds later.
    assert make_derivatives.apply(args=[photo.pk], task_id="task-24").get() == "ready"
    assert statuses(photo) == {Status.READY}


def test_a_photo_that_kills_every_worker_fails_after_a_few_attempts(
    alice_plan, add_photo, monkeypatch
):
    photo = add_photo(alice_plan.sessions.first())
    for _ in range(3):  # killed (out of memory) each time it is delivered again
        dead_derivative_task(photo, monkeypatch, task_id="task-oom")

    make_derivatives.apply(args=[photo.pk], task_id="task-oom")
    assert statuses(photo) == {Status.FAILED}
    assert "worker died each of the 3 times" in photo.derivatives.first().reason
    call_command("photos_regenerate", "--now", stdout=StringIO())  # someone looked into it
    assert statuses(photo) == {Status.READY}


def test_another_task_leaves_live_work_alone_and_does_not_call_it_done(
    alice_plan, add_photo, monkeypatch
):
    photo = add_photo(alice_plan.sessions.first())
    dead_derivative_task(photo, monkeypatch, task_id="task-1")  # its claim is still young

    assert make_derivatives.apply(args=[photo.pk], task_id="task-2").get() == "busy"
    assert statuses(photo) == {Status.RUNNING}
    make_derivatives.apply(args=[photo.pk], task_id="task-1")
    assert make_derivatives.apply(args=[photo.pk], task_id="task-2").get() == "nothing to do"


def test_a_retry_after_the_database_cut_the_connection_finds_its_work(
    alice_plan, add_photo, monkeypatch
):
    photo = add_photo(alice_plan.sessions.first())

    def connection_cut(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    with monkeypatch.context() as patch:
        patch.setattr(imaging, "make_derivatives", connection_cut)
        with pytest.raises(Retry):
            make_derivatives.apply(args=[photo.pk], task_id="task-222", throw=True)
    # The retry gave its claim back: pending, not stuck "running".
    assert statuses(photo) == {Status.PENDING}
    assert make_derivatives.apply(args=[photo.pk], task_id="task-222").get() == "ready"


def test_a_redelivered_sheet_task_draws_the_sheet_its_dead_attempt_claimed(
    alice_plan, add_photo, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_photo(alice_plan.sessions.get(number=1))
        add_photo(alice_plan.sessions.get(number=2), phase="after")
    comparison = Comparison.objects.get()
    Comparison.objects.filter(pk=comparison.pk).update(sheet_status=Status.PENDING)  # redraw
    with monkeypatch.context() as patch:
        kill_during(patch, imaging, "render_sheet")
        with pytest.raises(Killed):
            make_sheet.apply(args=[comparison.pk], task_id="sheet-7")
    comparison.refresh_from_db()
    assert comparison.sheet_status == Status.RUNNING

    assert make_sheet.apply(args=[comparison.pk], task_id="sheet-7").get() == "ready"
    comparison.refresh_from_db()
    assert comparison.sheet_status == Status.READY


def test_the_sweep_takes_work_from_a_dead_claim_and_the_waiting_sheet_follows(
    alice_plan, add_photo, monkeypatch, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        before = add_photo(alice_plan.sessions.get(number=1))
    after = add_photo(alice_plan.sessions.get(number=2), phase="after")  # not sent yet
    dead_derivative_task(after, monkeypatch, task_id="task-24")
    comparison = Comparison.objects.get()
    assert comparison.sheet_status == Status.PENDING  # waiting on the stuck photo

    with django_capture_on_commit_callbacks(execute=True):
        assert resend_pending.apply().get() == 0  # a young claim: its task may still be alive
    assert statuses(after) == {Status.RUNNING}

    with past_the_hard_time_limit(settings), django_capture_on_commit_callbacks(execute=True):
        assert resend_pending.apply().get() == 1
    assert statuses(before) == statuses(after) == {Status.READY}
    comparison.refresh_from_db()
    assert comparison.sheet_status == Status.READY


def test_the_sweep_takes_a_sheet_from_a_dead_claim(
    alice_plan, add_photo, monkeypatch, settings, django_capture_on_commit_callbacks
):
    with monkeypatch.context() as patch:
        kill_during(patch, imaging, "render_sheet")
        with django_capture_on_commit_callbacks(execute=True):
            add_photo(alice_plan.sessions.get(number=1))
        with pytest.raises(Killed), django_capture_on_commit_callbacks(execute=True):
            add_photo(alice_plan.sessions.get(number=2), phase="after")  # sends the sheet
    comparison = Comparison.objects.get()
    assert comparison.sheet_status == Status.RUNNING

    with past_the_hard_time_limit(settings), django_capture_on_commit_callbacks(execute=True):
        assert resend_pending.apply().get() == 1
    comparison.refresh_from_db()
    assert comparison.sheet_status == Status.READY


def test_the_sweep_sends_a_sheet_whose_send_was_lost(
    alice_plan, add_photo, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_photo(alice_plan.sessions.get(number=1))
    add_photo(alice_plan.sessions.get(number=2), phase="after")  # its send lost: broker down
    with django_capture_on_commit_callbacks(execute=True):
        assert resend_pending.apply().get() == 0  # too early to call the sends lost

    later = timezone.now() + dt.timedelta(minutes=settings.PHOTOS_RESEND_AFTER_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert resend_pending.apply().get() == 1  # the photo; its sheet follows it
        assert Comparison.objects.get().sheet_status == Status.READY
        Comparison.objects.update(sheet_status=Status.PENDING)  # the sheet's own send lost
        with django_capture_on_commit_callbacks(execute=True):
            assert resend_pending.apply().get() == 1
    assert Comparison.objects.get().sheet_status == Status.READY


def test_regenerate_takes_work_from_a_dead_claim(alice_plan, add_photo, monkeypatch, settings):
    photo = add_photo(alice_plan.sessions.first())
    dead_derivative_task(photo, monkeypatch, task_id="task-24")

    out = StringIO()
    call_command("photos_regenerate", "--now", stdout=out)
    assert "0 photo(s)" in out.getvalue()  # a young claim: its task may still be alive
    assert "1 photo(s) still being made" in out.getvalue()

    out = StringIO()
    with past_the_hard_time_limit(settings):
        call_command("photos_regenerate", "--now", stdout=out)
    assert "Made derivatives for 1 photo(s)" in out.getvalue()
    assert statuses(photo) == {Status.READY}


def settings_of_a_new_process(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], "
        "settings.CELERY_BEAT_SCHEDULE['photos-resend-pending']['schedule'], "
        "settings.CELERY_TASK_TIME_LIMIT)"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )


def test_a_killed_workers_task_comes_back_within_minutes_not_an_hour():
    ran = settings_of_a_new_process(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    visibility, sweep, time_limit = map(int, ran.stdout.split())
    assert time_limit < visibility <= 5 * 60  # the broker's own redelivery
    assert time_limit + 10 + sweep <= 3 * 60  # the sweep's, usually first


def test_a_visibility_timeout_that_would_deliver_a_live_task_twice_is_refused():
    ran = settings_of_a_new_process(
        CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_VISIBILITY_TIMEOUT="120"
    )
    assert ran.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT" in ran.stderr
