"""Each report's figures on hand-made data, worked out on paper first."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from reports import figures
from reports.period import Period
from scheduling.models import AvailabilityException, Device, Practitioner, Room
from tests.reports.conftest import at
from tests.scheduling.factories import ModalityFactory, PlanFactory, PractitionerFactory
from treatments.models import Session, TreatmentPlan

S = Session.Status
MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def row_of(table, key, value):
    return next(row for row in table.rows if row[key] == value)


def test_three_no_shows_of_twelve_expected_is_a_quarter(placer):
    for day in range(2, 11):
        placer.put(at(2026, 3, day), S.COMPLETED)
    for day in (11, 12, 13):
        placer.put(at(2026, 3, day), S.NO_SHOW)
    # Four cancellations, one of them at short notice: appointments, but nobody was expected.
    placer.put(at(2026, 3, 16), S.CANCELLED, late=True)
    for day in (17, 18, 19):
        placer.put(at(2026, 3, day), S.CANCELLED)
    placer.put(at(2026, 4, 1), S.NO_SHOW)  # after the period

    table = figures.attendance(MARCH)

    march = row_of(table, "month", "Mar 2026")
    assert march["appointments"] == 16
    assert (march["attended"], march["no_shows"]) == (9, 3)
    assert (march["cancelled"], march["cancelled_late"]) == (4, 1)
    assert march["no_show_rate"] == 0.25
    assert march["late_cancel_rate"] == 1 / 16
    assert table.total["no_shows"] == 3
    assert table.column("no_show_rate").shown(march["no_show_rate"]) == "25.0 %"


def test_a_month_without_appointments_has_no_rate_rather_than_zero(placer):
    placer.put(at(2026, 3, 2), S.NO_SHOW)
    table = figures.attendance(Period(dt.date(2026, 2, 1), dt.date(2026, 3, 31)))
    assert [row["month"] for row in table.rows] == ["Feb 2026", "Mar 2026"]
    february, march = table.rows
    assert february["no_show_rate"] is None
    assert table.column("no_show_rate").shown(None) == "—"
    assert march["no_show_rate"] == 1.0


def test_sessions_are_counted_per_modality_and_month_of_their_day(placer):
    micro = ModalityFactory(kind="microdermabrasion")
    laser = ModalityFactory(kind="laser_resurfacing")
    placer.put(at(2026, 1, 5), modality=micro)
    placer.put(at(2026, 1, 31, 23, 30), modality=micro)  # 22:30 UTC: still January here
    placer.put(at(2026, 2, 2), modality=micro)
    placer.put(at(2026, 2, 3), S.BOOKED, modality=laser)
    placer.put(at(2026, 2, 4), S.CANCELLED, modality=laser)  # holds no time: not counted
    placer.put(at(2026, 2, 5), S.NO_SHOW, modality=micro)  # in "Attendance", not here
    placer.put(at(2026, 4, 1), modality=micro)  # after the period

    table = figures.sessions_by_modality(Period(dt.date(2026, 1, 1), dt.date(2026, 3, 31)))

    micro_key, laser_key = f"modality_{micro.pk}", f"modality_{laser.pk}"
    by_month = {row["month"]: row for row in table.rows}
    assert list(by_month) == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert (by_month["Jan 2026"][micro_key], by_month["Jan 2026"][laser_key]) == (2, 0)
    assert (by_month["Feb 2026"][micro_key], by_month["Feb 2026"][laser_key]) == (1, 1)
    assert by_month["Mar 2026"]["total"] == 0
    assert table.total["total"] == 4
    assert table.column(laser_key).label == laser.name


def test_a_completed_session_without_a_booked_time_counts_on_its_completion_day(placer):
    session = placer.put(at(2026, 2, 10))
    Session.objects.filter(pk=session.pk).update(starts_at=None, ends_at=None)
    table = figures.sessions_by_modality(Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28)))
    assert table.total["total"] == 1


@pytest.fixture
def week(placer):
    """The week of Monday 9 March 2026. Carla (the placer's practitioner) works Mon-Fri 9-17
    but is off on Wednesday and works 9-13 on Thursday; Daan works Monday 13-19 only."""
    carla = placer.practitioner
    AvailabilityException.objects.create(
        practitioner=carla, first_day=dt.date(2026, 3, 11), last_day=dt.date(2026, 3, 11)
    )
    AvailabilityException.objects.create(
        practitioner=carla,
        first_day=dt.date(2026, 3, 12),
        last_day=dt.date(2026, 3, 12),
        kind=AvailabilityException.Kind.CHANGED,
        starts=dt.time(9),
        ends=dt.time(13),
    )
    # An exception outside the week changes nothing in it.
    AvailabilityException.objects.create(
        practitioner=carla, first_day=dt.date(2026, 3, 20), last_day=dt.date(2026, 3, 27)
    )
    daan = PractitionerFactory(hours={0: (13, 19)})
    return carla, daan, Period(dt.date(2026, 3, 9), dt.date(2026, 3, 15))


def test_utilisation_is_booked_over_working_time_less_exceptions(placer, week):
    carla, daan, period = week
    laser = Device.objects.get(name="Laser")
    placer.put(at(2026, 3, 9, 9), minutes=60)
    placer.put(at(2026, 3, 10, 9), S.BOOKED, minutes=60, device=laser)
    placer.put(at(2026, 3, 12, 9), S.CHECKED_IN, minutes=45)
    placer.put(at(2026, 3, 13, 9), S.CANCELLED, minutes=60)  # freed its time
    placer.put(at(2026, 3, 9, 14), minutes=90, practitioner=daan)

    table = figures.utilisation(period)

    rows = {(row["kind"], row["name"]): row for row in table.rows}
    carla_row = rows[("Practitioner", str(carla))]
    # Mon, Tue, Fri 8 h each, Wednesday off, Thursday 4 h.
    assert carla_row["available"] == 3 * 480 + 240
    assert carla_row["booked"] == 60 + 60 + 45
    assert carla_row["utilisation"] == pytest.approx(165 / 1680)
    assert rows[("Practitioner", str(daan))]["available"] == 360
    assert rows[("Practitioner", str(daan))]["utilisation"] == pytest.approx(90 / 360)
    # The clinic is open when someone works: Monday 9-19, Tuesday and Friday 9-17, Thursday 9-13.
    room = rows[("Room", "Room 1")]
    assert room["available"] == 600 + 480 + 240 + 480
    assert room["booked"] == 60 + 60 + 45 + 90
    assert rows[("Device", "Laser")]["booked"] == 60
    assert rows[("Device", "Laser")]["utilisation"] == pytest.approx(60 / 1800)


def test_utilisation_leaves_out_what_is_retired_and_unused(placer, week):
    carla, daan, period = week
    Practitioner.objects.filter(pk=daan.pk).update(active=False)
    Room.objects.create(name="Old room", active=False)
    table = figures.utilisation(period)
    names = {row["name"] for row in table.rows}
    assert str(daan) not in names and "Old room" not in names
    assert str(carla) in names


@pytest.fixture
def now():
    return timezone.make_aware(dt.datetime(2026, 6, 30, 12))


def course(modality, *, status=TreatmentPlan.Status.ACTIVE, started: dt.datetime):
    plan = PlanFactory(modality=modality, session_count=2, status=status)
    TreatmentPlan.objects.filter(pk=plan.pk).update(created_at=started)
    plan.refresh_from_db()
    return plan


def test_courses_completed_stopped_idle_and_running(placer, now):
    micro = ModalityFactory(kind="microdermabrasion")
    laser = ModalityFactory(kind="laser_resurfacing")
    days_ago = lambda n: now - dt.timedelta(days=n)  # noqa: E731
    A = TreatmentPlan.Status
    course(micro, status=A.COMPLETED, started=days_ago(150))
    course(micro, status=A.COMPLETED, started=days_ago(140))
    course(micro, status=A.STOPPED, started=days_ago(130))
    idle = course(micro, started=days_ago(100))  # last done 80 days ago, nothing ahead
    placer.put(days_ago(80), session=idle.sessions.get(number=1))
    ahead = course(micro, started=days_ago(100))  # nothing lately, but booked ahead
    placer.put(now + dt.timedelta(days=3), S.BOOKED, session=ahead.sessions.get(number=1))
    recent = course(micro, started=days_ago(100))  # done 10 days ago
    placer.put(days_ago(10), session=recent.sessions.get(number=1))
    course(micro, started=days_ago(20))  # new: not booked yet, but not idle for 60 days either
    course(laser, status=A.STOPPED, started=days_ago(50))
    course(micro, status=A.COMPLETED, started=days_ago(400))  # started before the period

    period = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30), idle_days=60)
    table = figures.courses(period, now=now)

    micro_row = row_of(table, "modality", micro.name)
    assert micro_row["started"] == 7
    assert (micro_row["completed"], micro_row["stopped"], micro_row["idle"]) == (2, 1, 1)
    assert micro_row["running"] == 3
    assert micro_row["completion_rate"] == pytest.approx(2 / 7)
    assert micro_row["drop_out_rate"] == pytest.approx(2 / 7)
    laser_row = row_of(table, "modality", laser.name)
    assert (laser_row["started"], laser_row["drop_out_rate"]) == (1, 1.0)
    assert table.total["started"] == 8

    # Idle for 90 days: the course last seen 80 days ago is running again.
    longer = figures.courses(Period(period.first_day, period.last_day, idle_days=90), now=now)
    assert row_of(longer, "modality", micro.name)["idle"] == 0
    assert table.column("idle").label == "Idle 60+ days"


def test_the_waiting_list_filled_one_of_four_freed_times(placer):
    """Four times freed in March were offered to the list (two offers for the first), one was
    booked from it; a time freed in April is outside the period."""
    from scheduling.models import WaitlistEntry, WaitlistOffer, WaitlistOpening

    practitioner = placer.practitioner.user
    openings = []
    for day, status in ((3, "filled"), (10, "open"), (17, "open"), (24, "open"), (40, "open")):
        opening = WaitlistOpening.objects.create(
            starts_at=at(2026, 3, 1) + dt.timedelta(days=day + 1),
            practitioner=practitioner,
            status=status,
        )
        WaitlistOpening.objects.filter(pk=opening.pk).update(
            created_at=at(2026, 3, 1) + dt.timedelta(days=day)
        )
        openings.append(opening)
    for _ in range(2):
        session = placer.session()
        entry = WaitlistEntry.objects.create(session=session, patient=session.patient)
        WaitlistOffer.objects.create(
            opening=openings[0], entry=entry, expires_at=timezone.now() + dt.timedelta(hours=1)
        )

    table = figures.waitlist_fill(MARCH)

    march = row_of(table, "month", "Mar 2026")
    assert (march["freed"], march["offers"], march["filled"]) == (4, 2, 1)
    assert march["fill_rate"] == 0.25
    assert table.total["fill_rate"] == 0.25
    assert table.column("fill_rate").shown(march["fill_rate"]) == "25.0 %"
