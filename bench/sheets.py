"""Comparison sheets: time per sheet, drawn from the stored derivatives, against one photo's
three-size derivative set (the goal: a sheet costs at most half of that set).

    python -m bench.sheets [--runs 7]

Both are timed in this one process, alternating, on the same realistic 12 MP camera JPEG
(bench.thumbnails.make_camera_jpeg): the set is photos.imaging.make_derivatives on the original;
the sheets are photos.imaging.render_sheet (JPEG and PDF) on its 2048 px derivative, as the
sheet task reads it: a pair (two panels) and a series (three panels). Then a course sheet of
eight photos (goal: under 2 s), as the course sheet task draws it: each photo aligned onto the
baseline (a stored alignment) and white balanced, on an A4 page painted as JPEG and as a PDF with
text (photos.pages); and the same for education, with the eyes found and covered.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import record, table
from bench.thumbnails import make_camera_jpeg


def main(argv: list[str] | None = None) -> dict:
    from photos import imaging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "camera-12MP.jpg"
        make_camera_jpeg(path, (4000, 3000))
        original = path.read_bytes()
    large = next(d for d in imaging.make_derivatives(original) if d.size == 2048).data
    caption = ["Before · 3 Mar 2026", "Session 1 of 6 · Before", "Microneedling", "Face · Frontal"]

    def thumbnail_set():
        imaging.make_derivatives(original)

    def sheet(panels: int):
        imaging.render_sheet(
            [imaging.Panel(large, caption) for _ in range(panels)],
            title="Face · Frontal · pair",
            subtitle="Microneedling course · patient record 1",
            clinic_name="Bench Clinic",
        )

    def course(cover: str):
        from photos import pages

        drawn = []
        for index in range(8):
            turn = [1.02, 0.01, -0.01, -0.01, 1.02, 0.005] if index else None
            image, _ = pages.course_panel(
                large,
                box=480,
                onto=turn,
                reference_size=(2048, 1536) if turn else None,
                gains=(0.9, 1.0, 1.2),
                cover=cover,
                is_face=bool(cover),
            )
            drawn.append((image, caption[:2] + ["Redness a* 12.3"]))
        page = pages.course_page(
            drawn,
            title="Face · Frontal · course",
            lines=["Microneedling course · patient record 1 · 8 photos", "Consent purpose: x"],
            clinic_name="Bench Clinic",
            paper="A4",
            trend=[(f"{i + 1} Mar", 10 + i) for i in range(8)],
            footer=["Bench"],
        )
        pages.paint_jpeg(page)
        pages.paint_pdf(page)

    work = {
        "thumbnail set (2048/1024/320)": thumbnail_set,
        "sheet, pair (2 panels)": lambda: sheet(2),
        "sheet, series (3 panels)": lambda: sheet(3),
        "course sheet, 8 photos (clinical)": lambda: course(""),
        "course sheet, 8 photos (eyes covered)": lambda: course("blur"),
    }
    times: dict[str, list[float]] = {name: [] for name in work}
    # CPU time of this process too: the shared machine's load inflates the wall clock.
    cpu: dict[str, list[float]] = {name: [] for name in work}
    for function in work.values():
        function()  # warm-up: imports, fonts
    for _ in range(args.runs):
        for name, function in work.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            times[name].append((time.perf_counter() - start) * 1000)
            cpu[name].append((time.process_time() - start_cpu) * 1000)
    base = statistics.median(times["thumbnail set (2048/1024/320)"])
    rows = {
        name: {
            "ms_median": round(statistics.median(values), 1),
            "ratio_to_thumbnail_set": round(statistics.median(values) / base, 2),
            "cpu_ms_median": round(statistics.median(cpu[name]), 1),
        }
        for name, values in times.items()
    }
    report = {
        "runs": args.runs,
        "load_average": os.getloadavg()[0],
        "original_mb": round(len(original) / 1e6, 1),
        "results": rows,
        "goal": "sheet <= 0.5 x thumbnail set; course sheet of 8 photos < 2000 ms",
    }
    record("sheets", report)
    print(
        f"\nComparison and course sheets (median of {args.runs}, alternating in one process; "
        f"load average {report['load_average']:.1f})"
    )
    print(
        table(
            ["work", "ms", "CPU ms", "x thumbnail set"],
            [
                [n, r["ms_median"], r["cpu_ms_median"], r["ratio_to_thumbnail_set"]]
                for n, r in rows.items()
            ],
        )
    )
    return report


if __name__ == "__main__":
    main()
