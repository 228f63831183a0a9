from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from scheduling.models import Device, Practitioner, Room, WorkingHours
from tests.scheduling.factories import ModalityFactory
from treatments.models import Modality


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
