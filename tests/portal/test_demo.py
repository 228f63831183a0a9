"""`make run`'s demo: Alice's portal has her upcoming sessions booked and a released comparison."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.urls import reverse

from people.models import Patient
from photos.models import Comparison, Status
from treatments.models import Session


def test_the_demo_gives_alice_a_portal_worth_showing(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=io.StringIO())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=io.StringIO())
    alice = Patient.objects.get(user__username="alice")
    sessions = Session.objects.filter(patient=alice)
    assert sessions.filter(status=Session.Status.COMPLETED).count() == 3
    assert sessions.filter(status=Session.Status.BOOKED).count() == 3  # once, not per load
    released = Comparison.objects.for_patient(alice).released()
    assert released.count() == 1
    assert released.get().sheet_status == Status.READY
    client.force_login(alice.user)
    html = client.get(reverse("portal:home")).content.decode()
    assert "3 of 6 sessions done" in html
    assert "Details, cancel or change" in html
    assert reverse("portal:comparison", args=[released.get().pk]) in html
    assert 'style="' not in html
