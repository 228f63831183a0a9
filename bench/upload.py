"""Uploads: 10 concurrent 10 MB photo uploads to gunicorn; response times and the web workers'
peak memory (uploads are streamed to a temporary file, never held whole in memory).

    python -m bench.upload [--concurrent 10]

Runs on the small generated clinic (BENCH_SMALL_DATABASE_URL) with MEDIA_ROOT in a temporary
folder; the photos are posted to /api/photos/ (multipart, a clinician's API token) for one
completed session, so each run adds `concurrent` photo rows to that clinic. Peak memory is
each gunicorn worker's VmHWM after the uploads; "added" is that minus its VmHWM when idle
(after a warm-up request).
"""

from __future__ import annotations

import argparse
import http.client
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.common import SMALL, database_ready, how_to_generate, record, run_child, table
from bench.pages import BASELINE, free_port, gunicorn, stop
from bench.thumbnails import make_camera_jpeg


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _multipart(fields: dict, file_bytes: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    head = "".join(parts) + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    body = head.encode() + file_bytes + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=10)
    args = parser.parse_args(argv)
    problem = database_ready(SMALL)
    if problem:
        print(f"Upload: skipped ({problem}).\n{how_to_generate()}")
        return None
    target = run_child("bench.inprocess", SMALL, "upload")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.jpg"
        make_camera_jpeg(path, (7400, 4900))  # about 10 MB
        data = path.read_bytes()
        fields = {
            "session": target["session"],
            "body_area": target["body_area"],
            "view": "frontal",
            "phase": "after",
        }
        body, content_type = _multipart(fields, data)
        headers = {"Authorization": f"Token {target['token']}", "Content-Type": content_type}
        port = free_port()
        os.environ["MEDIA_ROOT"] = str(Path(folder) / "media")
        server = gunicorn(SMALL, port)
        try:
            workers = _workers(server.pid)
            idle = {pid: _hwm_mb(pid) for pid in workers}
            results: list[tuple[int, float]] = []
            lock = threading.Lock()

            def upload():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                start = time.perf_counter()
                connection.request("POST", "/api/photos/", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                with lock:
                    results.append((response.status, (time.perf_counter() - start) * 1000))

            threads = [threading.Thread(target=upload) for _ in range(args.concurrent)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = (time.perf_counter() - started) * 1000
            peak = {pid: _hwm_mb(pid) for pid in workers}
            check = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            check.request("GET", BASELINE)
            check.getresponse().read()
        finally:
            stop(server)
            os.environ.pop("MEDIA_ROOT", None)
    times = sorted(ms for _, ms in results)
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    report = {
        "concurrent": args.concurrent,
        "file_mb": round(len(data) / 1e6, 1),
        "statuses": statuses,
        "min_ms": round(times[0], 1),
        "median_ms": round(times[len(times) // 2], 1),
        "max_ms": round(times[-1], 1),
        "wall_ms": round(wall, 1),
        "workers": [
            {"idle_mb": round(idle[pid], 1), "peak_mb": round(peak[pid], 1),
             "added_mb": round(peak[pid] - idle[pid], 1)}
            for pid in workers
        ],
    }  # fmt: skip
    record("upload", report)
    print(
        f"\nUploads: {args.concurrent} concurrent x {report['file_mb']} MB to gunicorn "
        f"(2 sync workers); statuses {statuses}"
    )
    print(
        table(
            ["min ms", "median ms", "max ms", "all done ms"],
            [[report["min_ms"], report["median_ms"], report["max_ms"], report["wall_ms"]]],
        )
    )
    print(
        table(
            ["worker", "idle MB", "peak MB", "added MB"],
            [
                [n + 1, w["idle_mb"], w["peak_mb"], w["added_mb"]]
                for n, w in enumerate(report["workers"])
            ],
        )
    )
    return report


if __name__ == "__main__":
    main()
