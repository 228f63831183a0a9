"""Reaching the real services from tests: skip with a reason, or fail under REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.db import connection

# What an audit append writes after reading the actor's groups, on every database: 1 the
# chain's head locked (created on first use), 2 the event inserted, 3 the head moved on.
AUDIT_WRITES = 3

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "no")
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# A closed network: without these Chromium keeps trying to phone home and stalls.
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Chromium's own fake camera (a moving test pattern), and camera prompts answered yes: the
    # live capture guide's walk needs them (with the camera permission granted to its context);
    # pages that never ask for a camera do not notice them.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
ROOT = Path(__file__).resolve().parent.parent


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def redis_url_or_none() -> str | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    import redis

    url = _own_database(url)

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return None
    return url


def _own_database(url: str) -> str:
    """The Redis database of this pytest-xdist worker: the named one for the first, the ones
    below it for the others, so that parallel workers never share queues or a cache."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker.removeprefix("gw") or 0)
    if offset == 0:
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database - offset) % 16}"))


def database_url_of(settings_dict: dict) -> str:
    """The URL that points another process at the database this test process uses."""
    engine = settings_dict["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    if engine.startswith("django.db.backends.postgresql"):
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "localhost"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    raise NotImplementedError(f"no worker URL for {engine}")


class WorkerProcess:
    """A `celery worker` subprocess sharing this test's database, media folder and broker."""

    def __init__(
        self,
        *,
        tmp_path: Path,
        media_root,
        broker_url: str,
        result_backend: str,
        pool: str = "solo",
        beat: bool = False,
    ):
        self.pool = pool  # "prefork" runs tasks in a child process a test can kill on its own
        self.beat = beat  # runs the beat schedule (the photo sweep) inside the worker
        self.broker_url = broker_url
        self.result_backend = result_backend
        self.broker_dir = tmp_path / "broker"
        self.media_root = str(media_root)
        self.log_path = tmp_path / "worker.log"
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.process: subprocess.Popen | None = None

    def celery_conf(self) -> dict:
        """What this process's Celery app needs to talk to the worker."""
        return {
            "broker_url": self.broker_url,
            "result_backend": self.result_backend,
            "broker_transport_options": self.transport_options,
            "task_always_eager": False,
        }

    @property
    def transport_options(self) -> dict:
        if not self.broker_url.startswith("filesystem://"):
            return {"visibility_timeout": 3600}
        for sub in ("queue", "processed", "control"):
            (self.broker_dir / sub).mkdir(parents=True, exist_ok=True)
        queue = str(self.broker_dir / "queue")
        return {
            "data_folder_in": queue,
            "data_folder_out": queue,
            "processed_folder": str(self.broker_dir / "processed"),
            "control_folder": str(self.broker_dir / "control"),
        }

    def environment(self) -> dict[str, str]:

        return {
            **os.environ,
            "DATABASE_URL": database_url_of(connection.settings_dict),
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_RESULT_BACKEND": self.result_backend,
            "CELERY_FILESYSTEM_BROKER_DIR": str(self.broker_dir),
            "MEDIA_ROOT": self.media_root,
        }

    def start(self, timeout: float = 60) -> None:
        from clinic.celery import app

        self.transport_options  # noqa: B018 - creates the broker folders before anyone uses them
        if self.result_backend.startswith("file://"):
            Path(self.result_backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        if not self.broker_url.startswith("filesystem://"):
            app.control.purge()
        command = [sys.executable, "-m", "celery", "-A", "clinic", "worker", f"--pool={self.pool}"]
        if self.pool == "prefork":
            command += ["--concurrency=1"]
        if self.beat:
            command += ["--beat", "--schedule", str(self.log_path.with_name("celerybeat-schedule"))]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        command += ["--loglevel=INFO", "-n", self.name]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_until_ready(timeout)

    def _wait_until_ready(self, timeout: float) -> None:
        from celery.exceptions import TimeoutError as CeleryTimeout

        from core.tasks import ping

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.log()}")
            try:
                if ping.apply_async(expires=5).get(timeout=2) == "pong":
                    return
            except CeleryTimeout:
                continue
        raise RuntimeError(f"the worker did not answer within {timeout} s:\n{self.log()}")

    def pool_pids(self) -> list[int]:
        """The ids of the prefork pool's child processes (Linux)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()


@contextmanager
def celery_configured(app, **conf):
    """Points this process's Celery app at another broker or backend for the duration."""
    saved = {key: app.conf.get(key) for key in conf}

    def apply(values: dict) -> None:
        app.conf.update(values)
        # Drop the connection and producer pools built for the old broker.
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None
        app._backend_cache = None
        app._local.__dict__.pop("backend", None)

    apply(conf)
    try:
        yield app
    finally:
        apply(saved)
