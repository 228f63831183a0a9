"""A worker killed with SIGKILL in the middle of a derivative task: the task is delivered
again (acks_late, reject_on_worker_lost, Redis visibility timeout) and another worker makes
exactly one set of derivatives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from photos import services
from photos.models import Derivative, Status
from tests.photos import images
from tests.photos.conftest import create_plan
from tests.resilience.redis_server import RedisServer
from tests.services import WorkerProcess, celery_configured

pytestmark = [pytest.mark.redis, pytest.mark.worker]

VISIBILITY = 15  # seconds; more than a claim takes to go stale with the time limit below
TIME_LIMIT = 3  # the second worker's: a claim older than TIME_LIMIT + 10 s is stale


def wait_for(condition, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s\n{worker.log()[-3000:] if worker else ''}")


def test_killed_worker_task_runs_again_once(
    transactional_db, tmp_path, settings, monkeypatch, clinician_user, alice
):
    from clinic.celery import app

    server = RedisServer(tmp_path / "redis")
    server.start()
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", str(VISIBILITY))
    monkeypatch.setenv("CELERY_UNACKED_RESTORE_INTERVAL", "1")
    monkeypatch.setenv("CELERY_UNACKED_RESTORE_THROTTLE", "1")
    workers = []

    def worker(name: str, **env) -> WorkerProcess:
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        process = WorkerProcess(
            tmp_path=tmp_path / name,
            media_root=settings.MEDIA_ROOT,
            broker_url=server.url,
            result_backend=server.url,
        )
        (tmp_path / name).mkdir()
        workers.append(process)
        process.start()
        return process

    conf = {
        "broker_url": server.url,
        "result_backend": server.url,
        "broker_transport_options": {"visibility_timeout": VISIBILITY},
        "task_always_eager": False,
    }
    try:
        with celery_configured(app, **conf):
            first = worker("first", PHOTOS_TEST_DELAY_SECONDS=30)
            session = create_plan(alice, sessions=1).sessions.get()
            photo = services.photo_upload(
                session=session,
                body_area=session.plan.body_area,
                view="frontal",
                phase="before",
                file=SimpleUploadedFile("p.jpg", images.jpeg(), content_type="image/jpeg"),
                by=clinician_user,
            )
            rows = Derivative.objects.filter(photo=photo)
            wait_for(
                lambda: set(rows.values_list("status", flat=True)) == {Status.RUNNING},
                20,
                "the first worker did not claim the task",
                first,
            )
            first.process.kill()  # SIGKILL: no chance to acknowledge or reject
            first.process.wait(timeout=10)

            second = worker(
                "second",
                PHOTOS_TEST_DELAY_SECONDS=0,
                CELERY_TASK_SOFT_TIME_LIMIT=TIME_LIMIT - 1,
                CELERY_TASK_TIME_LIMIT=TIME_LIMIT,
            )
            wait_for(
                lambda: set(rows.values_list("status", flat=True)) == {Status.READY},
                VISIBILITY + TIME_LIMIT + 40,
                "the task was not delivered again and finished",
                second,
            )
            assert rows.count() == 3
            media = Path(settings.MEDIA_ROOT)
            made = {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}
            assert made == {photo.storage_key, *rows.values_list("storage_key", flat=True)}
            assert "photos.make_derivatives" in second.log()
    finally:
        for process in workers:
            process.stop()
        server.stop()
