"""The one settings module. Every value comes from the environment; defaults suit a laptop.

Production (PRODUCTION=1) refuses to start without the values that must never default:
SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, CELERY_BROKER_URL and EMAIL_URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from pathlib import Path

import environ
import phonenumbers
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

PRODUCTION = env.bool("PRODUCTION", default=False)
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PRODUCTION=1.")


def _required_in_production(name: str) -> None:
    if PRODUCTION and name not in env:
        raise ImproperlyConfigured(f"{name} must be set in the environment when PRODUCTION=1.")


for _name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL"):
    _required_in_production(_name)


def _local_secret_key() -> str:
    """A key kept under var/ so a laptop's sessions survive restarts without any set-up."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()
# The audit chain's HMAC key. It is not stored in the database, so whoever can write the
# database (its owner included) cannot re-hash an edited chain. Set its own value in production
# (and keep it when SECRET_KEY rotates); by default it is derived from SECRET_KEY.
AUDIT_CHAIN_KEY = (
    env.str("AUDIT_CHAIN_KEY", default="")
    or hmac.new(SECRET_KEY.encode(), b"clinic audit chain", hashlib.sha256).hexdigest()
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

CLINIC_NAME = env.str("CLINIC_NAME", default="Lumen Skin Clinic")
# How patients reach the clinic: shown in the portal; the portal's change requests go to the email.
CLINIC_PHONE = env.str("CLINIC_PHONE", default="020 123 4567")
CLINIC_EMAIL = env.str("CLINIC_EMAIL", default="clinic@localhost")
# How staff write phone numbers and dates: a number without a country code is read in this
# region (ISO 3166 code, e.g. NL, BE, DE), and 12-04-1988 is 12 April when the day comes first.
PHONE_REGION = env.str("PHONE_REGION", default="NL").upper()
DATE_DAY_FIRST = env.bool("DATE_DAY_FIRST", default=True)
if PHONE_REGION not in phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(
        f"PHONE_REGION must be a country code such as NL, not {PHONE_REGION!r}."
    )
# Where emailed links point (patient invitations).
SITE_URL = env.str(
    "SITE_URL",
    default=f"https://{ALLOWED_HOSTS[0]}" if PRODUCTION else "http://127.0.0.1:8000",
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "core",
    "people",
    "treatments",
    "scheduling",
    "photos",
    "portal",
    "audit",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.NoStoreWhenSignedInMiddleware",
    # Audits every look at patient data and every refusal, and gives audit_log() the client's
    # address; inside the authentication, so it knows who asked.
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A page of a record merged into another leads to that other record.
    "people.middleware.MergedRecordRedirectMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SessionLimitsMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it turns a sign-in refused during a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.clinic",
            ],
        },
    },
    # The partials that draw hundreds of rows (<app>/jinja2/), included by Django pages.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": True,
        "OPTIONS": {"environment": "core.jinja2.environment"},
    },
]

# Database: a SQLite file under var/ unless DATABASE_URL names another (PostgreSQL in production).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}"),
}
# A server database keeps each worker's connection open between requests (opening one costs
# more than most of our queries); SQLite opens a file, which is cheap.
_server_database = DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
DATABASES["default"].setdefault(
    "CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60 if _server_database else 0)
)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", _server_database)
if not _server_database:
    # WAL and a busy timeout let the web server and the worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # The cache holds only what is safe to lose (throttle counters): django-redis can treat a
    # Redis that does not answer as an empty cache, so its outage slows nothing and breaks nothing.
    CACHES["default"]["BACKEND"] = "django_redis.cache.RedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
    )
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# Sessions live in the database: signed-in people stay signed in whatever happens to the cache.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses every attempt while a username and address pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading permissions and group names in one query per request.
    "core.auth.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 24 * 3)

# Clinic-local time; everything is stored as aware datetimes in UTC.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en-gb")
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not PRODUCTION  # production serves the collectstatic output
if not PRODUCTION:
    Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)

# Media: never served by the web server; every file goes out through a view that checks access.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# No route serves MEDIA_URL and the storage has no base URL: nothing links to media directly.
MEDIA_URL = "/media/"
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
if MEDIA_STORAGE == "local":
    _media_backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
