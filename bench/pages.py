"""Pages under load, availability search and growth, on the two generated clinics.

    python -m bench.pages [--seconds 8] [--connections 16] [--runs 10]

For each clinic (the small one, then the large one, 10x apart):
- in-process (Django test client): each page's SQL query count and median time, and a
  12-session course proposal (p50/p99, rolled back);
- under load: gunicorn (2 sync workers, DEBUG off, as in production) serves the clinic; a
  client in another process keeps `connections` keep-alive connections busy for `seconds`
  per page; throughput and p50/p99 latency for each page and for the bare baseline view
  (/bench/baseline/, a 50-row template without database) served by the same gunicorn in the
  same run. Each page's figures are also given as ratios to the baseline's.
Growth: large / small for each page's time and query count.
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
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
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
    env = django_env(database_url, BENCH_BASELINE_VIEW="1")
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


def merged(runs: list[dict]) -> dict:
    """One figure from several slices of load: throughput over their whole time, the middle
    slice's p50 and the worst slice's p99."""
    seconds = sum(run["seconds"] for run in runs)
    statuses: dict = {}
    for run in runs:
        for status, number in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + number
    p50s = sorted(run["p50_ms"] for run in runs)
    return {
        "requests": sum(run["requests"] for run in runs),
        "rps": round(sum(run["rps"] * run["seconds"] for run in runs) / seconds, 1),
        "p50_ms": p50s[len(p50s) // 2],
        "p99_ms": max(run["p99_ms"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "statuses": statuses,
    }


def compared(row: dict, baseline: dict) -> dict:
    """The row with its ratios to the baseline measured beside it."""
    return {
        **row,
        "baseline_rps": baseline["rps"],
        "rps_ratio_to_baseline": round(row["rps"] / baseline["rps"], 3),
        "p99_ratio_to_baseline": round(row["p99_ms"] / baseline["p99_ms"], 2),
    }


def side_by_side(port: int, page: tuple, seconds: float, connections: int, slices: int) -> tuple:
    """The page and the baseline in alternating slices of seconds / slices each: this machine's
    speed drifts by tens of percent within a minute, and a baseline measured once, before
    every page, would put that drift into each page's ratio."""
    slice_seconds = seconds / slices
    page_runs, baseline_runs = [], []
    for _ in range(slices):
        for runs, (run_cookie, run_path) in ((baseline_runs, ("", BASELINE)), (page_runs, page)):
            run = load_from_another_process(
                port=port,
                path=run_path,
                cookie=run_cookie,
                seconds=slice_seconds,
                connections=connections,
            )
            runs.append({**run, "seconds": slice_seconds})
    return merged(page_runs), baseline_runs


def measure_scale(
    database_url: str, seconds: float, connections: int, runs: int, slices: int
) -> dict:
    prepared = run_child("bench.inprocess", database_url, "prepare")
    queries = run_child("bench.inprocess", database_url, "queries", "--runs", str(runs))
    course = run_child("bench.inprocess", database_url, "availability", "--runs", str(runs))
    info = run_child("bench.inprocess", database_url, "info")
    port = free_port()
    server = gunicorn(database_url, port)
    under_load = {}
    all_baseline_runs = []
    try:
        # Warm both workers on every page before anything is measured.
        for who, path in prepared["pages"].values():
            load_from_another_process(
                port=port, path=path, cookie=prepared["cookies"][who], seconds=1, connections=4
            )
        for name, (who, path) in prepared["pages"].items():
            row, baseline_runs = side_by_side(
                port, (prepared["cookies"][who], path), seconds, connections, slices
            )
            under_load[name] = compared(row, merged(baseline_runs))
            all_baseline_runs += baseline_runs
    finally:
        stop(server)
    baseline = merged(all_baseline_runs)
    return {
        "data": info,
        "bench_day": prepared["bench_day"],
        "in_process": queries,
        "course_availability": course,
        "under_load": {"baseline": compared(baseline, baseline), **under_load},
    }


