"""The reports page and its CSV downloads: who may see them, the date range and its refusals,
what the CSV holds, and a query count that does not grow with the sessions."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports.registry import REPORTS
from tests.factories import StaffFactory
from tests.reports.conftest import AMS, at
from tests.scheduling.factories import (
    DeviceFactory,
    ModalityFactory,
    PlanFactory,
    PractitionerFactory,
)
from treatments.models import Session

S = Session.Status
INDEX = "/manage/reports/"
TODAY = dt.datetime(2026, 6, 15, 12, tzinfo=AMS)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def desk_lead(db):
    return StaffFactory(username="dora", role="Desk lead")


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_admin_and_the_desk_lead_see_the_reports_the_desk_does_not(
    client, admin_user, desk_lead, front_desk_user
):
    for user, status in ((admin_user, 200), (desk_lead, 200), (front_desk_user, 403)):
        client.force_login(user)
        assert client.get(INDEX).status_code == status, user.username
        assert client.get(f"{INDEX}attendance.csv").status_code == status, user.username


def test_the_reports_are_linked_for_those_allowed_only(
    client, admin_user, desk_lead, front_desk_user
):
    client.force_login(admin_user)
    assert f'href="{INDEX}"' in client.get(reverse("admin_home")).content.decode()
    client.force_login(desk_lead)
    assert f'href="{INDEX}"' in client.get(reverse("scheduling:week")).content.decode()
    client.force_login(front_desk_user)
    assert f'href="{INDEX}"' not in client.get(reverse("scheduling:week")).content.decode()


def test_the_default_range_is_the_last_twelve_months(client, admin_user):
    client.force_login(admin_user)
    page = client.get(INDEX).content.decode()
    assert 'name="from" value="2025-07-01"' in page
    assert 'name="to" value="2026-06-15"' in page
    assert "Jul 2025" in page and "Jun 2026" in page and "Jun 2025" not in page
    for report in REPORTS:
        assert f'id="report-{report.slug}"' in page
        assert f"{INDEX}{report.slug}.csv?from=2025-07-01&amp;to=2026-06-15" in page


def test_the_chosen_range_is_reported(client, admin_user, placer):
    placer.put(at(2026, 2, 3), S.NO_SHOW)
    placer.put(at(2026, 3, 3), S.NO_SHOW)
    client.force_login(admin_user)
    page = client.get(INDEX, {"from": "2026-02-01", "to": "2026-02-28"}).content.decode()
    assert 'name="from" value="2026-02-01"' in page
    assert "Feb 2026" in page and "Mar 2026" not in page
    assert "<svg" in page and 'role="img"' in page
    assert '<title id="chart-title-attendance">No-show and late-cancellation rates</title>' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-13-01"}, "That date does not exist."),
        ({"from": "06/12/2026"}, "Give a date as YYYY-MM-DD."),
        ({"to": "2200-01-01"}, "Give a date between 1900 and 2100."),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "“To” is before “From”"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "longer than 3 years"),
        ({"idle": "3"}, "a whole number from 7 to 365"),
        ({"idle": "many"}, "a whole number such as 12"),
    ],
)
def test_a_bad_range_is_refused_with_its_reason(client, admin_user, query, message):
    client.force_login(admin_user)
    response = client.get(INDEX, query)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    # What was typed comes back to be corrected; no report is computed from it.
    for name, value in query.items():
        assert f'name="{name}"' in page and f'value="{value}"' in page
    assert 'id="report-attendance"' not in page
    download = client.get(f"{INDEX}attendance.csv", query)
    assert download.status_code == 400
    assert message in download.content.decode()


def test_the_longest_range_is_three_years_less_a_day(client, admin_user):
    client.force_login(admin_user)
    assert client.get(INDEX, {"from": "2023-06-16", "to": "2026-06-15"}).status_code == 200
    assert client.get(INDEX, {"from": "2023-06-15", "to": "2026-06-15"}).status_code == 400


def test_an_unknown_report_is_not_found(client, admin_user):
    client.force_login(admin_user)
    assert client.get(f"{INDEX}patients.csv").status_code == 404


def test_the_attendance_csv_holds_the_months_and_the_total(client, admin_user, placer):
    for day in range(2, 11):
        placer.put(at(2026, 3, day), S.COMPLETED)
    for day in (11, 12, 13):
        placer.put(at(2026, 3, day), S.NO_SHOW)
    placer.put(at(2026, 3, 16), S.CANCELLED, late=True)
    client.force_login(admin_user)

    response = client.get(f"{INDEX}attendance.csv", {"from": "2026-02-01", "to": "2026-03-31"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="attendance_2026-02-01_2026-03-31.csv"'
    )
    assert csv_rows(response) == [
        [
            "Month",
            "Appointments",
            "Attended",
            "No-shows",
            "Cancelled",
            "Cancelled late",
            "No-show rate",
            "Late-cancellation rate",
        ],
        ["Feb 2026", "0", "0", "0", "0", "0", "", ""],
        ["Mar 2026", "13", "9", "3", "1", "1", "25.0", "7.7"],
        ["Whole period", "13", "9", "3", "1", "1", "25.0", "7.7"],
    ]


def test_the_utilisation_csv_gives_minutes_and_keeps_names_as_text(client, admin_user, placer):
    DeviceFactory(name="=HYPERLINK()")
    placer.put(at(2026, 3, 9, 9), minutes=45)
    client.force_login(admin_user)
    response = client.get(f"{INDEX}utilisation.csv", {"from": "2026-03-09", "to": "2026-03-09"})
    rows = csv_rows(response)
    assert rows[0] == [
        "Resource",
        "Name",
        "Booked (minutes)",
        "Available (minutes)",
        "Utilisation",
    ]
    assert ["Room", "Room 1", "45", "480", "9.4"] in rows
    assert ["Device", "'=HYPERLINK()", "0", "480", "0.0"] in rows


def test_no_patient_is_named_on_the_page_or_in_a_csv(client, admin_user, placer, alice):
    for status, day in ((S.NO_SHOW, 3), (S.COMPLETED, 4)):
        plan = PlanFactory(patient=alice, session_count=1)
        placer.put(at(2026, 3, day), status, session=plan.sessions.get())
    client.force_login(admin_user)
    bodies = [client.get(INDEX).content.decode()]
    bodies += [client.get(f"{INDEX}{r.slug}.csv").content.decode() for r in REPORTS]
    for body in bodies:
        assert "Smit" not in body and "Alice" not in body


def fill_clinic(placer, practitioners, rooms, modalities, sessions: int) -> None:
    """`sessions` sessions spread over the months, staff, rooms, modalities and outcomes."""
    outcomes = (S.COMPLETED, S.COMPLETED, S.COMPLETED, S.NO_SHOW, S.CANCELLED, S.BOOKED)
    for n in range(sessions):
        starts = at(2025, 7 + n % 6, 1 + n % 27, 9 + n % 8)
        placer.put(
            starts,
            outcomes[n % len(outcomes)],
            modality=modalities[n % len(modalities)],
            practitioner=practitioners[n % len(practitioners)],
            room=rooms[n % len(rooms)],
            late=n % 12 == 4,
        )


def page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(INDEX)
    assert response.status_code == 200
    return len(queries)


def test_the_page_reads_as_many_queries_with_ten_times_the_sessions(client, admin_user, placer):
    modalities = [ModalityFactory(kind=kind) for kind in ("microdermabrasion", "laser_peel")]
    practitioners = [placer.practitioner, PractitionerFactory()]
    rooms = [placer.room, placer.room.__class__.objects.create(name="Room 2")]
    client.force_login(admin_user)
    fill_clinic(placer, practitioners, rooms, modalities, 12)
    small = page_queries(client)
    fill_clinic(placer, practitioners, rooms, modalities, 120)
    assert Session.objects.exclude(starts_at=None).count() == 132
    large = page_queries(client)
    assert large == small
    # The session, its user and the user's permissions (3); sessions per modality: the
    # booked and the unbooked-but-recorded counts, the modalities (3); utilisation: booked
    # time per practitioner, room and device, the practitioners with their users, their
    # hours, their exceptions, the rooms, the devices (6); attendance per month (1); courses
    # per modality (1); the waiting list's freed times per month (1).
    assert large == 15
