from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from people.demo import DEMO_PASSWORD
from scheduling.models import Device, Practitioner, Room, WorkingHours
from tests.scheduling.factories import ModalityFactory
from treatments.models import Modality, Session


def test_the_demo_calendar_loads_twice(db):
    ModalityFactory(kind="microdermabrasion")
    ModalityFactory(kind="laser_peel")
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    assert set(Practitioner.objects.values_list("user__username", flat=True)) == {
        "clinician",
        "clinician2",
    }
    assert Room.objects.count() == 3 and Device.objects.count() == 1
    assert WorkingHours.objects.count() == 10
    # qualified for every modality in the (seeded) catalogue
    assert Practitioner.objects.first().modalities.count() == Modality.objects.count() >= 2


def test_the_demo_books_the_courses_upcoming_sessions_once(db):
    from scheduling.models import Reservation
    from treatments.models import Session

    call_command("load_demo", stdout=StringIO())
    upcoming = Session.objects.filter(patient__user__username="alice").exclude(
        status=Session.Status.COMPLETED
    )
    assert upcoming.count() == 3
    assert set(upcoming.values_list("status", flat=True)) == {Session.Status.BOOKED}
    held = Reservation.objects.filter(active=True).count()
    assert held >= 3 * upcoming.count()  # practitioner, room and patient for each
    call_command("load_demo", stdout=StringIO())
    assert Reservation.objects.filter(active=True).count() == held


def test_load_demo_prints_every_login_the_readme_lists(db):
    out = StringIO()
    call_command("load_demo", stdout=out)
    printed = {line.split()[-1] for line in out.getvalue().splitlines()[1:] if line.strip()}
    readme = (settings.BASE_DIR / "README.md").read_text()
    # "login per role (password `...`): `frontdesk`, `clinician`, ... `alice` and `bob`."
    sentence = readme[readme.index("login per role") :].split(".")[0]
    listed = set(re.findall(r"`([a-z0-9]+)`", sentence)) - {DEMO_PASSWORD}
    assert {"bob", "alice", "frontdesk"} <= listed
    assert listed <= printed
    assert "clinician2" in printed  # the second practitioner signs in too


@pytest.mark.parametrize(
    "today", [dt.date(2026, 12, 6), dt.date(2026, 12, 5), dt.date(2026, 12, 7)]
)
def test_demo_sessions_fall_within_the_practitioners_working_hours(db, today):
    # On a Sunday, "six weeks ago, then every fortnight" were all Sundays: a closed clinic.
    noon = dt.datetime.combine(today, dt.time(12), tzinfo=ZoneInfo(settings.TIME_ZONE))
    with time_machine.travel(noon, tick=False):
        call_command("load_demo", stdout=StringIO())
    sessions = Session.objects.filter(starts_at__isnull=False).select_related("practitioner")
    assert sessions.filter(status=Session.Status.COMPLETED).count() == 3
    for session in sessions:
        start, end = timezone.localtime(session.starts_at), timezone.localtime(session.ends_at)
        hours = WorkingHours.objects.filter(
            practitioner__user=session.practitioner,
            weekday=start.weekday(),
            starts__lte=start.time(),
            ends__gte=end.time(),
        )
        assert hours.exists(), f"session {session.number} on {start:%A %d %B %H:%M}"