elif MEDIA_STORAGE == "s3":
    _media_backend = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=60),
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'local' or 's3', not {MEDIA_STORAGE!r}.")
# The STORAGES alias the audit chain's signed heads (anchors) are written to. In production
# make it a store the database's owner cannot rewrite (see README, "Audit log").
AUDIT_ANCHOR_STORAGE = env.str("AUDIT_ANCHOR_STORAGE", default="default")
STORAGES = {
    "default": _media_backend,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Photos: how image bytes leave the app once the view has checked permission and audited.
# "direct" streams them from the storage; "x-accel" hands nginx an internal location
# (PHOTOS_X_ACCEL_PREFIX + key); "signed-url" redirects to the storage's short-lived signed URL.
PHOTOS_DELIVERY = env.str("PHOTOS_DELIVERY", default="direct")
if PHOTOS_DELIVERY not in ("direct", "x-accel", "signed-url"):
    raise ImproperlyConfigured("PHOTOS_DELIVERY must be 'direct', 'x-accel' or 'signed-url'.")
PHOTOS_X_ACCEL_PREFIX = env.str("PHOTOS_X_ACCEL_PREFIX", default="/protected-media/")
PHOTOS_MAX_UPLOAD_BYTES = env.int("PHOTOS_MAX_UPLOAD_BYTES", default=40 * 1024 * 1024)
PHOTOS_MAX_PIXELS = env.int("PHOTOS_MAX_PIXELS", default=60_000_000)
# A photo is dated by its session; a camera date further than this from it is flagged at upload.
PHOTOS_CAPTURE_DATE_TOLERANCE_DAYS = env.int("PHOTOS_CAPTURE_DATE_TOLERANCE_DAYS", default=2)
if PHOTOS_CAPTURE_DATE_TOLERANCE_DAYS < 0:
    raise ImproperlyConfigured("PHOTOS_CAPTURE_DATE_TOLERANCE_DAYS must be 0 or more.")
# Capture quality (photos/science.py): a photo past one of these asks for a retake. The
# defaults were calibrated on real photographs (bench/photo_science.py prints the figures).
PHOTOS_QUALITY_MIN_SHARPNESS = env.float("PHOTOS_QUALITY_MIN_SHARPNESS", default=30.0)
# Camera shake: the weakest direction's detail over the strongest's, 0 to 1.
PHOTOS_QUALITY_MIN_ISOTROPY = env.float("PHOTOS_QUALITY_MIN_ISOTROPY", default=0.20)
PHOTOS_QUALITY_MAX_CLIPPED_HIGHLIGHTS = env.float(
    "PHOTOS_QUALITY_MAX_CLIPPED_HIGHLIGHTS", default=0.03
)
PHOTOS_QUALITY_MAX_CLIPPED_SHADOWS = env.float("PHOTOS_QUALITY_MAX_CLIPPED_SHADOWS", default=0.30)
PHOTOS_QUALITY_MAX_COLOUR_CAST = env.float("PHOTOS_QUALITY_MAX_COLOUR_CAST", default=10.0)
PHOTOS_QUALITY_MAX_FRAMING_SCALE = env.float("PHOTOS_QUALITY_MAX_FRAMING_SCALE", default=0.10)
PHOTOS_QUALITY_MAX_FRAMING_OFFSET = env.float("PHOTOS_QUALITY_MAX_FRAMING_OFFSET", default=0.08)
PHOTOS_QUALITY_MAX_FRAMING_ROTATION = env.float("PHOTOS_QUALITY_MAX_FRAMING_ROTATION", default=5.0)
# Stops (EV) a photo may be brighter or darker than its baseline over the area they share.
PHOTOS_QUALITY_MAX_EXPOSURE_EV = env.float("PHOTOS_QUALITY_MAX_EXPOSURE_EV", default=1.0)
# The share of its baseline's fine detail a photo must keep (a blurred or shaken copy keeps
# less than a quarter).
PHOTOS_QUALITY_MIN_SHARPNESS_RATIO = env.float("PHOTOS_QUALITY_MIN_SHARPNESS_RATIO", default=0.25)
for _name in (
    "PHOTOS_QUALITY_MIN_SHARPNESS",
    "PHOTOS_QUALITY_MIN_ISOTROPY",
    "PHOTOS_QUALITY_MAX_CLIPPED_HIGHLIGHTS",
    "PHOTOS_QUALITY_MAX_CLIPPED_SHADOWS",
    "PHOTOS_QUALITY_MAX_COLOUR_CAST",
    "PHOTOS_QUALITY_MAX_FRAMING_SCALE",
    "PHOTOS_QUALITY_MAX_FRAMING_OFFSET",
    "PHOTOS_QUALITY_MAX_FRAMING_ROTATION",
    "PHOTOS_QUALITY_MAX_EXPOSURE_EV",
    "PHOTOS_QUALITY_MIN_SHARPNESS_RATIO",
):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 or more.")
for _name in (
    "PHOTOS_QUALITY_MIN_ISOTROPY",
    "PHOTOS_QUALITY_MAX_CLIPPED_HIGHLIGHTS",
    "PHOTOS_QUALITY_MAX_CLIPPED_SHADOWS",
    "PHOTOS_QUALITY_MIN_SHARPNESS_RATIO",
):
    if globals()[_name] > 1:
        raise ImproperlyConfigured(f"{_name} is a fraction: 0 to 1.")
# Printed sheets (comparison and course sheets): the paper their PDF is laid out on.
PHOTOS_SHEET_PAPER = env.str("PHOTOS_SHEET_PAPER", default="A4")
if PHOTOS_SHEET_PAPER not in ("A4", "Letter"):
    raise ImproperlyConfigured("PHOTOS_SHEET_PAPER must be 'A4' or 'Letter'.")
# Sheets for education or marketing hide who the patient is: the eyes blurred beyond
# recognition ("blur") or covered by a dark bar ("bar").
PHOTOS_PUBLICATION_COVER = env.str("PHOTOS_PUBLICATION_COVER", default="blur")
if PHOTOS_PUBLICATION_COVER not in ("blur", "bar"):
    raise ImproperlyConfigured("PHOTOS_PUBLICATION_COVER must be 'blur' or 'bar'.")
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploads stream to a temporary file
# A form or JSON body past this is refused with a 400 (core.parsers for JSON); files are apart.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# Email: printed to the console unless EMAIL_URL names a server (smtp+tls://user:pass@host:587).
_email = env.email("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email["EMAIL_HOST"],
    "port": _email["EMAIL_PORT"],
    "username": _email["EMAIL_HOST_USER"],
    "password": _email["EMAIL_HOST_PASSWORD"],
    "use_tls": _email.get("EMAIL_USE_TLS", False),
    "use_ssl": _email.get("EMAIL_USE_SSL", False),
    "timeout": 10,
}
if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
    _delivery_options = _smtp_options
elif _email["EMAIL_BACKEND"].endswith("filebased.EmailBackend"):
    # filemail:///var/mail means /var/mail (django-environ drops the leading slash).
    _delivery_options = {"file_path": "/" + _email["EMAIL_FILE_PATH"].lstrip("/")}
else:
    _delivery_options = {}
MAILERS = {
    # Every email joins the outbox (core/outbox.py) in the sender's own transaction, so none is
    # lost when the broker or the mail server is down; the worker sends it through "delivery".
    "default": {"BACKEND": "core.outbox.OutboxEmailBackend"},
    "delivery": {"BACKEND": _email["EMAIL_BACKEND"], "OPTIONS": _delivery_options},
}
# An outbox email that fails this many sends (pauses 30 s, 1, 2, 4, 8 min) waits for the desk.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=6)
OUTBOX_KEEP_SENT_DAYS = env.int("OUTBOX_KEEP_SENT_DAYS", default=7)
# A relayed message no worker has taken by then is relayed again (the broker lost its queue);
# a second copy is harmless: an email is claimed by one worker, tasks are idempotent.
OUTBOX_RELAY_LEASE_SECONDS = env.int("OUTBOX_RELAY_LEASE_SECONDS", default=5 * 60)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{CLINIC_NAME} <noreply@localhost>")

# Celery: a broker that needs no server by default (kombu's filesystem transport), Redis when set.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
TASK_RETRY_MAX_COUNTDOWN = 60  # s; the longest wait before a task's retry (photos.tasks)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_FILESYSTEM_BROKER_DIR = env.path("CELERY_FILESYSTEM_BROKER_DIR", default=VAR_DIR / "broker")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(CELERY_FILESYSTEM_BROKER_DIR)
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    _default_result_backend = f"file://{VAR_DIR / 'celery-results'}"
    (VAR_DIR / "celery-results").mkdir(parents=True, exist_ok=True)
else:
    # A killed worker's unacknowledged task is delivered again after the visibility timeout
    # (minutes, not an hour: the photo sweep usually redoes such work sooner still). A task
    # waits unacknowledged for as long as it runs, or for its retry's countdown: a shorter
    # timeout would deliver a live task a second time.
    _visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=5 * 60)
    if _visibility_timeout <= CELERY_TASK_TIME_LIMIT + TASK_RETRY_MAX_COUNTDOWN:
        raise ImproperlyConfigured(
            "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT plus "
            f"{TASK_RETRY_MAX_COUNTDOWN} s (the longest retry countdown)."
        )
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility_timeout,
        # How often a worker looks for such tasks (kombu's defaults: every 10th 10-s poll).
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
    _default_result_backend = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=_default_result_backend)