def settle_in_process(report: dict, runs: int, rounds: int) -> None:
    """Each clinic's in-process times again, the two clinics taking turns, for the growth
    ratios: they compare times taken minutes apart, and this machine's speed drifts by more
    than the ratios' goal within minutes. The growth table uses each figure's best p50 of all
    the turns (`p50_ms_best`) on both sides; the reported p50s stay those of the first turn."""
    for scale in (report["small"], report["large"]):
        for row in (*scale["in_process"].values(), scale["course_availability"]):
            row["p50_ms_best"] = row["p50_ms"]
    for _ in range(rounds):
        for label, url in SCALES.items():
            scale = report[label]
            again = run_child("bench.inprocess", url, "queries", "--runs", str(runs))
            for name, row in again.items():
                kept = scale["in_process"][name]
                kept["p50_ms_best"] = min(kept["p50_ms_best"], row["p50_ms"])
            course = run_child("bench.inprocess", url, "availability", "--runs", str(runs))
            kept = scale["course_availability"]
            kept["p50_ms_best"] = min(kept["p50_ms_best"], course["p50_ms"])


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--slices", type=int, default=4, help="alternating slices of page and baseline load"
    )
    parser.add_argument(
        "--growth-rounds",
        type=int,
        default=2,
        help="more in-process turns of the two clinics for the growth ratios",
    )
    args = parser.parse_args(argv)
    for url in SCALES.values():
        problem = database_ready(url)
        if problem:
            print(f"Pages: skipped ({problem}).\n{how_to_generate()}")
            return None
    report = {
        "seconds": args.seconds,
        "connections": args.connections,
        "workers": 2,
        "slices": args.slices,
        "client": "wrk" if shutil.which("wrk") else "python threads",
    }
    for label, url in SCALES.items():
        report[label] = measure_scale(url, args.seconds, args.connections, args.runs, args.slices)
    settle_in_process(report, args.runs, args.growth_rounds)
    small, large = report["small"], report["large"]
    report["growth"] = {
        name: {
            "data_ratio": round(large["data"]["sessions"] / small["data"]["sessions"], 1),
            "time_ratio_in_process": round(
                large["in_process"][name]["p50_ms_best"] / small["in_process"][name]["p50_ms_best"],
                2,
            ),
            "p50_ratio_under_load": round(
                large["under_load"][name]["p50_ms"] / small["under_load"][name]["p50_ms"], 2
            ),
            "queries_small": small["in_process"][name]["queries"],
            "queries_large": large["in_process"][name]["queries"],
        }
        for name in large["in_process"]
    }
    report["growth"]["course availability"] = {
        "data_ratio": report["growth"]["day calendar"]["data_ratio"],
        "time_ratio_in_process": round(
            large["course_availability"]["p50_ms_best"]
            / small["course_availability"]["p50_ms_best"],
            2,
        ),
        "queries_small": small["course_availability"]["queries"],
        "queries_large": large["course_availability"]["queries"],
    }
    record("pages", report)
    print_report(report)
    return report


def print_report(report: dict) -> None:
    for label in ("small", "large"):
        scale = report[label]
        data = scale["data"]
        print(
            f"\nPages under load, {label} clinic ({data['patients']:,} patients, "
            f"{data['sessions']:,} sessions, {data['photos']:,} photos): gunicorn 2 sync workers, "
            f"{report['connections']} connections from {report.get('client', 'python threads')}, "
            f"{report['seconds']:.0f} s per page and as much of the baseline, in "
            f"{report.get('slices', 1)} alternating slices"
        )
        rows = []
        for name, row in scale["under_load"].items():
            rows.append(
                [
                    name,
                    row["rps"],
                    row.get("baseline_rps", ""),
                    row["p50_ms"],
                    row["p99_ms"],
                    row["rps_ratio_to_baseline"],
                    row["errors"] or "",
                    scale["in_process"].get(name, {}).get("queries", ""),
                ]
            )
        headers = ["page", "req/s", "baseline req/s", "p50 ms", "p99 ms", "x baseline"]
        print(table([*headers, "errors", "queries"], rows))
        course = scale["course_availability"]
        print(
            f"Course availability (12 sessions, every 14 days, 10 practitioners): "
            f"p50 {course['p50_ms']} ms, p99 {course['p99_ms']} ms, {course['queries']} queries"
        )
    print("\nGrowth (large / small clinic)")
    rows = [
        [
            name,
            g["data_ratio"],
            g["time_ratio_in_process"],
            g.get("p50_ratio_under_load", ""),
            g["queries_small"],
            g["queries_large"],
        ]
        for name, g in report["growth"].items()
    ]
    print(
        table(["page", "data x", "time x", "p50 x (load)", "queries small", "queries large"], rows)
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load-child":
        _load_child()
    else:
        main()
