"""Shared by the benchmarks: the results file, the data databases, percentiles, a table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
PYTHON = sys.executable

# The generated clinics: BENCH_DATABASE_URL holds the larger one (`generate_clinic --scale 1.0`,
# or 0.1 on a small machine), BENCH_SMALL_DATABASE_URL the same clinic at a tenth of that size.
LARGE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_data")
SMALL = os.environ.get(
    "BENCH_SMALL_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_data_tenth"
)
SCALES = {"small": SMALL, "large": LARGE}


def record(name: str, report: dict) -> None:
    """Merge one benchmark's report into bench/results.json under its name."""
    data = {}
    if RESULTS.exists():
        try:
            data = json.loads(RESULTS.read_text())
        except ValueError:
            data = {}
    if "images" in data:  # the thumbnails report used to be the whole file
        data = {"thumbnails": data}
    data[name] = report
    RESULTS.write_text(json.dumps(data, indent=2, default=str) + "\n")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "mean_ms": round(statistics.fmean(values), 2) if values else None,
    }


def django_env(database_url: str, **extra: str) -> dict:
    """The environment for a Django process on a generated clinic: production-like, DEBUG off."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "PRODUCTION": "0",
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "SECRET_KEY": env.get("SECRET_KEY", "bench-" + "x" * 50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            # The bare yardstick page every page is compared with (refused in production).
            "BENCH_BASELINE_VIEW": "1",
        }
    )
    # The app's own defaults for everything else: sessions in the database, no shared cache
    # (the pages keep nothing drawn, so every look is a cold one).
    env.pop("CACHE_URL", None)
    env.update(extra)
    return env


def run_child(module: str, database_url: str, *args: str, timeout: int = 900) -> dict:
    """Run `python -m <module> args...` with Django on that database; its last stdout line is
    JSON."""
    completed = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [PYTHON, "-m", module, *args],
        cwd=ROOT,
        env=django_env(database_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def database_ready(database_url: str) -> str | None:
    """None when the database holds a generated clinic; else what to do."""
    try:
        info = run_child("bench.inprocess", database_url, "info", timeout=120)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
        return f"cannot read {database_url}: {str(error)[-300:]}"
    if not info.get("sessions"):
        return f"{database_url} holds no generated clinic"
    return None


def how_to_generate() -> str:
    return (
        "Generate the clinics first (PostgreSQL):\n"
        "  createdb -h 127.0.0.1 -U postgres clinic_bench_data\n"
        "  createdb -h 127.0.0.1 -U postgres clinic_bench_data_tenth\n"
        f"  DATABASE_URL={LARGE} manage.py migrate && ... generate_clinic --scale 1.0\n"
        f"  DATABASE_URL={SMALL} manage.py migrate && ... generate_clinic --scale 0.1\n"
        "(or point BENCH_DATABASE_URL / BENCH_SMALL_DATABASE_URL elsewhere)"
    )


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
