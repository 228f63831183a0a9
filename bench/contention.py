"""Reads under bookings: the chart and the availability search while the desk books (issue 19).

    python -m bench contention             # the code as it is
    python -m bench.contention [--compare REV] [--rounds 3] [--seconds 15] [--readers 8]
                               [--writers 4]

gunicorn (2 sync workers, DEBUG off) serves the small generated clinic
(BENCH_SMALL_DATABASE_URL, see the README). For `--seconds`, `--readers` keep-alive clients
alternate the patient chart and the availability search (the `pages` benchmark's two looks),
while `--writers` clients book, move and cancel sessions through the booking API, each its own
planned session in the quiet week, one request after another. Printed: p50/p99 of each kind of
request (goal: the reads' p99 under 150 ms), and the reads alone with no writer, for scale.

`--compare REV` measures a second copy of the code (`git archive REV`, e.g. the commit before
a change) in the same run, on the same database: the two alternate round by round, so the
machine's drift falls on both alike. Both must fit the database's migrations. Bookings a run
leaves behind are cancelled ones: the next run books the same sessions again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ROOT, SMALL, django_env, percentile, record, run_child, table
from bench.pages import BASELINE, P99_GOAL_MS, free_port, stop

READS = ("patient chart", "availability")


def _setup(writers: int) -> dict:
    """In a Django child: the readers' paths and cookies, the desk's, and a planned first
    session of another patient's running course for each writer (and spares)."""
    from bench import inprocess
    from scheduling.availability import find_slots
    from treatments.models import Session, TreatmentPlan

    looks = inprocess.looks()
    logged_in = inprocess.clients()
    cookies = {who: inprocess.browser_cookies(logged_in[who]) for who in ("desk", "clinician")}
    quiet = inprocess.days()["quiet_week"]
    week = dt.timedelta(days=6)
    searched = inprocess.availability_session().pk
    sessions, patients = [], set()
    candidates = (
        Session.objects.filter(
            status__in=("planned", "cancelled"),
            patient_id__gt=2,
            plan__status=TreatmentPlan.Status.ACTIVE,
        )
        .exclude(pk=searched)
        .select_related("plan__modality", "plan__body_area", "depth_level", "patient")
        .order_by("proposed_date", "id")
    )
    for session in candidates[:500]:
        # Free in the quiet week by the booking rule (course order and spacing included).
        if session.patient_id not in patients and (
            len(find_slots(session=session, first_day=quiet, last_day=quiet + week)) >= 2
        ):
            patients.add(session.patient_id)
            sessions.append(session.pk)
        if len(sessions) >= writers * 3:
            break
    return {
        "reads": {name: {"path": looks[name][1], "who": looks[name][0]} for name in READS},
        "cookies": cookies,
        "quiet_week": [str(quiet), str(quiet + week)],
        "sessions": sessions,
    }


def _csrf(cookie: str) -> str:
    return dict(part.split("=", 1) for part in cookie.split("; "))["csrftoken"]


class Client:
    def __init__(self, port: int, cookie: str):
        self.port = port
        self.headers = {"Cookie": cookie}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
            headers["X-CSRFToken"] = _csrf(self.headers["Cookie"])
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return 0, b""


def _free_starts(body: bytes) -> list[tuple[str, int]]:
    """(naive local ISO start, practitioner id) of an availability answer."""
    data = json.loads(body)
    return [
        (f"{day['date']}T{start}:00", column["id"])
        for day in data["days"]
        for column in day["practitioners"]
        for start in column["starts"]
    ]


def _writer(client: Client, sessions: list[int], week: list[str], until: float, out: dict):
    """Books a session, moves it, cancels it; again and again, over its own sessions."""
    chooser = random.Random(sessions[0])
    turn = 0
    while time.perf_counter() < until:
        session = sessions[turn % len(sessions)]
        turn += 1
        status, body = client.request(
            "GET",
            f"/api/booking/availability/?session={session}&first_day={week[0]}&last_day={week[1]}",
        )
        if status != 200:
            out["failed"] += 1
            continue
        starts = _free_starts(body)
        if len(starts) < 2:
            continue
        first, second = chooser.sample(starts, 2)
        steps = [
            ("book", {"starts_at": first[0], "practitioner": first[1]}),
            ("reschedule", {"starts_at": second[0], "practitioner": second[1]}),
            ("cancel", {"cancelled_by": "clinic", "reason": "The benchmark moves on."}),
        ]
        for step, payload in steps:
            started = time.perf_counter()
            status, _ = client.request("POST", f"/api/booking/sessions/{session}/{step}/", payload)
            out["writes"].append((time.perf_counter() - started) * 1000)
            if status not in (200, 201):
                out["failed"] += 1  # taken meanwhile, or refused by the rule: next session
                break


def _reader(client: Client, paths: list[tuple[str, str]], until: float, out: dict, offset: int):
    turn = offset
    while time.perf_counter() < until:
        name, path = paths[turn % len(paths)]
        turn += 1
        started = time.perf_counter()
        status, _ = client.request("GET", path)
        if status == 200:
            out[name].append((time.perf_counter() - started) * 1000)
        else:
            out["failed"] += 1


