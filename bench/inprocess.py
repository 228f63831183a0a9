"""The in-process half of the page and availability benchmarks, run on one generated clinic.

    DATABASE_URL=... python -m bench.inprocess info|prepare|queries|availability [--runs N]

Prints one JSON line. `prepare` signs in the bench users (a real session row, as a browser
would get) and names the pages; `queries` counts each page's SQL queries and times it through
Django's test client; `availability` times a 12-session course proposal (rolled back).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.db.models.functions import TruncDate  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.common import percentile  # noqa: E402
from people.models import Patient  # noqa: E402
from photos.models import Photo  # noqa: E402
from treatments.models import Modality, Session, TreatmentPlan  # noqa: E402


@contextlib.contextmanager
def count_queries():
    """Counts the SQL statements run on the default connection (a request resets
    connection.queries, so CaptureQueriesContext would see none)."""
    counted = [0]

    def wrapper(execute, sql, params, many, context):
        counted[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counted


def info() -> dict:
    return {
        "patients": Patient.objects.count(),
        "sessions": Session.objects.count(),
        "photos": Photo.objects.count(),
    }


def bench_day() -> dt.date:
    """The fully booked day the generator made (the day with the most booked sessions)."""
    row = (
        Session.objects.filter(status="booked")
        .annotate(day=TruncDate("starts_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("-n", "day")
        .first()
    )
    return row["day"] if row else timezone.localdate()


def pages() -> dict[str, tuple[str, str]]:
    """name -> (who, path)"""
    day = bench_day()
    # The planned session due soonest after the bench day, searched over its week.
    planned = (
        Session.objects.filter(status="planned", proposed_date__gte=day)
        .exclude(patient_id=1)
        .order_by("proposed_date", "id")
        .first()
    )
    start = planned.proposed_date
    week = f"first_day={start}&last_day={start + dt.timedelta(days=6)}"
    return {
        "day calendar": ("desk", f"/desk/?date={day}"),
        "patient chart": ("clinician", "/treatments/patients/1/"),
        "photo timeline": ("clinician", "/photos/patients/1/"),
        "portal home": ("patient", "/portal/"),
        "availability": ("desk", f"/api/booking/availability/?session={planned.pk}&{week}"),
    }


def clients() -> dict[str, Client]:
    User = get_user_model()
    result = {}
    for who, username in (
        ("desk", "bench-desk"),
        ("clinician", "bench-prac-01"),
        ("patient", "bench-patient"),
    ):
        client = Client()
        client.force_login(User.objects.get(username=username))
        result[who] = client
    return result


def upload_target() -> dict:
    """A clinician's API token and a completed session (not the chart patient's) to upload to."""
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.get(username="bench-prac-01")
    token, _ = Token.objects.get_or_create(user=user)
    session = (
        Session.objects.filter(status="completed").exclude(patient_id=1).order_by("id").first()
    )
    return {
        "token": token.key,
        "session": session.pk,
        "body_area": session.plan.body_area_id,
    }


def browser_cookies(client: Client) -> str:
    """The Cookie header a browser signed in as this client sends: its session, and the CSRF
    cookie the first page it opened set (without it, every page would make a new CSRF secret
    and set the cookie again)."""
    client.get("/", follow=True)
    names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    return "; ".join(f"{name}={client.cookies[name].value}" for name in names)


def prepare() -> dict:
    # Every part is drawn by the code being measured, not kept from an earlier run's (the
    # bench's cache outlives its runs; the clinics share it, and each run prepares both).
    cache.clear()
    cookies = {who: browser_cookies(client) for who, client in clients().items()}
    return {
        "bench_day": str(bench_day()),
        "pages": pages(),
        "cookies": cookies,
        "upload": upload_target(),
    }


def queries(runs: int) -> dict:
    logged_in = clients()
    result = {}
    for name, (who, path) in pages().items():
        client = logged_in[who]
        response = client.get(path)  # warm-up
        assert response.status_code == 200, (name, path, response.status_code)
        with count_queries() as counted:
            client.get(path)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        result[name] = {
            "path": path,
            "queries": counted[0],
            "p50_ms": round(percentile(times, 50), 2),
            "bytes": len(response.content),
        }
    return result


def availability(runs: int) -> dict:
    """A 12-session course every 14 days (about six months), proposed across the practitioners."""
    from scheduling.services import course_propose

    desk = get_user_model().objects.get(username="bench-desk")
    modality = Modality.objects.order_by("id").first()
    patient = Patient.objects.filter(plans__isnull=False).exclude(pk=1).order_by("id").first()
    times: list[float] = []
    counts: list[int] = []
    found = 0
    with transaction.atomic():
        plan = TreatmentPlan.objects.create(
            patient=patient,
            modality=modality,
            body_area=patient.plans.first().body_area,
            session_count=12,
            interval_days=14,
            created_by=desk,
        )
        Session.objects.bulk_create(
            Session(plan=plan, patient=patient, number=n, status="planned") for n in range(1, 13)
        )
        first_day = timezone.localdate() + dt.timedelta(days=1)
        for run in range(runs + 1):
            with count_queries() as counted:
                start = time.perf_counter()
                proposals = course_propose(plan=plan, first_day=first_day)
                elapsed = (time.perf_counter() - start) * 1000
            if run:  # the first run warms caches and is not counted
                times.append(elapsed)
                counts.append(counted[0])
            found = sum(1 for _, slot in proposals if slot)
        transaction.set_rollback(True)
    return {
        "sessions": 12,
        "interval_days": 14,
        "slots_found": found,
        "queries": max(counts),
        "runs": runs,
        "p50_ms": round(percentile(times, 50), 1),
        "p99_ms": round(percentile(times, 99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["info", "prepare", "queries", "availability"])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if args.what == "info":
        out = info()
    elif args.what == "prepare":
        out = prepare()
    elif args.what == "queries":
        out = queries(args.runs)
    else:
        out = availability(args.runs)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
