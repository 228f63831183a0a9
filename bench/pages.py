"""Pages: cold looks beside the baseline, under load, growth, and the course search.

    python -m bench.pages [--rounds 40] [--seconds 5] [--connections 16] [--runs 10]

For each clinic (the small one, then the large one, 10x apart):
- in-process (Django test client, one process): every page, the bare baseline view
  (/bench/baseline/, a 50-row template without database) and the growth pages, timed in
  interleaved rounds; each page's p50 as a multiple of the baseline's, against its goal
  (8x for the record pages, 12x for the calendars and the availability search), its SQL
  queries and bytes. The app keeps no drawn parts and nothing is warmed: every look is cold.
- under load: gunicorn (2 sync workers, DEBUG off) serves the clinic; `connections`
  keep-alive connections from wrk (or Python threads) for `seconds` per page; p50/p99
  (goal: p99 under 150 ms).
- growth: each page with content 10x apart in the same clinic (patient 2 against patient 1,
  a full day or week against a quiet one): time and queries large / small (goal: the same
  queries).
- a 12-session course proposal (goal: p50 under 50 ms).
Then the large clinic against the small one, page by page.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from bench.common import (
    PYTHON,
    ROOT,
    SCALES,
    database_ready,
    django_env,
    how_to_generate,
    percentile,
    record,
    run_child,
    table,
)

BASELINE = "/bench/baseline/"
P99_GOAL_MS = 150
# The pages with goals (bench.inprocess.GOALS, not imported: that module sets up Django).
GOALS = (
    "day calendar",
    "week calendar",
    "patient chart",
    "photo timeline",
    "portal home",
    "availability",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load(port: int, path: str, cookie: str, seconds: float, connections: int) -> dict:
    """Keep-alive HTTP/1.1 GETs from `connections` threads for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": cookie} if cookie else {}
        mine = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append((time.perf_counter() - start) * 1000)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": errors[0],
        "statuses": statuses,
    }


WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str) -> float:
    number = text.rstrip("usm")
    return round(float(number) * WRK_UNITS[text[len(number) :]], 1)


def load_with_wrk(port: int, path: str, cookie: str, seconds: float, connections: int) -> dict:
    """The same load from wrk (C, two threads): it needs far less CPU than the Python client,
    so on two cores it leaves more to the server and the baseline is not held back by it."""
    # wrk drops a response slower than its timeout (2 s by default) from the latencies.
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    command.append("--latency")
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    completed = subprocess.run(  # noqa: S603 (fixed arguments)
        [*command, f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    out = completed.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": requests,
        "rps": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), 1),
        "p50_ms": _wrk_ms(latency["50"]),
        "p99_ms": _wrk_ms(latency["99"]),
        "errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "statuses": {"non-2xx": int(bad.group(1))} if bad else {"2xx": requests},
    }


def _load_child() -> None:
    """`python -m bench.pages --load-child '<json>'`: the client, in its own process."""
    spec = json.loads(sys.argv[2])
    print(json.dumps(load(**spec)))


