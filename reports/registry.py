"""The reports the clinic has, in the order the page shows them.

Adding a report is one function and one entry: a function `(period: Period) -> Table` (see
figures.py; aggregate queries, a fixed number of them whatever the data), and a `Report` below
with a slug (its CSV is /manage/reports/<slug>.csv), a title and the function. The page, its
chart, the CSV download and the tests that walk every report pick it up from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import figures
from .period import Period
from .tables import Table


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    compute: Callable[[Period], Table]
    summary: str = ""


REPORTS: tuple[Report, ...] = (
    Report(
        "sessions-by-modality",
        "Sessions per modality and month",
        figures.sessions_by_modality,
        "How much of each treatment the clinic gives, month by month.",
    ),
    Report(
        "utilisation",
        "Utilisation of practitioners, rooms and devices",
        figures.utilisation,
        "Booked time over available time.",
    ),
    Report(
        "attendance",
        "Attendance: no-shows and late cancellations",
        figures.attendance,
        "Appointments kept, missed and cancelled at short notice.",
    ),
    Report(
        "courses",
        "Courses: completion and drop-out",
        figures.courses,
        "What became of the courses started in the period.",
    ),
    Report(
        "waitlist",
        "Waiting list: fill rate",
        figures.waitlist_fill,
        "How many times freed by cancellations the waiting list filled again.",
    ),
)

BY_SLUG = {report.slug: report for report in REPORTS}