CELERY_RESULT_EXPIRES = 60 * 60
# A request that sends a task must not wait long for a broker that is down.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_TASK_ALWAYS_EAGER = False  # eager mode is switched on by the unit tests only
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Booking: how long before a session its reminder goes out, and what counts as a late cancel.
REMINDER_LEAD_HOURS = env.int("REMINDER_LEAD_HOURS", default=24)
CANCELLATION_NOTICE_HOURS = env.int("CANCELLATION_NOTICE_HOURS", default=24)
# A reminder's confirm, cancel and move links (scheduling/reminders.py) work this long after
# they were sent, and never once the session has moved, been cancelled or begun.
REMINDER_LINK_HOURS = env.int("REMINDER_LINK_HOURS", default=72)
if REMINDER_LINK_HOURS < 1:
    raise ImproperlyConfigured("REMINDER_LINK_HOURS must be 1 or more.")

# Text messages (core/sms.py): the backend that really sends them, like an email backend.
# Printed to the log unless set; core.sms.MessageBirdBackend sends through the provider's REST
# API at SMS_PROVIDER_URL with SMS_API_KEY. Reminders by text join the outbox, so a provider
# that is down delays them; the outbox's retries and OUTBOX_MAX_ATTEMPTS apply.
SMS_BACKEND = env.str("SMS_BACKEND", default="core.sms.ConsoleBackend")
SMS_PROVIDER_URL = env.str("SMS_PROVIDER_URL", default="https://rest.messagebird.com")
SMS_API_KEY = env.str("SMS_API_KEY", default="")
# Who the text is from: up to 11 letters and digits, or a phone number.
SMS_SENDER = env.str("SMS_SENDER", default="Clinic")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
if SMS_BACKEND == "core.sms.MessageBirdBackend" and not SMS_API_KEY:
    raise ImproperlyConfigured("SMS_API_KEY must be set to send text messages by the provider.")
