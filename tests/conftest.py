"""Fixtures every test may use: personas, test-only settings, and the real services.

Tests that need a real service (PostgreSQL, Redis, a worker process, Chromium) ask for it
through a fixture below. When the service is not reachable the test is skipped with the
reason; with REQUIRE_SERVICES=1 (as in CI) it fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.services import (
    BROWSER_ARGS,
    CHROMIUM,
    WorkerProcess,
    celery_configured,
    redis_url_or_none,
    require,
)

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by
# fixtures around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_configure(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    # Threads of live-server and concurrency tests open their own connections; persistent
    # ones would outlive their threads and keep the test database from being dropped.
    database["CONN_MAX_AGE"] = 0
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # A file, not memory, so that a worker process can open the test database too.
        test_db = Path(settings.VAR_DIR) / "test.sqlite3"
        test_db.parent.mkdir(parents=True, exist_ok=True)
        database.setdefault("TEST", {})["NAME"] = str(test_db)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, migrated; its seeded rows kept to put back after a flush."""
    from tests.seeds import snapshot

    with django_db_blocker.unblock():
        snapshot()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test that flushed the database (see tests/seeds.py), put the seeded rows back."""
    result = yield
    marker = item.get_closest_marker("django_db")
    marked_transactional = marker is not None and marker.kwargs.get("transaction", False)
    flushed = marked_transactional or {"transactional_db", "live_server"} & set(item.fixturenames)
    # After the last test the test database itself is gone (session fixtures end with it).
    if flushed and nextitem is not None:
        from pytest_django.plugin import blocking_manager_key

        from tests.seeds import reseed

        with item.config.stash[blocking_manager_key].unblock():
            reseed()
    return result


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media", "base_url": None},
        },
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (throttle counters)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _eager_celery():
    """Unit tests run tasks in-process; tests with a real worker switch this off."""
    from celery._state import _set_task_join_will_block

    from clinic.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = True
    # Eager tasks run in a live server's threads can leave Celery's process-wide "inside a
    # task" flag set, and every later result.get() in this process would then refuse.
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    """Text messages are kept in core.sms.outbox, as emails in mail.outbox; empty at the start."""
    from core import sms

    settings.SMS_BACKEND = "core.sms.LocmemBackend"
    sms.outbox.clear()
    return sms.outbox


@pytest.fixture(autouse=True)
def _outbox_relays_at_once():
    """A test that met a down broker must not pause the outbox's relay for the next test."""
    from core import outbox

    outbox._broker_paused_until = 0.0
    yield
    outbox._broker_paused_until = 0.0


# --- personas ---------------------------------------------------------------------------


@pytest.fixture
def front_desk_user(db):
    from tests.factories import StaffFactory

    return StaffFactory(username="fenna", role="Front desk")


@pytest.fixture
def clinician_user(db):
    from tests.factories import StaffFactory

    return StaffFactory(username="carla", role="Clinician")


@pytest.fixture
def admin_user(db):
    from tests.factories import StaffFactory

    return StaffFactory(username="anouk", role="Clinic admin")


@pytest.fixture
def alice(db):
    """Patient Alice, with a portal account."""
    from tests.factories import PatientFactory

    return PatientFactory(first_name="Alice", last_name="Smit", with_account=True)


@pytest.fixture
def bob(db):
    """Patient Bob, with a portal account: every portal test checks he sees nothing of Alice's."""
    from tests.factories import PatientFactory

    return PatientFactory(first_name="Bob", last_name="Mulder", with_account=True)


@pytest.fixture
def persona(request, front_desk_user, clinician_user, admin_user, alice, bob):
    """Look a persona up by name: 'front_desk', 'clinician', 'admin', 'alice', 'bob'."""
    people = {
        "front_desk": front_desk_user,
        "clinician": clinician_user,
        "admin": admin_user,
        "alice": alice.user,
        "bob": bob.user,
    }
    return people.__getitem__


# --- real services -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = redis_url_or_none()
    require(
        url is not None, "Redis is not reachable (set REDIS_URL, e.g. redis://127.0.0.1:6379/15)"
    )
    return url


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs a block as if its transaction committed (the test's own transaction never does)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def postgres(db):
    from django.db import connection

    require(
        connection.vendor == "postgresql",
        "needs PostgreSQL (set TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/clinic)",
    )
    return connection


@pytest.fixture
def celery_worker(request, transactional_db, tmp_path, settings):
    """A real `celery worker` process on the broker named by the test's `broker` param.

    Use with @pytest.mark.parametrize("celery_worker", ["filesystem", "redis"], indirect=True);
    without a param it uses the embedded filesystem broker, as `make run` does.
    """
    from clinic.celery import app

    kind = getattr(request, "param", "filesystem")
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        broker = {"broker_url": url, "result_backend": url}
    else:
        broker = {"broker_url": "filesystem://", "result_backend": f"file://{tmp_path / 'results'}"}
    worker = WorkerProcess(tmp_path=tmp_path, media_root=settings.MEDIA_ROOT, **broker)
    with celery_configured(app, **worker.celery_conf()):
        try:
            worker.start()  # inside the try: a worker that fails to answer is stopped too
            yield worker
        finally:
            worker.stop()


@pytest.fixture(scope="session")
def browser():
    require(
        CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    """A 375-pixel-wide phone screen, as a patient holds it."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 375, "height": 812},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
