"""The reports page (/manage/reports/) on two generated clinics 10x apart.

    .venv/bin/python -m bench reports            # [--rounds 20]
    .venv/bin/python -m bench.reports --rounds 20

For each clinic (BENCH_SMALL_DATABASE_URL, then BENCH_DATABASE_URL), one process looks at the
page as a clinic admin through Django's test client, in interleaved rounds with the baseline
view: the default range (the last 12 months), the longest (3 years) and one report's CSV. It
counts each look's SQL queries, and times each report's figures on their own. The admin is
made inside a transaction that is rolled back: the clinic is left as it was.

Goal: the same queries at both sizes (the reports aggregate in the database), and the page's
time growing well under the data's 10x.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time

from bench.common import (
    SCALES,
    database_ready,
    how_to_generate,
    record,
    run_child,
    summary_ms,
    table,
)

PAGES = {
    "baseline": "/bench/baseline/",
    "reports, 12 months": "/manage/reports/",
    "reports, 3 years": "/manage/reports/?from={three_years}",
    "attendance CSV, 12 months": "/manage/reports/attendance.csv",
}


def inprocess(rounds: int) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    django.setup()
    from dateutil.relativedelta import relativedelta
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from people.roles import Role, assign_role
    from reports.period import default_period
    from reports.registry import REPORTS
    from treatments.models import Session, TreatmentPlan

    counted = [0]

    def counting(execute, sql, params, many, context):
        counted[0] += 1
        return execute(sql, params, many, context)

    today = timezone.localdate()
    three_years = today - relativedelta(years=3) + relativedelta(days=1)
    paths = {
        name: path.format(three_years=f"{three_years:%Y-%m-%d}") for name, path in PAGES.items()
    }
    report = {
        "data": {
            "sessions": Session.objects.count(),
            "courses": TreatmentPlan.objects.count(),
        },
        "pages": {},
        "figures": {},
    }
    with transaction.atomic():
        admin = get_user_model().objects.create_user("bench-reports-admin")
        assign_role(admin, Role.CLINIC_ADMIN)
        client = Client()
        client.force_login(admin)
        queries = {}
        for name, path in paths.items():
            with connection.execute_wrapper(counting):
                counted[0] = 0
                response = client.get(path)
            assert response.status_code == 200, (name, response.status_code)
            queries[name] = counted[0]
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(rounds):
            order = list(paths)
            random.shuffle(order)
            for name in order:
                started = time.perf_counter()
                client.get(paths[name])
                times[name].append((time.perf_counter() - started) * 1000)
        period = default_period()
        figure_times: dict[str, list[float]] = {r.slug: [] for r in REPORTS}
        for _ in range(rounds):
            for r in REPORTS:
                started = time.perf_counter()
                r.compute(period)
                figure_times[r.slug].append((time.perf_counter() - started) * 1000)
        transaction.set_rollback(True)
    for name in paths:
        report["pages"][name] = {**summary_ms(times[name]), "queries": queries[name]}
    for slug, values in figure_times.items():
        report["figures"][slug] = summary_ms(values)
    return report


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    for url in SCALES.values():
        problem = database_ready(url)
        if problem:
            print(f"Reports: skipped ({problem}).\n{how_to_generate()}")
            return None
    result = {"rounds": args.rounds}
    for label, url in SCALES.items():
        result[label] = run_child("bench.reports", url, "--inprocess", str(args.rounds))
    record("reports", result)
    print_report(result)
    return result


def print_report(result: dict) -> None:
    small, large = result["small"], result["large"]
    ratio = large["data"]["sessions"] / max(small["data"]["sessions"], 1)
    print(
        f"\nReports page, in-process p50/p99 of {result['rounds']} interleaved rounds: "
        f"small clinic {small['data']['sessions']:,} sessions, large {large['data']['sessions']:,} "
        f"({ratio:.1f}x)."
    )
    rows = []
    for name in PAGES:
        s, g = small["pages"][name], large["pages"][name]
        rows.append(
            [
                name,
                s["p50_ms"],
                s["p99_ms"],
                g["p50_ms"],
                g["p99_ms"],
                f"{g['p50_ms'] / s['p50_ms']:.2f}",
                f"{s['queries']} / {g['queries']}",
            ]
        )
    print(
        table(
            [
                "page",
                "small p50 ms",
                "p99",
                "large p50 ms",
                "p99",
                "large/small",
                "queries s/l",
            ],
            rows,
        )
    )
    print("\nEach report's figures alone (12 months), p50 ms:")
    print(
        table(
            ["report", "small", "large", "large/small"],
            [
                [
                    slug,
                    small["figures"][slug]["p50_ms"],
                    large["figures"][slug]["p50_ms"],
                    f"{large['figures'][slug]['p50_ms'] / small['figures'][slug]['p50_ms']:.2f}",
                ]
                for slug in small["figures"]
            ],
        )
    )
    same = all(small["pages"][n]["queries"] == large["pages"][n]["queries"] for n in PAGES)
    print(f"\nSame queries at both sizes: {'MET' if same else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inprocess":
        with contextlib.redirect_stdout(sys.stderr):  # the last stdout line is the JSON
            outcome = inprocess(int(sys.argv[2]))
        print(json.dumps(outcome, default=str))
    else:
        main()