# The patient's own short check before a session: asked this long before it starts.
PRESESSION_CHECK_HOURS = env.int("PRESESSION_CHECK_HOURS", default=48)
# Waiting list: how long an offered time stays open, how many waiting patients are offered one
# freed time at once (in the order they asked), and how soon a freed time may start to be offered.
WAITLIST_OFFER_HOURS = env.int("WAITLIST_OFFER_HOURS", default=12)
WAITLIST_OFFERS_PER_SLOT = env.int("WAITLIST_OFFERS_PER_SLOT", default=5)
WAITLIST_MIN_NOTICE_HOURS = env.int("WAITLIST_MIN_NOTICE_HOURS", default=2)
# Online booking in the portal: how many days ahead a patient may book or move a session to,
# and how many hours' notice a time they choose must leave at least.
ONLINE_BOOKING_DAYS_AHEAD = env.int("ONLINE_BOOKING_DAYS_AHEAD", default=60)
ONLINE_BOOKING_MIN_NOTICE_HOURS = env.int("ONLINE_BOOKING_MIN_NOTICE_HOURS", default=24)
if ONLINE_BOOKING_DAYS_AHEAD < 1 or ONLINE_BOOKING_MIN_NOTICE_HOURS < 0:
    raise ImproperlyConfigured(
        "ONLINE_BOOKING_DAYS_AHEAD must be at least 1 and ONLINE_BOOKING_MIN_NOTICE_HOURS "
        "at least 0."
    )
