import os
import subprocess
import sys

from tests.services import ROOT

PRODUCTION_ENV = {
    "PRODUCTION": "1",
    "SECRET_KEY": "k3y-" + "0123456789abcdefghij" * 3,
    "ALLOWED_HOSTS": "clinic.example",
    "DATABASE_URL": "postgres://clinic@db.internal/clinic",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+tls://clinic:secret@mail.internal:587",
}


def test_check_deploy_is_clean_with_production_settings():
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(PRODUCTION_ENV)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
