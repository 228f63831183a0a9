"""The benchmarks' bare baseline view exists only when BENCH_BASELINE_VIEW is on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.views import bench_baseline

ROOT = Path(__file__).resolve().parents[2]


def test_not_routed_by_default(client, db):
    assert client.get("/bench/baseline/").status_code == 404


def test_renders_fifty_rows_without_the_database(rf):
    # No db fixture: any query would raise "Database access not allowed".
    response = bench_baseline(rf.get("/bench/baseline/"))
    assert response.status_code == 200
    assert response.content.count(b"<tr>") == 51  # header and 50 rows


def test_refused_in_production():
    env = dict(
        os.environ,
        PRODUCTION="1",
        BENCH_BASELINE_VIEW="1",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="clinic.example",
        DATABASE_URL="postgres://clinic@db/clinic",
        CELERY_BROKER_URL="redis://redis:6379/0",
        EMAIL_URL="smtp+tls://mail:587",
        DJANGO_SETTINGS_MODULE="clinic.settings",
    )
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "BENCH_BASELINE_VIEW is for the benchmarks" in completed.stderr