# A patient's own data: how long a data export stays downloadable once made, and how long
# after the last change to a record it is kept before the clinic may erase it. The default is
# the Dutch law's (WGBO, art. 7:454 BW): 20 years from the record's last change, since
# 1 January 2020 (15 before); set the clinic's own country's term.
PATIENT_EXPORT_HOURS = env.int("PATIENT_EXPORT_HOURS", default=48)
PATIENT_RETENTION_YEARS = env.int("PATIENT_RETENTION_YEARS", default=20)
if PATIENT_RETENTION_YEARS < 1 or PATIENT_EXPORT_HOURS < 1:
    raise ImproperlyConfigured(
        "PATIENT_RETENTION_YEARS and PATIENT_EXPORT_HOURS must be whole numbers from 1."
    )
CELERY_BEAT_SCHEDULE: dict = {
    "send-session-reminders": {
        "task": "scheduling.tasks.send_due_reminders",
        "schedule": env.int("REMINDER_CHECK_SECONDS", default=15 * 60),
    },
    "send-presession-checks": {
        "task": "scheduling.tasks.send_due_presession_checks",
        "schedule": env.int("PRESESSION_CHECK_SECONDS", default=15 * 60),
    },
    "audit-verify-chain": {"task": "audit.verify_chain", "schedule": 60 * 60 * 24},
    # The chain's head, signed, written outside the database (AUDIT_ANCHOR_STORAGE and the log).
    "audit-anchor-head": {
        "task": "audit.anchor_head",
        "schedule": env.int("AUDIT_ANCHOR_SECONDS", default=60 * 60),
    },
    # The photo sweep: derivative and sheet work whose send was lost while the broker was
    # down, or whose task died (a claim older than CELERY_TASK_TIME_LIMIT + 10 s). A killed
    # worker's photo is made again within that plus this interval: under 3 minutes.
    "photos-resend-pending": {
        "task": "photos.resend_pending",
        "schedule": env.int("PHOTOS_SWEEP_SECONDS", default=60),
    },
    # Freed times whose waiting-list offers expired go to the next patients in line.
    "waitlist-reoffer": {
        "task": "scheduling.tasks.reoffer_lapsed_openings",
        "schedule": env.int("WAITLIST_REOFFER_SECONDS", default=5 * 60),
    },
    # Data exports past their download time lose their archive.
    "people-data-exports-purge": {"task": "people.purge_data_exports", "schedule": 60 * 60},
    # Sign-ups nobody verified within SIGNUP_UNVERIFIED_DAYS are removed.
    "accounts-unverified-signups": {
        "task": "accounts.remove_unverified_signups",
        "schedule": 60 * 60 * 24,
    },
    # Lists (never erases) the records past their retention period, for a clinic admin.
    "people-past-retention": {"task": "people.list_past_retention", "schedule": 60 * 60 * 24},
    # Emails and tasks that waited in the outbox for the broker or for another try.
    "outbox-relay": {
        "task": "core.outbox_relay",
        "schedule": env.int("OUTBOX_RELAY_SECONDS", default=30),
    },
}
PHOTOS_RESEND_AFTER_MINUTES = env.int("PHOTOS_RESEND_AFTER_MINUTES", default=10)
# Tests only: a pause inside the derivative task after it claims its rows (0 = none).
PHOTOS_TEST_DELAY_SECONDS = env.float("PHOTOS_TEST_DELAY_SECONDS", default=0)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
HEALTH_WORKER_TIMEOUT = env.float("HEALTH_WORKER_TIMEOUT", default=3.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an API client without credentials is told 401 and how to authenticate.
        # django-rest-knox: tokens kept as digests, each expiring; accounts/signals.py ends
        # them when the password, roles, second factor or the account's being open change.
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies bounded in size and depth; ids, dates, limits and filters checked (core.params).
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTO_REFRESH": False,  # a token lives its TTL from issue, however busy
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic API",
    "DESCRIPTION": "Treatment plans, screening, booking and photos for a skin clinic.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs map every operation: staff only, not patients.
    "SERVE_PERMISSIONS": ["core.permissions.IsStaff"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PhotoWorkStatusEnum": "photos.models.Status",
        "PlanStatusEnum": "treatments.models.TreatmentPlan.Status",
        "SessionStatusEnum": "treatments.models.Session.Status",
        "OverrideCategoryEnum": "treatments.models.Screening.OverrideCategory",
    },
}

