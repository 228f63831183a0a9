"""The in-process half of the page benchmarks, run on one generated clinic.

    DATABASE_URL=... python -m bench.inprocess info|looks|course|upload [--rounds N] [--runs N]
    DATABASE_URL=... python -m bench.inprocess profile --page "patient chart" [--runs N]

Prints one JSON line. `looks` signs in the bench users (a real session row, as a browser
would get), counts each page's SQL queries and times every page, the baseline view and the
growth pages in interleaved rounds through Django's test client; it also gives the cookies
the load client sends. `course` times a 12-session course proposal (rolled back); `upload`
names a clinician's API token and a session for the upload benchmark. `profile` runs one page
(a name from `looks`) `runs` times under cProfile and prints its top functions (not JSON).

Nothing is warmed: the app keeps no drawn parts, so every look is drawn by the code measured.
The one request each page gets before the rounds checks its status and counts its queries.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import random
import re
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.common import ROOT, percentile  # noqa: E402
from core.management.commands.generate_clinic import bench_days  # noqa: E402
from people.models import Patient  # noqa: E402
from photos.models import Photo  # noqa: E402
from treatments.models import Modality, Session, TreatmentPlan  # noqa: E402

BASELINE = "/bench/baseline/"
USERS = {
    "desk": "bench-desk",
    "clinician": "bench-prac-01",
    "patient": "bench-patient",
    "patient-large": "bench-patient-large",
}
# The pages with their goal: in-process p50 at most GOAL x the baseline's, in the same run.
GOALS = {
    "day calendar": 12,
    "week calendar": 12,
    "patient chart": 8,
    "photo timeline": 8,
    "portal home": 8,
    "availability": 12,
}
# Growth: each page with content 10x apart (generate_clinic's bench rows), small then large.
GROWTH = {
    "day calendar": ("day calendar (quiet day)", "day calendar"),
    "week calendar": ("week calendar (quiet week)", "week calendar"),
    "patient chart": ("patient chart", "patient chart (patient 2)"),
    "photo timeline": ("photo timeline", "photo timeline (patient 2)"),
    "portal home": ("portal home", "portal home (patient 2)"),
}


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


@contextlib.contextmanager
def gc_pauses():
    """The garbage collector's pauses (ms) while inside, in a list the caller may clear."""
    pauses: list[float] = []
    started = [0.0]

    def callback(phase, _info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(callback)


def info() -> dict:
    return {
        "patients": Patient.objects.count(),
        "sessions": Session.objects.count(),
        "photos": Photo.objects.count(),
    }


def days() -> dict[str, dt.date]:
    """The bench days of the clinic (see generate_clinic.bench_days), from the day it was made."""
    made = Patient.objects.filter(pk=1).values_list("created_at", flat=True).get()
    return bench_days(timezone.localdate(made))


def availability_session() -> Session:
    """A planned session of an ordinary patient: the availability page searches a slot for it."""
    return (
        Session.objects.filter(status="planned", patient_id__gt=2)
        .order_by("proposed_date", "id")
        .first()
    )


def looks() -> dict[str, tuple[str, str]]:
    """name -> (who, path): the baseline, the pages with goals and the growth pages."""
    bench = days()
    week = f"first_day={bench['quiet_week']}&last_day={bench['quiet_week'] + dt.timedelta(6)}"
    session = availability_session()
    return {
        "baseline": ("", BASELINE),
        "day calendar": ("desk", f"/desk/?date={bench['full_day']}"),
        "day calendar (quiet day)": ("desk", f"/desk/?date={bench['quiet_day']}"),
        "week calendar": ("desk", f"/desk/week/?date={bench['full_day']}"),
        "week calendar (quiet week)": ("desk", f"/desk/week/?date={bench['quiet_day']}"),
        "patient chart": ("clinician", "/treatments/patients/1/"),
        "patient chart (patient 2)": ("clinician", "/treatments/patients/2/"),
        "photo timeline": ("clinician", "/photos/patients/1/"),
        "photo timeline (patient 2)": ("clinician", "/photos/patients/2/"),
        "portal home": ("patient", "/portal/"),
        "portal home (patient 2)": ("patient-large", "/portal/"),
        "availability": ("desk", f"/api/booking/availability/?session={session.pk}&{week}"),
    }


def content() -> dict[str, dict]:
    """What grows between each growth pair: the rows behind the small and the large page."""
    bench = days()

    def booked(first: dt.date, last: dt.date) -> int:
        return Session.objects.filter(
            status__in=("booked", "arrived", "completed"),
            starts_at__date__gte=first,
            starts_at__date__lte=last,
        ).count()

    def record(pid: int) -> str:
        sessions = Session.objects.filter(patient_id=pid).count()
        photos = Photo.objects.filter(patient_id=pid).count()
        return f"{sessions} sessions, {photos} photos"

    week = dt.timedelta(days=6)
    return {
        "day calendar": {
            "small": f"{booked(bench['quiet_day'], bench['quiet_day'])} booked",
            "large": f"{booked(bench['full_day'], bench['full_day'])} booked",
        },
        "week calendar": {
            "small": f"{booked(bench['quiet_week'], bench['quiet_week'] + week)} booked",
            "large": f"{booked(bench['full_week'], bench['full_week'] + week)} booked",
        },
        **{
            name: {"small": record(1), "large": record(2)}
            for name in ("patient chart", "photo timeline", "portal home")
        },
    }


def clients() -> dict[str, Client]:
    User = get_user_model()
    result = {"": Client()}
    for who, username in USERS.items():
        client = Client()
        client.force_login(User.objects.get(username=username))
        result[who] = client
    return result


def browser_cookies(client: Client) -> str:
    """The Cookie header a browser signed in as this client sends: its session, and the CSRF
    cookie the first page it opened set (without it, every page would make a new CSRF secret
    and set the cookie again)."""
    client.get("/", follow=True)
    names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    return "; ".join(
        f"{name}={client.cookies[name].value}" for name in names if name in client.cookies
    )


def upload_target() -> dict:
    """A clinician's API token and a completed session (not a bench patient's) to upload to."""
    from knox.models import get_token_model

    user = get_user_model().objects.get(username="bench-prac-01")
    _, token = get_token_model().objects.create(user=user)
    session = Session.objects.filter(status="completed", patient_id__gt=2).order_by("id").first()
    return {"token": token, "session": session.pk, "body_area": session.plan.body_area_id}


def slots_in(body: bytes) -> int | None:
    """How many free starts an availability answer holds: its `count`, each day's starts per
    practitioner (scheduling.api.AvailabilityView)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get("count") if isinstance(data, dict) else None


def measure_looks(rounds: int) -> dict:
    """Each look once to check it and count its queries, then `rounds` rounds in which every
    look is timed once, in a new random order each round: the baseline is measured between
    the pages, so drift in the machine's speed moves both alike."""
    logged_in = clients()
    cookies = {who: browser_cookies(client) for who, client in logged_in.items() if who}
    named = looks()
    result = {}
    for name, (who, path) in named.items():
        client = logged_in[who]
        with count_queries() as counted:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{name}: GET {path} answered {response.status_code}")
        result[name] = {
            "who": who,
            "path": path,
            "queries": counted[0],
            "bytes": len(response.content),
            "times": [],
            "gc_ms": [],
        }
        if name == "availability":
            result[name]["slots"] = slots_in(response.content)
    order = list(named)
    shuffle = random.Random(1)
    with gc_pauses() as pauses:
        for _ in range(rounds):
            shuffle.shuffle(order)
            for name in order:
                who, path = named[name]
                pauses.clear()
                start = time.perf_counter()
                logged_in[who].get(path)
                result[name]["times"].append((time.perf_counter() - start) * 1000)
                result[name]["gc_ms"] += pauses
    for row in result.values():
        times = row.pop("times")
        row["p50_ms"] = round(percentile(times, 50), 2)
        row["p99_ms"] = round(percentile(times, 99), 2)
        row["max_ms"] = round(max(times), 2)
        gc_ms = row.pop("gc_ms")
        row["gc_pauses"] = len(gc_ms)
        row["gc_max_ms"] = round(max(gc_ms, default=0), 2)
    baseline = result["baseline"]["p50_ms"]
    for name, row in result.items():
        row["x_baseline"] = round(row["p50_ms"] / baseline, 1)
        if name in GOALS:
            row["goal_x"] = GOALS[name]
            row["met"] = row["x_baseline"] <= GOALS[name]
    return {
        "days": {key: str(value) for key, value in days().items()},
        "looks": result,
        "growth": {
            name: {"small": small, "large": large, "content": content()[name]}
            for name, (small, large) in GROWTH.items()
        },
        "cookies": cookies,
    }


def course(runs: int) -> dict:
    """A 12-session course every 14 days (about six months), proposed across the practitioners."""
    from scheduling.services import course_propose

    desk = get_user_model().objects.get(username="bench-desk")
    modality = Modality.objects.order_by("id").first()
    patient = Patient.objects.filter(plans__isnull=False, pk__gt=2).order_by("id").first()
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
            if run:  # the first run loads the code paths and is not counted
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
        "goal_ms": 50,
        "met": percentile(times, 50) < 50,
    }