def load_from_another_process(**spec) -> dict:
    if shutil.which("wrk"):
        return load_with_wrk(**spec)
    completed = subprocess.run(  # noqa: S603 (our own module)
        [PYTHON, "-m", "bench.pages", "--load-child", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=spec["seconds"] + 120,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def gunicorn(database_url: str, port: int) -> subprocess.Popen:
    env = django_env(database_url)
    process = subprocess.Popen(  # noqa: S603 (fixed arguments)
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "clinic.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", BASELINE)
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not answer on the baseline view")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def measure_scale(database_url: str, args) -> dict:
    looked = run_child("bench.inprocess", database_url, "looks", "--rounds", str(args.rounds))
    course = run_child("bench.inprocess", database_url, "course", "--runs", str(args.runs))
    info = run_child("bench.inprocess", database_url, "info")
    under_load = {}
    port = free_port()
    server = gunicorn(database_url, port)
    try:
        for name, row in looked["looks"].items():
            if name != "baseline" and name not in GOALS:
                continue  # the growth pages are compared in-process only
            cookie = looked["cookies"].get(row["who"], "")
            # One second first so both workers have loaded the page's code.
            load_from_another_process(
                port=port, path=row["path"], cookie=cookie, seconds=1, connections=4
            )
            under_load[name] = load_from_another_process(
                port=port,
                path=row["path"],
                cookie=cookie,
                seconds=args.seconds,
                connections=args.connections,
            )
            under_load[name]["met"] = under_load[name]["p99_ms"] < P99_GOAL_MS
    finally:
        stop(server)
    return {
        "data": info,
        "days": looked["days"],
        "in_process": looked["looks"],
        "growth": looked["growth"],
        "course": course,
        "under_load": under_load,
    }


def growth_rows(scale: dict) -> dict:
    looks = scale["in_process"]
    rows = {}
    for name, pair in scale["growth"].items():
        small, large = looks[pair["small"]], looks[pair["large"]]
        rows[name] = {
            "small": pair["content"]["small"],
            "large": pair["content"]["large"],
            "p50_ms_small": small["p50_ms"],
            "p50_ms_large": large["p50_ms"],
            "time_ratio": round(large["p50_ms"] / small["p50_ms"], 2),
            "bytes_ratio": round(large["bytes"] / small["bytes"], 2),
            "queries_small": small["queries"],
            "queries_large": large["queries"],
            "met": large["queries"] == small["queries"],
        }
    return rows


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="in-process rounds of every look")
    parser.add_argument("--seconds", type=float, default=5, help="of load per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=10, help="of the course proposal")
    args = parser.parse_args(argv)
    for url in SCALES.values():
        problem = database_ready(url)
        if problem:
            print(f"Pages: skipped ({problem}).\n{how_to_generate()}")
            return None
    report = {
        "rounds": args.rounds,
        "seconds": args.seconds,
        "connections": args.connections,
        "workers": 2,
        "client": "wrk" if shutil.which("wrk") else "python threads",
    }
    for label, url in SCALES.items():
        report[label] = measure_scale(url, args)
        report[label]["growth_rows"] = growth_rows(report[label])
    small, large = report["small"], report["large"]
    report["clinic_growth"] = {
        name: {
            "data_ratio": round(large["data"]["sessions"] / small["data"]["sessions"], 1),
            "time_ratio": round(
                large["in_process"][name]["p50_ms"] / small["in_process"][name]["p50_ms"], 2
            ),
            "queries_small": small["in_process"][name]["queries"],
            "queries_large": large["in_process"][name]["queries"],
        }
        for name in GOALS
    }
    record("pages", report)
    print_report(report)
    return report


def failed(load: dict) -> int:
    """Socket errors and answers other than 2xx (a lost sign-in would show as 302s)."""
    statuses = load.get("statuses", {})
    return load.get("errors", 0) + sum(n for k, n in statuses.items() if not str(k).startswith("2"))


def yes(met: bool) -> str:
    return "MET" if met else "MISSED"


def print_report(report: dict) -> None:
    for label in ("small", "large"):
        scale = report[label]
        data = scale["data"]
        looks = scale["in_process"]
        print(
            f"\nPages, {label} clinic ({data['patients']:,} patients, {data['sessions']:,} "
            f"sessions, {data['photos']:,} photos), cold looks. In-process: p50 of "
            f"{report['rounds']} interleaved rounds (gc: the collector's pauses in those "
            f"looks, how many and the longest). Under load: gunicorn 2 sync workers, "
            f"{report['connections']} connections from {report['client']}, "
            f"{report['seconds']:g} s per page."
        )
        rows = []
        for name in ("baseline", *GOALS):
            row, load = looks[name], scale["under_load"].get(name, {})
            goal = row.get("goal_x")
            rows.append(
                [
                    name,
                    row["p50_ms"],
                    row["x_baseline"],
                    f"<= {goal}x" if goal else "",
                    yes(row["met"]) if goal else "",
                    row["queries"],
                    f"{row['bytes'] / 1000:.1f}",
                    row["p99_ms"],
                    f"{row['gc_pauses']}/{row['gc_max_ms']}",
                    load.get("rps", ""),
                    load.get("p50_ms", ""),
                    load.get("p99_ms", ""),
                    yes(load["met"]) if load and name != "baseline" else "",
                    failed(load) or "",
                ]
            )
        headers = ["page", "p50 ms", "x baseline", "goal", "", "queries", "KB", "p99 ms"]
        headers += ["gc n/max ms"]
        headers += ["req/s", "load p50", "load p99", "p99<150", "errors/non-2xx"]
        print(table(headers, rows))
        availability = looks["availability"]
        print(
            f"Availability: the quiet week ({scale['days']['quiet_week']}, free time every day): "
            f"{availability['slots']} slots, {availability['bytes']:,} bytes for one session."
        )
        course = scale["course"]
        print(
            f"Course search (12 sessions, every 14 days, 10 practitioners): p50 "
            f"{course['p50_ms']} ms, p99 {course['p99_ms']} ms, {course['queries']} queries, "
            f"{course['slots_found']}/12 found; goal p50 < 50 ms: {yes(course['met'])}"
        )
        print(f"\nGrowth in the {label} clinic: content 10x apart, large / small")
        rows = [
            [
                name,
                g["small"],
                g["large"],
                g["p50_ms_small"],
                g["p50_ms_large"],
                g["time_ratio"],
                g["bytes_ratio"],
                g["queries_small"],
                g["queries_large"],
                yes(g["met"]),
            ]
            for name, g in scale["growth_rows"].items()
        ]
        headers = ["page", "small", "large", "p50 small", "p50 large", "time x", "bytes x"]
        print(table([*headers, "queries small", "queries large", "same queries"], rows))
    print("\nThe large clinic / the small one (the same pages, 10x the data around them)")
    rows = [
        [name, g["data_ratio"], g["time_ratio"], g["queries_small"], g["queries_large"]]
        for name, g in report["clinic_growth"].items()
    ]
    print(table(["page", "data x", "time x", "queries small", "queries large"], rows))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load-child":
        _load_child()
    else:
        main()
