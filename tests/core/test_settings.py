"""The settings module honours the environment. Each case loads settings in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.services import ROOT

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "db_engine": db["ENGINE"], "db_name": str(db["NAME"]), "db_host": db.get("HOST", ""),
    "broker": settings.CELERY_BROKER_URL, "result_backend": settings.CELERY_RESULT_BACKEND,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "storage_options": {
        k: str(v) for k, v in settings.STORAGES["default"].get("OPTIONS", {}).items()
    },
    "debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS, "tz": settings.TIME_ZONE,
    "secret": settings.SECRET_KEY, "email": settings.MAILERS["delivery"]["BACKEND"],
    "ssl_redirect": settings.SECURE_SSL_REDIRECT, "hsts": settings.SECURE_HSTS_SECONDS,
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "second_factor": settings.REQUIRE_SECOND_FACTOR,
}))
"""

MANAGED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "MEDIA_STORAGE",
    "DEBUG",
    "PRODUCTION",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "TIME_ZONE",
    "EMAIL_URL",
    "MEDIA_ROOT",
    "REQUIRE_SECOND_FACTOR",
)


def load_settings(tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in MANAGED}
    env.update({"DJANGO_SETTINGS_MODULE": "clinic.settings", "VAR_DIR": str(tmp_path / "var")})
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def settings_with(tmp_path, **overrides: str) -> dict:
    result = load_settings(tmp_path, **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_laptop_defaults_need_no_server(tmp_path):
    loaded = settings_with(tmp_path)
    assert loaded["db_engine"] == "django.db.backends.sqlite3"
    assert loaded["db_name"] == str(tmp_path / "var" / "clinic.sqlite3")
    assert loaded["broker"] == "filesystem://"
    assert loaded["result_backend"].startswith("file://")
    assert loaded["storage"] == "django.core.files.storage.FileSystemStorage"
    assert loaded["storage_options"]["base_url"] == "None"  # media is never served directly
    assert loaded["debug"] is False
    assert loaded["email"] == "django.core.mail.backends.console.EmailBackend"
    # a generated key, kept under var/ so it survives restarts
    assert loaded["secret"] == (tmp_path / "var" / "secret_key").read_text().strip()
    assert len(loaded["secret"]) >= 50
    assert loaded["second_factor"] is False


def test_environment_names_postgres_redis_and_s3(tmp_path):
    loaded = settings_with(
        tmp_path,
        DATABASE_URL="postgres://clinic:pw@db.internal:5432/clinicdb",
        CELERY_BROKER_URL="redis://cache.internal:6379/2",
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="clinic-photos",
        TIME_ZONE="Europe/Brussels",
        ALLOWED_HOSTS="clinic.example,www.clinic.example",
        DEBUG="1",
        EMAIL_URL="smtp://mail.internal:25",
    )
    assert loaded["db_engine"] == "django.db.backends.postgresql"
    assert (loaded["db_name"], loaded["db_host"]) == ("clinicdb", "db.internal")
    assert loaded["broker"] == "redis://cache.internal:6379/2"
    assert loaded["result_backend"] == "redis://cache.internal:6379/2"
    assert loaded["storage"] == "storages.backends.s3.S3Storage"
    assert loaded["storage_options"]["bucket_name"] == "clinic-photos"
    assert loaded["storage_options"]["default_acl"] == "private"
    assert loaded["tz"] == "Europe/Brussels"
    assert loaded["hosts"] == ["clinic.example", "www.clinic.example"]
    assert loaded["debug"] is True
    assert loaded["email"] == "django.core.mail.backends.smtp.EmailBackend"


def test_production_switches_on_transport_security(tmp_path):
    loaded = settings_with(
        tmp_path,
        PRODUCTION="1",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="clinic.example",
        DATABASE_URL="postgres://clinic@db/clinic",
        CELERY_BROKER_URL="redis://redis:6379/0",
        EMAIL_URL="smtp+tls://clinic:secret@mail.internal:587",
    )
    assert loaded["ssl_redirect"] is True
    assert loaded["session_secure"] is True
    assert loaded["hsts"] >= 31536000
    assert loaded["second_factor"] is True  # staff who see photos or history must use one


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL"]
)
def test_production_refuses_to_start_without_a_required_value(tmp_path, missing):
    values = {
        "PRODUCTION": "1",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "clinic.example",
        "DATABASE_URL": "postgres://clinic@db/clinic",
        "CELERY_BROKER_URL": "redis://redis:6379/0",
        "EMAIL_URL": "smtp+tls://clinic:secret@mail.internal:587",
    }
    del values[missing]
    result = load_settings(tmp_path, **values)
    assert result.returncode != 0
    assert f"{missing} must be set in the environment when PRODUCTION=1" in result.stderr


def test_a_bad_value_fails_loudly(tmp_path):
    result = load_settings(tmp_path, MEDIA_STORAGE="ftp")
    assert result.returncode != 0
    assert "MEDIA_STORAGE must be 'local' or 's3'" in result.stderr


def test_unverified_sign_ups_are_never_removed_while_their_link_works(tmp_path):
    result = load_settings(tmp_path, SIGNUP_UNVERIFIED_DAYS="2")  # the link lasts 3 days
    assert result.returncode != 0
    assert "SIGNUP_UNVERIFIED_DAYS must be longer than the verification link lasts" in (
        result.stderr
    )


def test_a_mail_folder_url_writes_each_email_to_that_folder(tmp_path):
    """EMAIL_URL=filemail:///<path>: the worker's delivery mailer is Django's file backend,
    which refuses to start without its folder (every send failed with InvalidMailer)."""
    folder = tmp_path / "mail"
    env = {key: value for key, value in os.environ.items() if key not in MANAGED}
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        VAR_DIR=str(tmp_path / "var"),
        EMAIL_URL=f"filemail:///{folder}",
    )
    sent = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.core.mail import "
         "EmailMessage, mailers; mailers['delivery'].send_messages([EmailMessage("
         "'Cancelled: your session', 'body', 'a@example.com', ['b@example.com'])])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert "Subject: Cancelled: your session" in "".join(p.read_text() for p in folder.iterdir())