# A strict Content Security Policy: scripts only from here or with the per-request nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Idle timeout: a session ends SESSION_COOKIE_AGE seconds after its last request. The sign-in
# limits middleware slides the expiry at most once a minute (SESSION_IDLE_REFRESH); set
# SESSION_SAVE_EVERY_REQUEST=1 to slide it on every request instead, at one write per request.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60)
SESSION_SAVE_EVERY_REQUEST = env.bool("SESSION_SAVE_EVERY_REQUEST", default=False)
SESSION_IDLE_REFRESH = env.int("SESSION_IDLE_REFRESH", default=60)
# Absolute timeout: signed out this many seconds after signing in, however active.
SESSION_ABSOLUTE_AGE = env.int("SESSION_ABSOLUTE_AGE", default=60 * 60 * 12)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# `make bench` only: a bare view rendering a 50-row template at /bench/baseline/, the yardstick
# the pages' throughput is divided by. Never in production.
BENCH_BASELINE_VIEW = env.bool("BENCH_BASELINE_VIEW", default=False)
if PRODUCTION and BENCH_BASELINE_VIEW:
    raise ImproperlyConfigured("BENCH_BASELINE_VIEW is for the benchmarks, never production.")
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Sign-in lockout (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one
# address lock that pair out for AXES_COOLOFF_MINUTES. The page does not say whether the
# account exists.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_CLIENT_IP_CALLABLE = "audit.ip.axes_client_ip"
# Axes' database handler with the account's own throttle beside it (accounts/throttle.py): after
# ACCOUNT_THROTTLE_FREE_FAILURES wrong passwords for one username, from any addresses, each
# further attempt waits a delay doubling per wrong password up to the maximum. It slows; it
# never locks the owner out.
AXES_HANDLER = "accounts.throttle.AxesHandler"
ACCOUNT_THROTTLE_FREE_FAILURES = env.int("ACCOUNT_THROTTLE_FREE_FAILURES", default=10)
ACCOUNT_THROTTLE_MAX_WAIT_SECONDS = env.int("ACCOUNT_THROTTLE_MAX_WAIT_SECONDS", default=300)
ACCOUNT_THROTTLE_FORGET_AFTER = timedelta(
    hours=env.int("ACCOUNT_THROTTLE_FORGET_AFTER_HOURS", default=24)
)
# Password-reset emails: at most this many an hour for one address asked for, and from one
# client address.
PASSWORD_RESET_PER_EMAIL = env.int("PASSWORD_RESET_PER_EMAIL", default=3)
PASSWORD_RESET_PER_CLIENT = env.int("PASSWORD_RESET_PER_CLIENT", default=10)
# The public sign-up (/portal/signup/) emails on every valid request: as many an hour per
# address asked for and per client. Its verification link expires with PASSWORD_RESET_TIMEOUT.
SIGNUP_PER_EMAIL = env.int("SIGNUP_PER_EMAIL", default=3)
SIGNUP_PER_CLIENT = env.int("SIGNUP_PER_CLIENT", default=10)
# A sign-up nobody verifies (its account inactive, its record unused) is removed this many days
# after it was made: what a stranger typed is not kept for ever.
SIGNUP_UNVERIFIED_DAYS = env.int("SIGNUP_UNVERIFIED_DAYS", default=14)
if SIGNUP_UNVERIFIED_DAYS * 24 * 60 * 60 <= PASSWORD_RESET_TIMEOUT:
    raise ImproperlyConfigured(
        "SIGNUP_UNVERIFIED_DAYS must be longer than the verification link lasts "
        "(PASSWORD_RESET_TIMEOUT): a sign-up is never removed while its link still works."
    )
AXES_DISABLE_ACCESS_LOG = True  # the audit log records every sign-in and sign-out
AXES_VERBOSE = False
# Addresses of reverse proxies whose X-Forwarded-For is believed; empty: REMOTE_ADDR only.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Second factor (TOTP, django-otp): everyone may enrol; when this is on (always in production
# unless switched off), staff who see photos or medical history must (accounts.sessions).
REQUIRE_SECOND_FACTOR = env.bool("REQUIRE_SECOND_FACTOR", default=PRODUCTION)
OTP_TOTP_ISSUER = CLINIC_NAME

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_emails": {"()": "audit.log_filters.RedactEmails"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_emails"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
