"""Who performed a session: the booked practitioner by default, a colleague when the record
says so; shown to staff, to the patient and in the API."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import StaffFactory
from tests.records import arrive
from treatments.models import Session

from .conftest import at

TODAY = datetime.date(2026, 3, 10)


@pytest.fixture
def daan(db):
    return StaffFactory(username="daan", first_name="Daan", last_name="Bakker", role="Clinician")


@pytest.fixture
def screened(client, alice, make_plan, clinician_user, daan):
    """Alice's session booked with Daan, checked in, screened clear today by Carla."""
    with time_machine.travel(at(TODAY, 9), tick=False):
        session = make_plan(alice, "microdermabrasion", TODAY).sessions.get(number=1)
        Session.objects.filter(pk=session.pk).update(practitioner=daan)
        arrive(session, timezone.now())
        client.force_login(clinician_user)
        client.post(reverse("treatments:session_screen", args=[session.pk]), {})
        yield session


def record_form(session, **extra) -> dict:
    return {"depth_level": session.depth_level_id, "areas": [session.plan.body_area_id], **extra}


def test_the_record_form_offers_those_who_treat_with_the_practitioner_chosen(
    client, screened, daan, clinician_user, front_desk_user
):
    html = client.get(reverse("treatments:session_record", args=[screened.pk])).content.decode()
    assert "Performed by" in html
    assert f'<option value="{daan.pk}" selected>Daan Bakker</option>' in html
    assert f'<option value="{clinician_user.pk}">' in html
    assert f'<option value="{front_desk_user.pk}"' not in html  # the desk does not treat


def test_carla_records_the_session_she_performed_and_alice_reads_her_name(
    client, screened, clinician_user, alice, daan
):
    # "By Daan Bakker" was shown for a session Carla recorded: the record names who treated.
    response = client.post(
        reverse("treatments:session_record", args=[screened.pk]),
        record_form(screened, performed_by=clinician_user.pk),
    )
    assert response.status_code == 302
    screened.refresh_from_db()
    assert screened.performed_by == clinician_user and screened.practitioner == daan
    staff_page = client.get(response.url).content.decode()
    carla = clinician_user.get_full_name()
    assert f"<dt>Performed by</dt><dd>{carla}</dd>" in staff_page
    client.force_login(alice.user)
    history = client.get(reverse("portal:history")).content.decode()
    assert f"<dt>By</dt>\n    <dd>{carla}</dd>" in history
    assert "Daan Bakker" not in history


def test_left_to_its_default_the_performer_is_the_booked_practitioner(client, screened, daan):
    response = client.post(
        reverse("treatments:session_record", args=[screened.pk]), record_form(screened)
    )
    assert response.status_code == 302
    screened.refresh_from_db()
    assert screened.performed_by == daan


def test_a_performer_who_does_not_treat_is_refused_with_the_reason(
    client, screened, front_desk_user
):
    url = reverse("treatments:session_record", args=[screened.pk])
    response = client.post(url, record_form(screened, performed_by=front_desk_user.pk))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    api = client.post(
        f"/api/sessions/{screened.pk}/record/",
        {"performed_by": front_desk_user.pk},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert "does not treat patients" in api.json()["performed_by"][0]
    screened.refresh_from_db()
    assert screened.status == Session.Status.CHECKED_IN and screened.performed_by is None


def test_the_api_records_and_shows_who_performed_the_session(client, screened, clinician_user):
    response = client.post(
        f"/api/sessions/{screened.pk}/record/",
        {"performed_by": clinician_user.pk},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["performed_by"] == clinician_user.pk
    assert client.get(f"/api/sessions/{screened.pk}/").json()["performed_by"] == clinician_user.pk