def profile(page: str, runs: int, top: int = 15) -> None:
    import cProfile
    import pstats

    who, path = looks()[page]
    client = clients()[who]
    client.get(path)  # loads the code and templates, as the first request of a process does
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        client.get(path)
    profiler.disable()
    print(f"{page}: GET {path}, {runs} looks")
    stats = pstats.Stats(profiler)
    # The request's wrappers (test client, handler, middleware) hold everything: leave them out.
    wrappers = r"^(?!.*(test/client|handlers/|middleware|deprecation|contextlib))"
    stats.sort_stats("cumulative").print_stats(wrappers, top)
    stats.sort_stats("tottime").print_stats(top)
    print("The project's own functions (templates' time is under the view that renders them):")
    stats.sort_stats("cumulative").print_stats(rf"^{re.escape(str(ROOT))}/(?!\.venv)", top)
    timed: list[tuple[float, str, object]] = []

    def timing(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed.append(((time.perf_counter() - start) * 1000, sql, params))

    with connection.execute_wrapper(timing):
        client.get(path)
    timed.sort(key=lambda row: row[0], reverse=True)
    print(f"One look's {len(timed)} queries, {sum(row[0] for row in timed):.1f} ms, slowest first:")
    for ms, sql, _ in timed:
        print(f"{ms:8.2f} ms  {' '.join(sql.split())[:300]}")
    slowest = next((row for row in timed if row[1].lstrip().upper().startswith("SELECT")), None)
    if slowest:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {slowest[1]}", slowest[2])
            plan = "\n".join(line for (line,) in cursor.fetchall())
        print(f"The slowest SELECT:\n{slowest[1]}\n{plan}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["info", "looks", "course", "upload", "profile"])
    parser.add_argument("--page", default="patient chart", help="for profile: a look's name")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if args.what == "info":
        out = info()
    elif args.what == "looks":
        out = measure_looks(args.rounds)
    elif args.what == "upload":
        out = upload_target()
    elif args.what == "profile":
        profile(args.page, args.runs)
        return
    else:
        out = course(args.runs)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
