"""A 16-client mixed load with the broker and cache (Redis) killed for 30 seconds.

    python -m bench.outage [--clients 16] [--seconds 90] [--outage-at 20] [--outage 30]

What it runs, as in production: gunicorn (4 sync workers), a Celery worker with beat, and a
private redis-server (the broker and the cache, no persistence) on a fresh generated clinic
(`clinic_bench_outage`, scale 0.02, made anew each run). The clients sign in as the desk, a
clinician and a patient and, in random order, read the day calendar, a chart, the portal home
and the availability search, upload photos (API token) and cancel booked sessions (API token,
which emails the patient). At `--outage-at` seconds the redis-server is killed (SIGKILL: its
queue is gone with it) and started again `--outage` seconds later, empty.

It prints what the issue asks: server errors (5xx or no answer), requests over 5 s, uploads
answered with success whose photo or original is missing, cancellations answered with success
whose email never went out, and the time from Redis's return until every uploaded photo has
its full set of derivatives. Not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.common import PYTHON, ROOT, django_env, percentile, record, table
from bench.pages import free_port

DATABASE = "clinic_bench_outage"
SERVER = "postgres://postgres@127.0.0.1:5432"
PASSWORD = "bench-outage-password"  # noqa: S105 - a throwaway clinic made by this script
MIX = {"day": 3, "chart": 3, "portal": 2, "availability": 3, "upload": 1, "cancel": 1}


# --- the clinic (run in a child process with Django) --------------------------------------


def prepare() -> dict:
    """Passwords for the API users, the pages' paths and cookies, sessions to cancel and to
    upload to. Printed as one JSON line."""
    from django.contrib.auth import get_user_model

    from bench import inprocess
    from treatments.models import Session

    users = get_user_model().objects
    for username in ("bench-desk", "bench-prac-01"):
        user = users.get(username=username)
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    looks = inprocess.looks()
    clients = inprocess.clients()
    cookies = {who: inprocess.browser_cookies(c) for who, c in clients.items() if who}
    to_cancel = list(
        Session.objects.filter(status="booked", patient_id__gt=2, patient__email__gt="")
        .order_by("starts_at")
        .values_list("pk", flat=True)[:2000]
    )
    target = Session.objects.filter(status="completed", patient_id__gt=2).order_by("id").first()
    return {
        "paths": {
            "day": looks["day calendar (quiet day)"][1],
            "chart": "/treatments/patients/3/",
            "portal": "/portal/",
            "availability": looks["availability"][1],
        },
        "cookies": cookies,
        "cancel": to_cancel,
        "upload": {"session": target.pk, "body_area": target.plan.body_area_id},
    }


def photos_state(ids: list[int], media_root: str) -> dict:
    """Of these photos: which are missing (row or original), and how many lack a ready
    derivative."""
    from django.core.files.storage import default_storage

    from photos.models import Derivative, Photo, Status

    found = {p.pk: p.storage_key for p in Photo.objects.filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in found or not default_storage.exists(found[pk])]
    waiting = (
        Derivative.objects.filter(photo_id__in=ids)
        .exclude(status=Status.READY)
        .values_list("photo_id", flat=True)
        .distinct()
        .count()
    )
    return {"missing": missing, "waiting": waiting}


def _child_main(what: str) -> None:
    import django

    django.setup()
    if what == "prepare":
        print(json.dumps(prepare()))
    else:
        ids = json.loads(sys.stdin.read())
        print(json.dumps(photos_state(ids, os.environ.get("MEDIA_ROOT", ""))))


# --- the processes -------------------------------------------------------------------------


class Redis:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.2)
                connection.connect()
                connection.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


def _spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def _fresh_database(url: str, scale: float) -> None:
    dropped = subprocess.run(  # noqa: S603
        ["psql", SERVER + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"],
        capture_output=True, check=False,
    )  # fmt: skip
    if dropped.returncode:
        raise RuntimeError(dropped.stderr.decode())
    subprocess.run(["psql", SERVER + "/postgres", "-qc", f"CREATE DATABASE {DATABASE}"], check=True)  # noqa: S603, S607
    env = django_env(url)
    for command in (["migrate", "-v0"], ["generate_clinic", "--scale", str(scale), "--seed", "1"]):
        subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)  # fmt: skip


def _child(what: str, env: dict, stdin: str = "") -> dict:
    completed = subprocess.run(  # noqa: S603
        [PYTHON, "-m", "bench.outage", "--child", what], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode:
        raise RuntimeError(completed.stderr[-3000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the load ------------------------------------------------------------------------------


def _jpeg() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1600, 1200), (200, 160, 140))
    draw = ImageDraw.Draw(image)
    for n in range(0, 1600, 40):
        draw.line([(n, 0), (1600 - n, 1200)], fill=(120 + n % 100, 90, 80), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _multipart(fields: dict, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def _request(port: int, method: str, path: str, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _token(port: int, username: str) -> str:
    status, body = _request(
        port, "POST", "/api/auth/token/",
        json.dumps({"username": username, "password": PASSWORD}),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    if status != 200:
        raise RuntimeError(f"token for {username}: {status} {body[:300]!r}")
    return json.loads(body)["token"]


def run(args) -> dict:
    url = f"{SERVER}/{DATABASE}"
    print(f"Making {DATABASE} (scale {args.scale}) ...", flush=True)
    _fresh_database(url, args.scale)
    with tempfile.TemporaryDirectory(delete=not args.keep) as folder:
        folder = Path(folder)
        if args.keep:
            print(f"Logs, mail and media kept in {folder}", flush=True)
        redis = Redis(folder)
        redis.start()
        env = django_env(
            url,
            CELERY_BROKER_URL=f"{redis.url}/0",
            CACHE_URL=f"{redis.url}/1",
            EMAIL_URL=f"filemail:///{folder / 'mail'}",  # the path after the third slash
            MEDIA_ROOT=str(folder / "media"),
            VAR_DIR=str(folder / "var"),
        )
        (folder / "mail").mkdir()
        setup = _child("prepare", env)
        port = free_port()
        web = _spawn(
            [str(ROOT / ".venv/bin/gunicorn"), "clinic.wsgi", "-w", "4", "-b",
             f"127.0.0.1:{port}", "--timeout", "30"], env, folder / "web.log",
        )  # fmt: skip
        worker = _spawn(
            [PYTHON, "-m", "celery", "-A", "clinic", "worker", "--beat", "--concurrency=2",
             "--loglevel=WARNING", "--schedule", str(folder / "beat")], env, folder / "worker.log",
        )  # fmt: skip
        try:
            for _ in range(300):
                try:
                    if _request(port, "GET", "/health/live/")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            tokens = {who: _token(port, who) for who in ("bench-desk", "bench-prac-01")}
            report = _load(args, port, setup, tokens, redis)
            report.update(_afterwards(args, env, folder, report))
        finally:
            _stop(web)
            _stop(worker)
            redis.kill()
    return report


def _load(args, port: int, setup: dict, tokens: dict, redis: Redis) -> dict:
    jpeg = _jpeg()
    body, content_type = _multipart({**setup["upload"], "view": "frontal", "phase": "after"}, jpeg)
    to_cancel = list(setup["cancel"])
    lock = threading.Lock()
    results: list[dict] = []
    uploaded: list[int] = []
    cancelled: list[int] = []
    started = time.monotonic()
    stop_at = started + args.seconds
    kinds = [k for k, w in MIX.items() for _ in range(w)]

    def one(kind: str, rng: random.Random) -> tuple[int, bytes]:
        paths, cookies = setup["paths"], setup["cookies"]
        if kind in ("day", "availability"):
            return _request(port, "GET", paths[kind], headers={"Cookie": cookies["desk"]})
        if kind == "chart":
            return _request(port, "GET", paths[kind], headers={"Cookie": cookies["clinician"]})
        if kind == "portal":
            return _request(port, "GET", paths[kind], headers={"Cookie": cookies["patient"]})
        if kind == "upload":
            headers = {"Authorization": f"Token {tokens['bench-prac-01']}",
                       "Content-Type": content_type}  # fmt: skip
            status, answer = _request(port, "POST", "/api/photos/", body, headers)
            if 200 <= status < 300:
                with lock:
                    uploaded.append(json.loads(answer)["id"])
            return status, answer
        with lock:
            if not to_cancel:
                return 0, b"nothing left to cancel"
            session = to_cancel.pop(rng.randrange(len(to_cancel)))
        status, answer = _request(
            port, "POST", f"/api/booking/sessions/{session}/cancel/",
            json.dumps({"cancelled_by": "patient", "reason": "bench: the patient cannot come"}),
            {"Authorization": f"Token {tokens['bench-desk']}", "Content-Type": "application/json"},
        )  # fmt: skip
        if 200 <= status < 300:
            with lock:
                cancelled.append(session)
        return status, answer

    def client(n: int) -> None:
        rng = random.Random(n)
        while time.monotonic() < stop_at:
            kind = rng.choice(kinds)
            start = time.monotonic()
            try:
                status, _ = one(kind, rng)
            except OSError:
                status = -1  # no answer at all
            if status == 0:
                continue
            with lock:
                results.append({"kind": kind, "status": status, "at": start - started,
                                "ms": (time.monotonic() - start) * 1000})  # fmt: skip

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, started + args.outage_at - time.monotonic()))
    print(f"{time.monotonic() - started:5.1f} s  Redis killed", flush=True)
    redis.kill()
    time.sleep(args.outage)
    redis.start()
    back = time.monotonic()
    print(f"{back - started:5.1f} s  Redis started again (empty)", flush=True)
    for thread in threads:
        thread.join()
    return {
        "results": results,
        "uploaded": uploaded,
        "cancelled": cancelled,
        "redis_back_at": back - started,
        "outage_s": args.outage,
        "load_ended_at": time.monotonic() - started,
        "_back": back,
    }


def _afterwards(args, env: dict, folder: Path, load: dict) -> dict:
    uploaded = load["uploaded"]
    ready_after = None
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        state = _child("photos", env, json.dumps(uploaded))
        if state["waiting"] == 0:
            ready_after = time.monotonic() - load["_back"]
            break
        time.sleep(5)
    sent = sum(
        path.read_text(errors="replace").count("Subject: Cancelled:")
        for path in (folder / "mail").glob("*")
    )
    return {
        "lost_uploads": len(state["missing"]),
        "photos_not_ready": state["waiting"],
        "every_photo_ready_s_after_redis_back": None if ready_after is None else round(ready_after),
        "cancellation_emails_sent": sent,
    }


def summarise(report: dict) -> dict:
    results = report.pop("results")
    report.pop("_back", None)
    by_kind = {}
    for kind in MIX:
        rows = [r for r in results if r["kind"] == kind]
        times = sorted(r["ms"] for r in rows)
        by_kind[kind] = {
            "requests": len(rows),
            "server_errors": sum(r["status"] >= 500 or r["status"] < 0 for r in rows),
            "client_errors": sum(400 <= r["status"] < 500 for r in rows),
            "over_5s": sum(r["ms"] > 5000 for r in rows),
            "p50_ms": round(percentile(times, 50), 1) if times else None,
            "p99_ms": round(percentile(times, 99), 1) if times else None,
        }
    down_from = report["redis_back_at"] - report["outage_s"]
    during = [r for r in results if down_from <= r["at"] < report["redis_back_at"]]
    uploaded, cancelled = report.pop("uploaded"), report.pop("cancelled")
    return {
        **report,
        "requests": len(results),
        "during_outage": len(during),
        "server_errors": sum(r["status"] >= 500 or r["status"] < 0 for r in results),
        "server_errors_during_outage": sum(r["status"] >= 500 or r["status"] < 0 for r in during),
        "over_5s": sum(r["ms"] > 5000 for r in results),
        "uploads_answered_ok": len(uploaded),
        "cancellations_answered_ok": len(cancelled),
        "lost_emails": len(cancelled) - report["cancellation_emails_sent"],
        "by_kind": by_kind,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=["prepare", "photos"], help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--outage-at", type=float, default=20)
    parser.add_argument("--outage", type=float, default=30)
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--keep", action="store_true", help="keep the logs, mail and media")
    parser.add_argument("--wait", type=float, default=900, help="longest wait for the photos")
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.child)
        return {}
    report = summarise(run(args))
    record("outage", report)
    print(
        f"\n{args.clients} clients, {args.seconds:g} s, Redis killed at {args.outage_at:g} s "
        f"for {args.outage:g} s: {report['requests']} requests "
        f"({report['during_outage']} during the outage)"
    )
    print(
        table(
            ["kind", "requests", "5xx", "4xx", "> 5 s", "p50 ms", "p99 ms"],
            [
                [
                    k,
                    v["requests"],
                    v["server_errors"],
                    v["client_errors"],
                    v["over_5s"],
                    v["p50_ms"],
                    v["p99_ms"],
                ]
                for k, v in report["by_kind"].items()
            ],
        )  # fmt: skip
    )
    print(
        table(
            [
                "server errors",
                "over 5 s",
                "uploads ok",
                "lost uploads",
                "cancellations ok",
                "lost emails",
                "every photo ready (s after Redis back)",
            ],
            [
                [
                    report["server_errors"],
                    report["over_5s"],
                    report["uploads_answered_ok"],
                    report["lost_uploads"],
                    report["cancellations_answered_ok"],
                    report["lost_emails"],
                    report["every_photo_ready_s_after_redis_back"],
                ]
            ],
        )  # fmt: skip
    )
    return report


if __name__ == "__main__":
    main()
