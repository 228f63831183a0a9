"""Background work always finishes, with real worker processes on a Redis of the test's own:
a pool process killed with SIGKILL mid-task (what the OOM killer does), a task whose database
connection is cut, and a whole worker killed and replaced. Each photo ends with exactly one
full set of derivatives within the sweep's interval (well before the visibility timeout)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.db import connection

from photos import services
from photos.models import Comparison, Derivative, Photo, Status
from tests.photos.conftest import create_plan, upload_file
from tests.resilience.redis_server import RedisServer
from tests.services import WorkerProcess, celery_configured

pytestmark = [pytest.mark.redis, pytest.mark.worker]

HOLD = 1  # s a task waits after claiming its rows (PHOTOS_TEST_DELAY_SECONDS): time to kill it
TIME_LIMIT = 3  # s, hard; a claim older than TIME_LIMIT + 10 s belongs to a dead task
SWEEP = 10  # s between sweeps (PHOTOS_SWEEP_SECONDS)
VISIBILITY = TIME_LIMIT + 61  # s, the shortest the settings allow; far longer than a recovery


def wait_for(condition, timeout: float, what: str, worker: WorkerProcess) -> float:
    """Seconds it took `condition` to hold; fails with the worker's log after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s\n{worker.log()[-4000:]}")


def statuses(photo: Photo) -> set[str]:
    return set(Derivative.objects.filter(photo=photo).values_list("status", flat=True))


def assert_one_full_set(media_root, photos: list[Photo]) -> None:
    rows = Derivative.objects.filter(photo__in=photos)
    assert set(rows.values_list("status", flat=True)) == {Status.READY}
    assert rows.count() == 3 * len(photos)
    media = Path(media_root) / "photos"
    files = {str(p.relative_to(media.parent)) for p in media.rglob("*") if p.is_file()}
    derivatives = {str(p) for p in media.glob("derivatives/**/*.jpg")}
    assert len(derivatives) == rows.count()  # no second copy under another name
    keys = {p.storage_key for p in photos} | set(rows.values_list("storage_key", flat=True))
    assert files >= keys


@pytest.fixture
def redis_broker(tmp_path):
    from clinic.celery import app

    server = RedisServer(tmp_path / "redis")
    server.start()
    conf = {"broker_url": server.url, "result_backend": server.url, "task_always_eager": False}
    try:
        with celery_configured(app, **conf):
            yield server
    finally:
        server.stop()


@pytest.fixture
def start_worker(redis_broker, tmp_path, settings, monkeypatch):
    """Starts worker processes with the short test limits; stops what is left of them."""
    monkeypatch.setenv("CELERY_TASK_SOFT_TIME_LIMIT", str(TIME_LIMIT - 1))
    monkeypatch.setenv("CELERY_TASK_TIME_LIMIT", str(TIME_LIMIT))
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", str(VISIBILITY))
    monkeypatch.setenv("CELERY_UNACKED_RESTORE_INTERVAL", "1")
    monkeypatch.setenv("CELERY_UNACKED_RESTORE_THROTTLE", "1")
    monkeypatch.setenv("PHOTOS_SWEEP_SECONDS", str(SWEEP))
    workers: list[WorkerProcess] = []

    def start(name: str, *, hold: float, pool: str = "solo", beat: bool = False):
        monkeypatch.setenv("PHOTOS_TEST_DELAY_SECONDS", str(hold))
        (tmp_path / name).mkdir()
        worker = WorkerProcess(
            tmp_path=tmp_path / name,
            media_root=settings.MEDIA_ROOT,
            broker_url=redis_broker.url,
            result_backend=redis_broker.url,
            pool=pool,
            beat=beat,
        )
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def upload(clinician_user, session, phase: str) -> Photo:
    return services.photo_upload(  # commits: the task is sent after the commit
        session=session,
        body_area=session.plan.body_area,
        view="frontal",
        phase=phase,
        file=upload_file("photo.jpg"),
        by=clinician_user,
    )


def cut_the_workers_database_connections() -> int:
    with connection.cursor() as cursor:  # every other session on this database: the worker's
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_pool_process_killed_and_a_database_connection_cut_mid_task(
    transactional_db, start_worker, settings, clinician_user, alice
):
    worker = start_worker("prefork", hold=HOLD, pool="prefork")
    plan = create_plan(alice, sessions=2)
    before = upload(clinician_user, plan.sessions.get(number=1), "before")
    wait_for(lambda: statuses(before) == {Status.RUNNING}, 20, "no claim", worker)
    (child,) = worker.pool_pids()
    os.kill(child, signal.SIGKILL)  # the OOM killer: the task gets no chance to do anything

    # Delivered again (reject_on_worker_lost) once the worker notices its lost child (a few
    # seconds), under the same task id: that task takes back the rows its dead attempt
    # claimed, before the claim could go stale and the sweep would send it.
    took = wait_for(lambda: statuses(before) == {Status.READY}, SWEEP, "not made again", worker)
    assert "WorkerLostError" in worker.log()
    print(f"pool process killed: photo ready {took:.1f} s later")

    after = upload(clinician_user, plan.sessions.get(number=2), "after")
    wait_for(lambda: statuses(after) == {Status.RUNNING}, 20, "no claim", worker)
    if connection.vendor == "postgresql":  # SQLite has no connection to cut
        assert cut_the_workers_database_connections() >= 1
    # The task fails on its next query, gives its claim back and retries (after 2 s) under
    # the same task id; the comparison sheet waiting on the photo follows.
    took = wait_for(lambda: statuses(after) == {Status.READY}, SWEEP, "stuck", worker)
    if connection.vendor == "postgresql":
        assert "Retry in 2s" in worker.log()
        print(f"connection cut: photo ready {took:.1f} s later")
    wait_for(
        lambda: Comparison.objects.filter(sheet_status=Status.READY).count() == 1,
        SWEEP,
        "no sheet",
        worker,
    )
    assert_one_full_set(settings.MEDIA_ROOT, [before, after])


def test_a_whole_worker_killed_mid_task(
    transactional_db, start_worker, settings, clinician_user, alice
):
    first = start_worker("first", hold=3 * TIME_LIMIT)  # would hold its claim past the limit
    session = create_plan(alice, sessions=1).sessions.get()
    photo = upload(clinician_user, session, "before")
    wait_for(lambda: statuses(photo) == {Status.RUNNING}, 20, "no claim", first)
    first.process.kill()  # SIGKILL: the message stays unacknowledged until VISIBILITY
    first.process.wait(timeout=10)
    killed = time.monotonic()

    second = start_worker("second", hold=0, beat=True)
    # The claim is stale TIME_LIMIT + 10 s after it was made; the next sweep sends it again.
    stale_and_swept = TIME_LIMIT + 10 + SWEEP
    wait_for(lambda: statuses(photo) == {Status.READY}, stale_and_swept + 10, "stuck", second)
    took = time.monotonic() - killed
    assert took < VISIBILITY / 2
    assert_one_full_set(settings.MEDIA_ROOT, [photo])
    print(f"worker killed: photo ready {took:.1f} s later (visibility timeout {VISIBILITY} s)")