# Backends of this database waiting for a lock, and those of them waiting at the audit chain's
# head (an append's first statement names the head's table).
LOCK_WAITS_SQL = (
    "SELECT count(*), count(*) FILTER (WHERE query ILIKE '%auditchainhead%') "
    "FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def _lock_waits(database_url: str, until: float, out: dict, every: float = 0.01) -> None:
    """Samples, every `every` s, how many requests wait for a lock (not timing: a count of
    who is blocked, which the machine's load does not blur)."""
    import psycopg2

    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            while time.perf_counter() < until:
                cursor.execute(LOCK_WAITS_SQL)
                waiting, at_head = cursor.fetchone()
                out["samples"] += 1
                out["waiting"] += waiting
                out["at_head"] += at_head
                time.sleep(every)
    finally:
        conn.close()


def _gunicorn(source: Path, port: int, database_url: str) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 (fixed arguments)
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "clinic.wsgi", "-w", "2"]
        + ["-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=source,
        env=django_env(database_url),
        start_new_session=True,
    )
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", BASELINE)
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"gunicorn ({source}) did not answer on the baseline view")


def _round(source: Path, setup: dict, args, *, writers: int) -> dict:
    port = free_port()
    server = _gunicorn(source, port, args.database)
    try:
        reads = [(name, spec["path"]) for name, spec in setup["reads"].items()]
        cookie_of = {name: setup["cookies"][spec["who"]] for name, spec in setup["reads"].items()}
        for name, path in reads:  # both workers load the pages' code before the clock starts
            for _ in range(4):
                Client(port, cookie_of[name]).request("GET", path)
        out = {"patient chart": [], "availability": [], "writes": [], "failed": 0}
        waits = {"samples": 0, "waiting": 0, "at_head": 0}
        until = time.perf_counter() + args.seconds
        threads = [threading.Thread(target=_lock_waits, args=(args.database, until, waits))]
        for n in range(args.readers):
            # One kind of page per reader connection, half and half, as the cookies differ.
            name, path = reads[n % len(reads)]
            client = Client(port, cookie_of[name])
            threads.append(
                threading.Thread(target=_reader, args=(client, [(name, path)], until, out, n))
            )
        sessions = setup["sessions"]
        for n in range(writers):
            mine = sessions[n::writers] or sessions[:1]
            client = Client(port, setup["cookies"]["desk"])
            week = setup["quiet_week"]
            threads.append(threading.Thread(target=_writer, args=(client, mine, week, until, out)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {**out, **waits}
    finally:
        stop(server)


def _sources(compare: str | None) -> dict[str, Path]:
    sources = {"this code": ROOT}
    if compare:
        folder = Path(tempfile.mkdtemp(prefix="bench-contention-"))
        archive = subprocess.run(  # noqa: S603 (fixed arguments)
            ["git", "-C", str(ROOT), "archive", compare],  # noqa: S607
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)  # noqa: S603,S607
        (folder / ".venv").symlink_to(ROOT / ".venv")
        sources = {f"at {compare}": folder, **sources}
    return sources


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", help="a git revision measured alongside, e.g. main~3")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--database", default=SMALL)
    args = parser.parse_args(argv)
    setup = run_child("bench.contention", args.database, "--setup", str(args.writers))
    if len(setup["sessions"]) < args.writers:
        sys.exit(f"The clinic has {len(setup['sessions'])} sessions to book; need {args.writers}.")
    sources = _sources(args.compare)
    runs: dict[tuple[str, int], dict] = {}
    for _ in range(args.rounds):
        for label, source in sources.items():  # interleaved: each round measures every copy
            for writers in (0, args.writers):
                got = _round(source, setup, args, writers=writers)
                into = runs.setdefault((label, writers), {})
                for key, values in got.items():
                    if isinstance(values, list):
                        into.setdefault(key, []).extend(values)
                    else:
                        into[key] = into.get(key, 0) + values
    report = {
        "rounds": args.rounds,
        "seconds": args.seconds,
        "readers": args.readers,
        "writers": args.writers,
        "results": [
            {
                "code": label,
                "writers": writers,
                **{
                    kind: {
                        "n": len(values),
                        "p50_ms": round(percentile(values, 50), 1),
                        "p99_ms": round(percentile(values, 99), 1),
                    }
                    for kind, values in got.items()
                    if isinstance(values, list)
                },
                "failed": got["failed"],
                # Requests waiting for a lock, on average over the samples, and at the head.
                "lock_waiting": round(got["waiting"] / max(got["samples"], 1), 3),
                "head_waiting": round(got["at_head"] / max(got["samples"], 1), 3),
            }
            for (label, writers), got in runs.items()
        ],
    }
    record("contention", report)
    print_report(report)
    return report


def print_report(report: dict) -> None:
    print(
        f"\nReads under bookings: gunicorn 2 sync workers, {report['readers']} reader "
        f"connections (chart and availability, half each) and 0 or {report['writers']} writers "
        f"(book, move, cancel), {report['seconds']:g} s x {report['rounds']} interleaved rounds. "
        f"Goal: reads' p99 under {P99_GOAL_MS} ms with writers."
    )
    rows = []
    for result in report["results"]:
        cells = [result["code"], result["writers"]]
        for kind in (*READS, "writes"):
            got = result.get(kind, {})
            cells += [got.get("n", ""), got.get("p50_ms", ""), got.get("p99_ms", "")]
        cells += [result["failed"] or "", result["lock_waiting"], result["head_waiting"]]
        rows.append(cells)
    headers = ["code", "writers"]
    for kind in ("chart", "availability", "writes"):
        headers += [f"{kind} n", "p50", "p99"]
    print(table([*headers, "refused/failed", "waiting", "at head"], rows))
    print(
        "waiting: requests blocked on a lock at any moment, on average (sampled every 10 ms); "
        "at head: of those, appends waiting at the audit chain's head."
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--setup":
        print(json.dumps(_setup(int(sys.argv[2])), default=str))
    else:
        main()
